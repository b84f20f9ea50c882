"""A run folder read back for display: results, misclassified rows, settings, downloads; no gradio.

The Train tab (when a run ends) and the Runs tab (when one is opened) show the same things, so
both call these functions on the run folder rather than keeping their own copies.
"""

from __future__ import annotations

import csv
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertstudio.config import field_specs
from bertstudio.errors import StudioError
from bertstudio.runs.folder import (CARD_FILE, CONFIG_FILE, EVENTS_FILE, MODEL_DIR,
                             PREDICTIONS_FILE, RunFolder, RunSummary, read_run)
from bertstudio.tasks.wording import metric_name
from bertstudio.ui.history import FollowedRun
from bertstudio.ui.misses import MISCLASSIFIED_SHOWN, misclassified_rows_of
from bertstudio.ui.results_text import LEARNED_NOTHING, number
from bertstudio.ui.task_views import DEFAULT_TASK, all_views, get_view
from bertstudio.ui.task_views.base import TaskView



@dataclass
class RunResults:
    """What a finished (or stopped) run shows: metrics, per-class numbers, errors and downloads."""

    run_id: str
    status: str
    metrics: dict[str, Any]
    labels: list[str] = field(default_factory=list)
    misclassified_headers: list[str] = field(default_factory=list)
    misclassified: list[list[str]] = field(default_factory=list)
    misclassified_total: int = 0
    card: Path | None = None
    damage: str | None = None  # the sentence naming the run file that could not be read
    resumable: bool = False
    checkpoint_step: int | None = None  # set when `metrics` are those of the last checkpoint's evaluation
    task: str = DEFAULT_TASK
    gold: list[float] = field(default_factory=list)       # regression: each validation row's true value
    predicted: list[float] = field(default_factory=list)  # ... and its prediction, for the scatter
    warning: str | None = None  # the sentence the run ended with when its model learned nothing useful

    @property
    def confusion(self) -> list[list[int]]:
        return self.metrics.get("confusion_matrix") or []

    @property
    def target(self) -> str:
        """The predicted column's name (a score's one output is named after it), for the scatter's axes."""
        return self.labels[0] if len(self.labels) == 1 else "value"

    @property
    def view(self) -> TaskView:
        return get_view(self.task)


def misses_title(results: RunResults) -> str:
    """The mistakes table's title, saying in what order they come (confident ones first when
    the predictions file says how confident each row was)."""
    title = results.view.misses_title
    if results.view.by_confidence and "confidence" in results.misclassified_headers:
        title += " (most confident mistakes first)"
    return title


def results_figure(results: RunResults):
    """The chart beside the results table: the confusion matrix (one label per row), F1 per label
    (several), or predicted against true values (a score)."""
    return results.view.results_figure(results)


def task_of(record: Any) -> str:
    """A run's task: its config's, else its data record's; a run from before tasks is single-label."""
    config = getattr(record, "config", None)
    for task in (getattr(config, "task", None), (getattr(record, "data_record", None) or {}).get("task")):
        if isinstance(task, str) and task and task != "auto":
            return task
    return DEFAULT_TASK


def read_results(run_dir: str | Path) -> RunResults:
    from bertstudio.runs.checkpoint_state import checkpoint_metrics

    run = RunFolder(Path(run_dir))
    record = read_run(run.path)
    if record is None:
        return RunResults(run_id=run.run_id, status="damaged", metrics={},
                          damage=f"This run has no {CONFIG_FILE} any more; press Refresh.")
    metrics, step = record.metrics, None
    if not metrics and not record.damage and (saved := checkpoint_metrics(run.path)) is not None:
        step, metrics = saved  # cut off before the end: the evaluation its checkpoint was taken after
    task = task_of(record)
    header, table = _read_predictions(run.file(PREDICTIONS_FILE))
    view = get_view(task)
    headers, rows, total = view.misses(header, table)
    gold, predicted = view.value_pairs(header, table)
    card = run.file(CARD_FILE)
    return RunResults(run_id=run.run_id, status=record.status, metrics=metrics,
                      labels=list(metrics.get("labels") or record.labels or []),
                      misclassified_headers=headers, misclassified=rows, misclassified_total=total,
                      card=card if card.exists() else None, damage=record.damage,
                      resumable=record.resumable, checkpoint_step=step, task=task, gold=gold, predicted=predicted,
                      warning=record.warning)


def _read_predictions(path: Path) -> tuple[list[str], list[list[str]]]:
    """predictions.csv's header and its whole rows (a row cut short is left out)."""
    if not path.exists():
        return [], []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        return header, [row for row in reader if len(row) == len(header)]


def misclassified_rows(path: Path, limit: int = MISCLASSIFIED_SHOWN) -> tuple[list[str], list[list[str]], int]:
    """Validation rows the model got wrong, most confident mistakes first (they teach the most)."""
    return misclassified_rows_of(*_read_predictions(path), limit=limit)


def history_of(run_dir: str | Path) -> FollowedRun:
    """A run's charts rebuilt from its events.jsonl, read from the start."""
    followed = FollowedRun(run_id=Path(run_dir).name, events_path=str(Path(run_dir) / EVENTS_FILE))
    followed.poll()
    return followed


