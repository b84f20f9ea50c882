"""Which run a model came from: a fine-tuning run started from a pretraining run's model names
that run as its model, so the two are linked by the config alone, and the fine-tuning run can be
told when the adaptation read texts it now validates on."""

from __future__ import annotations

from pathlib import Path

from bertstudio.config import TrainConfig
from bertstudio.tasks.base import PRETRAINING_TASK


def pretraining_run_of(model: str) -> tuple[Path, TrainConfig] | None:
    """(run folder, its config) when `model` names a continued-pretraining run (the run folder
    or its model/ folder); None for any other model."""
    from bertstudio.runs.folder import read_config

    if not model or model == "bundled":
        return None
    folder = Path(model).expanduser()
    if folder.name == "model":
        folder = folder.parent
    if not (folder / "config.json").is_file() or not (folder / "model").is_dir():
        return None
    config = read_config(folder)
    if config is None or config.task != PRETRAINING_TASK:
        return None
    return folder.resolve(), config


def validation_leak(config: TrainConfig, adapted: TrainConfig) -> str | None:
    """A plain sentence when a fine-tuning run validates on rows its pretraining run may have read:
    the same training file, split with another seed, share or row limit. None when the split is
    the one the pretraining left out (or the files differ, or validation is a separate file that
    pretraining never reads)."""
    if not config.data or not adapted.data or Path(config.data).resolve() != Path(adapted.data).resolve():
        return None
    if config.validation_data:
        return None
    same = (config.seed, config.validation_split, config.max_rows, config.remove_duplicates) == (
        adapted.seed, adapted.validation_split, adapted.max_rows, adapted.remove_duplicates)
    if same:
        return None
    return (f"The model was adapted to this file's texts with seed {adapted.seed} and a "
            f"{adapted.validation_split:.0%} validation share, but this run splits with seed {config.seed} and "
            f"{config.validation_split:.0%}: some validation rows were read during adaptation, so the validation "
            "numbers may flatter the model. Use the adaptation run's seed and share for an honest measurement.")
