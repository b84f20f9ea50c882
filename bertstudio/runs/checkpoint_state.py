"""A run folder's checkpoint as files: where it lies, its loop state and reading that back.

`runs/<id>/checkpoint/` holds one complete checkpoint; `trainer_state.json`, written last, marks
it complete. Listings, resume and the Runs tab ask here which step a run can carry on from;
writing a checkpoint and restoring it into a model is `training/checkpoints.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "trainer_state.json"
BEST_WEIGHTS_FILE = "best_model.safetensors"
TMP_DIR = ".checkpoint.tmp"  # the next checkpoint while it is written
OLD_DIR = ".checkpoint.old"  # the previous one while the new one is swapped in


@dataclass
class LoopState:
    """Everything the loop needs, besides what Accelerate saves, to carry on as if never stopped."""

    step: int
    epoch: int
    batches_done_in_epoch: int  # the data position: batches of `epoch` already trained on
    best_metric: float | None = None
    best_step: int | None = None
    evals_without_improvement: int = 0
    samples_seen: int = 0
    tokens_seen: int = 0
    train_seconds: float = 0.0
    best_eval: dict[str, Any] | None = field(default=None)  # metrics and predictions of the best weights
    # Metrics of the evaluation this checkpoint was taken after, so an interrupted run can say
    # how it stood (None in checkpoints written before this field existed).
    last_metrics: dict[str, Any] | None = None


def checkpoint_dir(run_path: str | Path) -> Path | None:
    """The complete checkpoint of a run, if it has one (also after a crash mid-swap)."""
    run_path = Path(run_path)
    for name in (CHECKPOINT_DIR, OLD_DIR):
        if (run_path / name / STATE_FILE).exists():
            return run_path / name
    return None


def checkpoint_step(run_path: str | Path) -> int | None:
    """The step of the run's complete checkpoint, or None when it has none (or it is unreadable)."""
    state = read_state(run_path)
    return state.step if state is not None else None


def checkpoint_metrics(run_path: str | Path) -> tuple[int, dict[str, Any]] | None:
    """(step, metrics) of the evaluation the run's checkpoint was taken after, if it has one."""
    state = read_state(run_path)
    if state is None:
        return None
    metrics = state.last_metrics or (state.best_eval or {}).get("metrics")
    return (state.step, metrics) if isinstance(metrics, dict) and metrics else None


def read_state(run_path: str | Path) -> LoopState | None:
    folder = checkpoint_dir(run_path)
    if folder is None:
        return None
    try:
        raw = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        names = {f.name for f in fields(LoopState)}
        state = LoopState(**{k: v for k, v in raw.items() if k in names})
    except (OSError, ValueError, TypeError, AttributeError, RecursionError):
        return None
    return state if _sound(state) else None


def _sound(state: LoopState) -> bool:
    """Every field of the type the loop counts, compares or unpacks it as: a hand-edited or
    corrupt file is a damaged checkpoint, not a TypeError in the middle of training."""
    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    counts = (state.step, state.epoch, state.batches_done_in_epoch, state.evals_without_improvement,
              state.samples_seen, state.tokens_seen)
    best_eval_keys = {"metrics", "predicted", "confidence", "gold"}  # tasks.base.EvalResult's fields
    best_eval_keys_now = best_eval_keys | {"extra"}  # checkpoints from before the Task seam lack "extra"
    return (all(whole(value) for value in counts) and number(state.train_seconds)
            and (state.best_metric is None or number(state.best_metric))
            and (state.best_step is None or whole(state.best_step))
            and (state.last_metrics is None or isinstance(state.last_metrics, dict))
            and (state.best_eval is None
                 or isinstance(state.best_eval, dict) and set(state.best_eval) in (best_eval_keys, best_eval_keys_now)))
