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
from bertstudio.runs.folder import (CARD_FILE, CONFIG_FILE, EVENTS_FILE, MODEL_DIR,
                             PREDICTIONS_FILE, RunFolder, RunSummary, read_run)
from bertstudio.ui.history import FollowedRun
from bertstudio.ui.render import number, shorten

MISCLASSIFIED_SHOWN = 200
LEADING_COLUMNS = ("gold", "predicted", "confidence")


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

    @property
    def confusion(self) -> list[list[int]]:
        return self.metrics.get("confusion_matrix") or []


def read_results(run_dir: str | Path) -> RunResults:
    from bertstudio.training.checkpoints import checkpoint_metrics

    run = RunFolder(Path(run_dir))
    record = read_run(run.path)
    if record is None:
        return RunResults(run_id=run.run_id, status="damaged", metrics={},
                          damage=f"This run has no {CONFIG_FILE} any more; press Refresh.")
    metrics, step = record.metrics, None
    if not metrics and not record.damage and (saved := checkpoint_metrics(run.path)) is not None:
        step, metrics = saved  # cut off before the end: the evaluation its checkpoint was taken after
    headers, rows, total = misclassified_rows(run.file(PREDICTIONS_FILE))
    card = run.file(CARD_FILE)
    return RunResults(run_id=run.run_id, status=record.status, metrics=metrics,
                      labels=list(metrics.get("labels") or record.labels or []),
                      misclassified_headers=headers, misclassified=rows, misclassified_total=total,
                      card=card if card.exists() else None, damage=record.damage,
                      resumable=record.resumable, checkpoint_step=step)


def misclassified_rows(path: Path, limit: int = MISCLASSIFIED_SHOWN) -> tuple[list[str], list[list[str]], int]:
    """Validation rows the model got wrong, most confident mistakes first (they teach the most)."""
    if not path.exists():
        return [], [], 0
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        if "gold" not in header or "predicted" not in header:
            return [], [], 0
        gold, predicted = header.index("gold"), header.index("predicted")
        wrong = [row for row in reader if len(row) == len(header) and row[gold] != row[predicted]]
    if "confidence" in header:
        at = header.index("confidence")
        wrong.sort(key=lambda row: -_float(row[at]))
    # The short verdict columns first and the long texts after them: a wide text first pushed
    # gold, predicted and confidence off the right edge of the table.
    order = ([header.index(name) for name in LEADING_COLUMNS if name in header]
             + [i for i, name in enumerate(header) if name not in LEADING_COLUMNS])
    rows = [[shorten(row[i]) for i in order] for row in wrong[:limit]]
    return [header[i] for i in order], rows, len(wrong)


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


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
            rows.append([spec.metadata.get("label", spec.name), _setting(value)])
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


def run_choice_label(summary: RunSummary) -> str:
    """How a run reads in a dropdown: date, model, data and the headline score."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(summary.created))
    accuracy = summary.metrics.get("accuracy")
    score = f" · accuracy {accuracy:.3f}" if isinstance(accuracy, (int, float)) else ""
    score += " · damaged" if summary.damage else ""
    return f"{when} · {Path(summary.model).name or summary.model} · {summary.data or 'data'}{score} · {summary.run_id[-12:]}"


RUNS_HEADERS = ["started", "status", "model", "data", "labels", "accuracy", "macro F1", "run"]


def runs_rows(summaries: list[RunSummary]) -> list[list[str]]:
    rows = []
    for s in summaries:
        rows.append([time.strftime("%Y-%m-%d %H:%M", time.localtime(s.created)), s.status_text,
                     Path(s.model).name or s.model, s.data or "—", str(len(s.labels) or "—"),
                     number(s.metrics.get("accuracy")), number(s.metrics.get("macro_f1")), s.run_id])
    return rows
