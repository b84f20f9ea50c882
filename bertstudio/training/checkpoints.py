"""Resumable checkpoints: weights, optimizer, scheduler, RNG and data position, swapped in whole.

`runs/<id>/checkpoint/` always holds one complete checkpoint. A new one is written beside it
(`.checkpoint.tmp`) and swapped in only when whole, so a crash or a full disk mid-save leaves the
previous one intact. A finished run deletes its checkpoint: it keeps `model/` instead.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from bertstudio.atomic import disk_is_full, write_json_atomic
from bertstudio.errors import StudioError

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "trainer_state.json"
BEST_WEIGHTS_FILE = "best_model.safetensors"
_TMP = ".checkpoint.tmp"
_OLD = ".checkpoint.old"


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


class SaveFailed(StudioError):
    """A checkpoint or the model could not be written (a full disk, a read-only folder). The run
    itself was sound, so once the cause is fixed it can carry on from its last checkpoint."""


def checkpoint_dir(run_path: str | Path) -> Path | None:
    """The complete checkpoint of a run, if it has one (also after a crash mid-swap)."""
    run_path = Path(run_path)
    for name in (CHECKPOINT_DIR, _OLD):
        if (run_path / name / STATE_FILE).exists():
            return run_path / name
    return None


def _save_state(accelerator, folder: Path) -> None:
    accelerator.save_state(str(folder), safe_serialization=True)


def save_checkpoint(accelerator, run_path: str | Path, state: LoopState, best_weights: dict | None) -> Path:
    """Write a checkpoint and swap it in; SaveFailed (previous one intact) when the disk refuses.

    Every process takes part in `save_state` (each has its own RNG state); only the main process
    writes the loop state and swaps folders, then all wait so none runs ahead of a half-made one.
    """
    from safetensors.torch import save_file

    run_path = Path(run_path)
    tmp, final, old = run_path / _TMP, run_path / CHECKPOINT_DIR, run_path / _OLD
    main = accelerator.is_main_process
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    try:
        _save_state(accelerator, tmp)
        if main:
            if best_weights is not None:
                save_file(best_weights, str(tmp / BEST_WEIGHTS_FILE))
            # The state file goes last: its presence is what marks a checkpoint as complete.
            write_json_atomic(tmp / STATE_FILE, asdict(state))
    # Not only OSError: torch.save reports a full disk as a RuntimeError, safetensors as its own
    # error type. Whatever the writer, the half-written folder must go, or it keeps the disk full.
    except Exception as exc:  # noqa: BLE001 - re-raised as SaveFailed with the cause attached
        full = disk_is_full(exc, run_path)
        shutil.rmtree(tmp, ignore_errors=True)
        raise save_failed("the checkpoint", full, checkpoint_step(run_path), exc) from exc
    if main:
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def save_failed(what: str, full: bool, previous_step: int | None, exc: BaseException) -> SaveFailed:
    """The one sentence for a save that failed: why, and what the user can do next."""
    cause = "The disk is full" if full else "Writing to the runs folder failed"
    fix = "free some space" if full else "check that the runs folder is writable"
    then = (f"then resume the run from its checkpoint at step {previous_step}" if previous_step is not None
            else "then start the run again (it had no earlier checkpoint)")
    return SaveFailed(f"{cause}, so {what} could not be saved; {fix}, {then}.",
                      detail=f"{type(exc).__name__}: {exc}")


def checkpoint_step(run_path: str | Path) -> int | None:
    """The step of the run's complete checkpoint, or None when it has none (or it is unreadable)."""
    state = _read_state(run_path)
    return state.step if state is not None else None


def checkpoint_metrics(run_path: str | Path) -> tuple[int, dict[str, Any]] | None:
    """(step, metrics) of the evaluation the run's checkpoint was taken after, if it has one."""
    state = _read_state(run_path)
    if state is None:
        return None
    metrics = state.last_metrics or (state.best_eval or {}).get("metrics")
    return (state.step, metrics) if isinstance(metrics, dict) and metrics else None


def _read_state(run_path: str | Path) -> LoopState | None:
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


def load_checkpoint(accelerator, run_path: str | Path) -> tuple[LoopState, dict | None]:
    """Restore model, optimizer, scheduler and RNG into the prepared objects; return the loop state."""
    from safetensors.torch import load_file

    folder = checkpoint_dir(run_path)
    if folder is None:
        raise StudioError(f"The run '{Path(run_path).name}' has no checkpoint to resume from; start a new "
                          "run with the same settings instead.")
    state = _read_state(run_path)
    if state is None:
        raise StudioError(f"The checkpoint of run '{Path(run_path).name}' is damaged ({STATE_FILE} cannot be "
                          "read); start a new run with the same settings instead.")
    accelerator.load_state(str(folder))
    best = folder / BEST_WEIGHTS_FILE
    return state, (load_file(str(best)) if best.exists() else None)


def remove_checkpoint(run_path: str | Path) -> None:
    for name in (CHECKPOINT_DIR, _TMP, _OLD):
        shutil.rmtree(Path(run_path) / name, ignore_errors=True)
