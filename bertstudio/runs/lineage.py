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


def adapted_runs(runs_dir: str | Path) -> list:
    """The continued-pretraining runs in `runs_dir` whose model can be fine-tuned: finished or
    stopped (a stopped run keeps the model as it stood) with a saved model/, newest first."""
    from bertstudio.runs.folder import list_runs

    return [record for record in list_runs(runs_dir)
            if record.config is not None and record.config.task == PRETRAINING_TASK
            and record.status in ("finished", "stopped") and record.has_model]


def adapted_origin(run_dir: str | Path, config: TrainConfig) -> tuple[Path, TrainConfig] | None:
    """The pretraining run a fine-tuning run started from: the one its config names as the model,
    or the one its own "adapt first" step trained (recorded in adaptation.json, as the config
    keeps the base model so that re-running it adapts again)."""
    from bertstudio.runs.folder import RunFolder
    from bertstudio.training.adaptation import ADAPTATION_FILE

    if config.task == PRETRAINING_TASK:
        return None
    named = pretraining_run_of(config.model)
    if named is not None:
        return named
    record = RunFolder(Path(run_dir)).read_json(ADAPTATION_FILE)
    if isinstance(record, dict) and isinstance(record.get("run_dir"), str):
        return pretraining_run_of(record["run_dir"])
    return None


def fine_tuned_from(runs_dir: str | Path, pretraining_dir: str | Path) -> list:
    """The runs in `runs_dir` that started from the model of the pretraining run in
    `pretraining_dir`, newest first."""
    from bertstudio.runs.folder import list_runs

    target = Path(pretraining_dir).resolve()
    found = []
    for record in list_runs(runs_dir):
        if record.config is None or Path(record.path).resolve() == target:
            continue
        origin = adapted_origin(record.path, record.config)
        if origin is not None and origin[0] == target:
            found.append(record)
    return found


def adapted_texts(record) -> int | None:
    """How many texts a pretraining run read (training and held-out), from its data.json."""
    data = record.data_record if isinstance(record.data_record, dict) else {}
    sizes = [data.get("train_size"), data.get("validation_size")]
    return sum(sizes) if all(isinstance(size, int) for size in sizes) else None
