"""Resumable checkpoints: weights, optimizer, scheduler, RNG and data position, swapped in whole.

`runs/<id>/checkpoint/` always holds one complete checkpoint. A new one is written beside it
(`.checkpoint.tmp`) and swapped in only when whole, so a crash or a full disk mid-save leaves the
previous one intact. A finished run deletes its checkpoint: it keeps `model/` instead. Where the
files lie and how their state is read back (also by listings that never train) is
`runs/checkpoint_state.py`.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

from bertstudio.atomic import disk_is_full, write_json_atomic
from bertstudio.errors import StudioError
from bertstudio.runs.checkpoint_state import (BEST_WEIGHTS_FILE, CHECKPOINT_DIR, OLD_DIR, STATE_FILE, TMP_DIR,
                                              LoopState, checkpoint_dir, checkpoint_step, read_state)


class SaveFailed(StudioError):
    """A checkpoint or the model could not be written (a full disk, a read-only folder). The run
    itself was sound, so once the cause is fixed it can carry on from its last checkpoint."""


def _save_state(accelerator, folder: Path) -> None:
    accelerator.save_state(str(folder), safe_serialization=True)


def save_checkpoint(accelerator, run_path: str | Path, state: LoopState, best_weights: dict | None) -> Path:
    """Write a checkpoint and swap it in; SaveFailed (previous one intact) when the disk refuses.

    Every process takes part in `save_state` (each has its own RNG state); only the main process
    writes the loop state and swaps folders, then all wait so none runs ahead of a half-made one.
    """
    from safetensors.torch import save_file

    run_path = Path(run_path)
    tmp, final, old = run_path / TMP_DIR, run_path / CHECKPOINT_DIR, run_path / OLD_DIR
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


def load_checkpoint(accelerator, run_path: str | Path) -> tuple[LoopState, dict | None]:
    """Restore model, optimizer, scheduler and RNG into the prepared objects; return the loop state."""
    from safetensors.torch import load_file

    folder = checkpoint_dir(run_path)
    if folder is None:
        raise StudioError(f"The run '{Path(run_path).name}' has no checkpoint to resume from; start a new "
                          "run with the same settings instead.")
    state = read_state(run_path)
    if state is None:
        raise StudioError(f"The checkpoint of run '{Path(run_path).name}' is damaged ({STATE_FILE} cannot be "
                          "read); start a new run with the same settings instead.")
    accelerator.load_state(str(folder))
    best = folder / BEST_WEIGHTS_FILE
    return state, (load_file(str(best)) if best.exists() else None)


def remove_checkpoint(run_path: str | Path) -> None:
    for name in (CHECKPOINT_DIR, TMP_DIR, OLD_DIR):
        shutil.rmtree(Path(run_path) / name, ignore_errors=True)
