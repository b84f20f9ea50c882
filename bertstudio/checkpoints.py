"""Resumable checkpoints: weights, optimizer, scheduler, RNG and data position, swapped in whole.

`runs/<id>/checkpoint/` always holds one complete checkpoint. A new one is written beside it
(`.checkpoint.tmp`) and swapped in only when whole, so a crash or a full disk mid-save leaves the
previous one intact. A finished run deletes its checkpoint: it keeps `model/` instead.
"""

from __future__ import annotations

import errno
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bertstudio.atomic import write_json_atomic
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
    """Write a checkpoint and swap it in; StudioError (previous one intact) when the disk refuses.

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
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StudioError("The disk is full, so the checkpoint could not be saved; free some space and "
                              "resume the run (its previous checkpoint is intact).", detail=str(exc)) from exc
        raise StudioError("Saving a checkpoint failed; check that the runs folder is writable, then resume "
                          "the run (its previous checkpoint is intact).", detail=str(exc)) from exc
    if main:
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator, run_path: str | Path) -> tuple[LoopState, dict | None]:
    """Restore model, optimizer, scheduler and RNG into the prepared objects; return the loop state."""
    from safetensors.torch import load_file

    folder = checkpoint_dir(run_path)
    if folder is None:
        raise StudioError(f"The run '{Path(run_path).name}' has no checkpoint to resume from; start a new "
                          "run with the same settings instead.")
    accelerator.load_state(str(folder))
    state = LoopState(**json.loads((folder / STATE_FILE).read_text(encoding="utf-8")))
    best = folder / BEST_WEIGHTS_FILE
    return state, (load_file(str(best)) if best.exists() else None)


def remove_checkpoint(run_path: str | Path) -> None:
    for name in (CHECKPOINT_DIR, _TMP, _OLD):
        shutil.rmtree(Path(run_path) / name, ignore_errors=True)
