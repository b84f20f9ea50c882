"""What scripts and agents may call: the Gradio API (`gradio_client`) and, with `app.py --mcp`, the
same endpoints as MCP tools. Each endpoint's visibility is chosen here, on purpose.

The page's own events are the page's: they take the page's components as they stand (forms of
fifty values, a browser's memory) and are marked "private", so they are neither listed in the API
page nor offered as tools. Three endpoints are published with typed, documented signatures:

- `tokenize`: a text's WordPiece pieces, ids and the truncation cut, as a model reads it;
- `predict`: a finished run's prediction for a text (or a pair);
- `list_runs`: the runs, newest first, with status, task and headline score.

Starting a training is never published: it is the page's to start, with its limits and queue. On a
deployment that keeps each visitor's runs private (a Space), `predict` and `list_runs` are not
published either: an API caller has no browser, so no owner to show runs to.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import gradio as gr

from bertstudio.errors import StudioError

if TYPE_CHECKING:
    from bertstudio.ui.app_settings import AppSettings

PUBLISHED = ("tokenize", "predict", "list_runs")
PREDICTORS_KEPT = 2  # loaded runs kept warm for repeated calls; a model each


class StudioApi:
    """The published endpoints over one studio's runs folder and limits."""

    def __init__(self, settings: "AppSettings") -> None:
        self._runs_dir = Path(settings.runs_dir)
        self._limits = settings.limits
        self._lock = threading.Lock()
        self._predictors: dict[tuple[str, float], Any] = {}

    # --- the endpoints (their docstrings are the API page's and the MCP tools' descriptions) ------

    def tokenize(self, text: str, model: str = "bundled", max_length: int = 128,
                 truncation: Literal["start", "end", "head_tail"] = "start", text_pair: str = "") -> dict:
        """Tokenize a text as a BERT model reads it: its WordPiece pieces and ids, and what a max length cuts.

        Args:
            text: the text to tokenize.
            model: 'bundled' (works offline), a Hugging Face model id, or a local model folder.
            max_length: tokens kept, special tokens included (8 to 512).
            truncation: which end is kept when the text is longer: 'start' keeps the start, 'end' the end, 'head_tail' both ends.
            text_pair: a second text for pair tasks (paraphrase, entailment); empty for none.
        Returns:
            pieces (text, id, segment, kept), length, kept_length, unknown_count.
        """
        from bertstudio.config import TrainConfig
        from bertstudio.models import load_tokenizer
        from bertstudio.text.token_preview import preview

        def answer() -> dict:
            if self._limits is not None:
                self._limits.check_model(model)  # the models a shared demo offers, as its page does
            TrainConfig(model=model, max_length=max_length, truncation=truncation).validate()
            result = preview(load_tokenizer(model), text, text_pair or None, max_length=max_length,
                             truncation=truncation)
            return result.to_dict()

        return _in_words(answer)

    def predict(self, run_id: str, text: str, text_pair: str = "") -> dict:
        """Predict with a finished run: the label (or tags, or value) its model gives a text.

        Args:
            run_id: the run's id, as list_runs gives it.
            text: the text to predict for.
            text_pair: the second text, for a run trained on pairs; empty otherwise.
        Returns:
            label, confidence and probabilities per class; labels (several tags) or value (a score) by the run's task.
        """
        def answer() -> dict:
            predictor = self._predictor(run_id)
            (prediction,) = predictor.predict([text], [text_pair] if text_pair else None)
            return {"run_id": run_id, **prediction.to_dict()}

        return _in_words(answer)

    def list_runs(self) -> list[dict]:
        """The studio's runs, newest first.

        Returns:
            for each run: run_id, name, status, task, started (ISO time), model, data (the training file's name), headline (the task's metric) and headline_value, learned_nothing, labels.
        """
        return _in_words(lambda: _runs(self._runs_dir))

    # --- helpers ---------------------------------------------------------------------------------

    def _predictor(self, run_id: str) -> Any:
        from bertstudio.predict import Predictor
        from bertstudio.runs.folder import is_safe_run_id, read_run

        record = read_run(self._runs_dir / run_id) if is_safe_run_id(run_id) else None
        if record is None:
            raise StudioError(f"There is no run '{run_id}'; list_runs gives the ids there are.")
        if not record.has_model:
            raise StudioError(f"Run '{run_id}' has no model to predict with (it is {record.status_text}).")
        model_file = Path(record.path) / "model"
        key = (run_id, model_file.stat().st_mtime if model_file.exists() else 0.0)
        with self._lock:  # one load per run, however many callers ask at once
            if key not in self._predictors:
                while len(self._predictors) >= PREDICTORS_KEPT:
                    self._predictors.pop(next(iter(self._predictors)))
                self._predictors[key] = Predictor.load(record.path)
            return self._predictors[key]


def _runs(runs_dir: Path) -> list[dict]:
    from datetime import datetime, timezone

    from bertstudio.runs.folder import list_runs
    from bertstudio.runs.summary import run_summary

    # Without the server's own path: a caller names a run by its id.
    return [{**{k: v for k, v in run_summary(record).items() if k != "path"},
             "name": getattr(record.config, "run_name", None),
             "started": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="seconds"),
             "labels": list(record.labels)} for record in list_runs(runs_dir)]


def _in_words(answer) -> Any:
    """A mistake reaches the caller as its plain sentence (gr.Error), never as a traceback."""
    try:
        return answer()
    except StudioError as exc:
        raise gr.Error(exc.message, print_exception=False) from None


def publish(demo: gr.Blocks, settings: "AppSettings") -> list[str]:
    """Mark every event of the page private, then publish the endpoints this deployment allows.
    Call inside `with demo:`, after the page is wired. Returns the published names."""
    for fn in demo.fns.values():
        fn.api_visibility = "private"
    api = StudioApi(settings)
    names = ["tokenize"]
    if not settings.private_runs:
        names += ["predict", "list_runs"]
    for name in names:
        gr.api(getattr(api, name), api_name=name, api_visibility="public")
    return names
