"""The model picker's list: the curated models, then the user's own adapted models (finished
continued-pretraining runs), each labelled in plain words and valued by its run folder, which
`resolve_model` accepts as a model.

On a shared deployment with an allowed-models list only that list is offered: the hosted model
check accepts no folder, so an adapted run there could be picked but never trained from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from bertstudio.ui import render

ADAPTED_PREFIX = "Adapted to your texts: "


def adapted_label(record: Any) -> str:
    """'Adapted to your texts: tickets (from bundled, 2 epochs)'; a stopped run says so."""
    config = record.config
    name = config.run_name or record.run_id
    base = _base_name(config.model)
    epochs = f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}"
    stopped = ", stopped early" if record.status == "stopped" else ""
    return f"{ADAPTED_PREFIX}{name} (from {base}, {epochs}{stopped})"


def _base_name(model: str) -> str:
    """A base model as a person names it: a local folder by its last part, a Hub id whole."""
    return Path(model).name if Path(model).expanduser().is_absolute() else model


def adapted_choices(runs_dir: str | Path | None, owner_filter: Any = None) -> list[tuple[str, str]]:
    """(label, run folder) of each adapted run in `runs_dir`, newest first; `owner_filter(run_id)`
    keeps only a visitor's own runs where runs are private."""
    from bertstudio.runs.lineage import adapted_runs

    if runs_dir is None:
        return []
    return [(adapted_label(record), record.path) for record in adapted_runs(runs_dir)
            if owner_filter is None or owner_filter(record.run_id)]


def model_choices(allowed: tuple[str, ...] | None = None, runs_dir: str | Path | None = None,
                  owner_filter: Any = None) -> list[tuple[str, str]]:
    from bertstudio.models import CURATED_MODELS

    if allowed is not None:
        return [(name, name) for name in allowed]
    return [(name, name) for name, _ in CURATED_MODELS] + adapted_choices(runs_dir, owner_filter)


def model_description(name: str | None) -> str:
    from bertstudio.models import CURATED_MODELS
    from bertstudio.runs.lineage import pretraining_run_of

    for model, about in CURATED_MODELS:
        if model == name:
            return render.md_escape(about)
    adapted = pretraining_run_of(name) if name else None
    if adapted is not None:
        return render.md_escape(_adapted_words(adapted[0]))
    return "A model id from the Hugging Face Hub or a local model folder." if name else ""


def _adapted_words(folder: Path) -> str:
    from bertstudio.runs.folder import read_run
    from bertstudio.runs.lineage import adapted_texts

    record = read_run(folder)
    config = record.config
    texts = adapted_texts(record)
    loss = record.metrics.get("perplexity") if isinstance(record.metrics, dict) else None
    return (f"Your own model: {_base_name(config.model)} adapted to your texts by continued pretraining "
            f"(run {config.run_name or record.run_id}"
            + (f", {texts:,} texts" if texts is not None else "")
            + f", {config.epochs} epoch{'s' if config.epochs != 1 else ''}"
            + (f", perplexity {loss:.1f}" if isinstance(loss, (int, float)) else "")
            + "). Training from it fine-tunes it on your labels.")


def refresh(runs_dir: str | Path, allowed: tuple[str, ...] | None, private: bool, memory_value: Any) -> Any:
    """The picker's choices anew (a pretraining run may have ended since the page was built).
    The value is left alone, so the tokens are not measured again for the same model; a typed
    model or a folder stays, as the picker takes custom values off a shared deployment."""
    owner_filter = None
    if private:
        from bertstudio.hosting import owns
        from bertstudio.ui.session import BrowserMemory

        owner = BrowserMemory.from_value(memory_value).owner
        owner_filter = lambda run_id: bool(owner) and owns(runs_dir, run_id, owner)  # noqa: E731
    return gr.update(choices=model_choices(allowed, runs_dir, owner_filter))


def wire(page: Any, demo: Any, model: Any, runs_dir: str | Path, allowed: tuple[str, ...] | None, private: bool,
         memory: Any) -> None:
    """Refresh the picker when the page loads and whenever the Tokenizer tab is opened."""
    from functools import partial

    update = partial(refresh, runs_dir, allowed, private)
    for trigger in (demo.load, page.select):
        trigger(update, memory, model, show_progress="hidden")