def settings_rows(run_dir: str | Path) -> list[list[str]]:
    """The run's config as (setting, value) rows with the field labels people read in the form."""
    record = read_run(run_dir)
    config = record.config.to_dict() if record is not None and record.config is not None else {}
    rows = []
    for spec in field_specs():
        if spec.name in config:
            value = config[spec.name]
            if spec.name in ("data", "validation_data") and value:
                value = Path(value).name
            value = _setting(value)
            if spec.name == "task" and value == "auto":  # say what "auto" became for this run
                value = f"auto (detected: {TASK_WORDS.get(task_of(record), task_of(record))})"
            rows.append([spec.metadata.get("label", spec.name), value])
    return rows


def _setting(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def model_zip(run_dir: str | Path, downloads: Path) -> Path | None:
    """The run's model/ folder as <run-id>-model.zip in `downloads`, made once and reused."""
    run = RunFolder(Path(run_dir))
    model = run.file(MODEL_DIR)
    if not (model / "config.json").exists():
        return None
    target = downloads / f"{run.run_id}-model.zip"
    if target.exists() and target.stat().st_mtime >= model.stat().st_mtime:
        return target
    downloads.mkdir(parents=True, exist_ok=True)
    partial = shutil.make_archive(str(downloads / f".{run.run_id}-{time.time_ns()}"), "zip",
                                  root_dir=model.parent, base_dir=MODEL_DIR)
    Path(partial).replace(target)  # whole or absent, even if two pages ask at once
    return target


def card_copy(run_dir: str | Path, downloads: Path) -> Path | None:
    """The run's model card copied to <run-id>-README.md in `downloads`."""
    run = RunFolder(Path(run_dir))
    card = run.file(CARD_FILE)
    if not card.is_file():
        return None
    target = downloads / f"{run.run_id}-{CARD_FILE}"
    if not target.exists() or target.stat().st_mtime < card.stat().st_mtime:
        downloads.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(card, target)
    return target


def download_files(run_dir: str | Path, downloads: Path) -> list[str]:
    """What a run offers to download (its model zip and model card), always as copies in the
    visitor's own `downloads` folder: the page never hands out a path inside the runs folder."""
    return [str(path) for path in (model_zip(run_dir, downloads), card_copy(run_dir, downloads)) if path]


def headline(summary: RunSummary) -> tuple[str, Any]:
    """The run's headline metric (the one its best model was chosen by) and its value; a run
    from before tasks reads as the single-label run it was."""
    task = task_of(summary)
    name = getattr(summary.config, "metric_for_best", None) or "auto"
    if name == "auto" or name not in summary.metrics:
        try:
            from bertstudio.tasks.registry import get_task

            name = get_task(task).headline
        except StudioError:  # a task this copy does not know (a newer run): macro-F1, as before tasks
            name = "macro_f1"
    return name, summary.metrics.get(name)


TASK_WORDS = {name: view.words for name, view in all_views().items()}  # "multi-label"; the Runs tab's too


def run_choice_label(summary: RunSummary) -> str:
    """How a run reads in a dropdown: date, its name, model, data and the headline score."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(summary.created))
    name, value = headline(summary)
    score = f" · {metric_name(name)} {value:.3f}" if isinstance(value, (int, float)) else ""
    task = task_of(summary)
    kind = f" · {TASK_WORDS.get(task, task)}" if task != DEFAULT_TASK else ""
    score += " · damaged" if summary.damage else ""
    score += f" · {LEARNED_NOTHING}" if getattr(summary, "warning", None) else ""
    named = f" · {run_name}" if (run_name := _run_name(summary)) else ""
    return (f"{when}{named} · {Path(summary.model).name or summary.model} · {summary.data or 'data'}{kind}{score}"
            f" · {summary.run_id[-12:]}")


# What a run is and how well it did first: on a phone the table scrolls sideways from the left.
def _config_dict(summary: RunSummary) -> dict[str, Any] | None:
    """The run's settings as a dictionary, or None for a run without a readable config."""
    to_dict = getattr(getattr(summary, "config", None), "to_dict", None)
    return to_dict() if callable(to_dict) else None


def _run_name(summary: RunSummary) -> str | None:
    config = getattr(summary, "config", None)
    return getattr(config, "run_name", None) or None


# Runs of one file are told apart by their name and the settings that differ between them.
RUNS_HEADERS = ["started", "status", "task", "metric", "score", "name", "settings that differ", "model", "data",
                "labels", "run"]


def runs_rows(summaries: list[RunSummary]) -> list[list[str]]:
    """One row per run: its task and headline metric (name and value), its name and what sets it
    apart from the other runs of the same file, among the facts."""
    from bertstudio.ui.run_diff import data_key, differences_by_run

    differs = differences_by_run((s.run_id, data_key(None, s.data), _config_dict(s)) for s in summaries)
    rows = []
    for s in summaries:
        task = task_of(s)
        name, value = headline(s)
        labels = get_view(task).labels_cell(s.labels)
        status = f"{s.status_text} · {LEARNED_NOTHING}" if getattr(s, "warning", None) else s.status_text
        rows.append([time.strftime("%Y-%m-%d %H:%M", time.localtime(s.created)), status,
                     TASK_WORDS.get(task, task), metric_name(name), number(value), _run_name(s) or "—",
                     differs[s.run_id], Path(s.model).name or s.model, s.data or "—", labels, s.run_id])
    return rows
