"""The files a training run writes into its folder: config.json first, data.json and
environment.json at the start, the model, predictions and model card at the end."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bertstudio.atomic import disk_is_full
from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.runs import folder as run_folder
from bertstudio.runs.checkpoint_state import checkpoint_step
from bertstudio.training.checkpoints import save_failed


def open_run(config: TrainConfig, original: TrainConfig, run_id: str, main: bool) -> run_folder.RunFolder:
    """The run's folder, made with its config.json first (a resumed or retried run keeps its own),
    so that whatever happens next has a run to be told in."""
    run = run_folder.RunFolder(Path(config.output_dir) / run_id)
    if not main:
        return run
    if not run.path.exists():
        run = run_folder.RunFolder.create(config.output_dir, run_id)
        try:
            run.write_json(run_folder.CONFIG_FILE, original.to_dict())
        except OSError as exc:
            shutil.rmtree(run.path, ignore_errors=True)
            raise StudioError(f"Cannot write into the run folder '{run.path}'; check that the runs folder is "
                              "writable and the disk has space.", detail=str(exc)) from exc
    run.mark_process()
    return run


def write_start_files(run: run_folder.RunFolder, config: TrainConfig, data, accelerator) -> None:
    run.write_json(run_folder.DATA_FILE, data_record(config, data))
    run.write_json(run_folder.ENVIRONMENT_FILE, run_folder.environment_record(
        device=str(accelerator.device), precision=accelerator.mixed_precision, seed=config.seed,
        num_processes=accelerator.num_processes))


def write_end_files(run: run_folder.RunFolder, model, tokenizer, config: TrainConfig, data, metrics,
                    eval_result, task=None, warning: str | None = None) -> None:
    """The model (with what prediction needs folded in by the task), the validation predictions
    (when there was an evaluation) and the model card. `eval_result` is the evaluation of the
    weights being saved (multi-label tunes its thresholds on it); `warning`, the task's sentence
    when those weights learned nothing useful, heads the card."""
    from bertstudio.data.csvsafe import write_safe_csv
    from bertstudio.runs.modelcard import render_model_card
    from bertstudio.tasks.registry import get_task

    task = task or get_task(data.task)
    task.finalize(model, data.space, eval_result)
    save_model_atomic(model, tokenizer, run.file(run_folder.MODEL_DIR))
    if eval_result is not None:
        val = data.validation
        columns, outcomes = task.validation_rows(eval_result, data.space)
        rows = ([val.texts[i]] + ([val.pairs[i]] if val.pairs is not None else []) + outcome
                for i, outcome in enumerate(outcomes))
        header = ["text"] + (["text_pair"] if val.pairs is not None else []) + columns
        write_safe_csv(run.file(run_folder.PREDICTIONS_FILE), header, rows)
    environment = run.read_json(run_folder.ENVIRONMENT_FILE) or {}
    run.write_text(run_folder.CARD_FILE, render_model_card(run.run_id, config, data_record(config, data),
                                                           metrics, environment, warning=warning))


def data_record(config: TrainConfig, data) -> dict[str, Any]:
    """What `data.json` says: where the rows came from and what was done to them."""
    columns = data.columns
    return {
        "file_name": Path(config.data).name if config.data else None,
        "path": config.data,
        "validation_file_name": Path(config.validation_data).name if config.validation_data else None,
        "fingerprint": data.fingerprint,
        "columns": {"text": columns.text, "text_pair": columns.text_pair, "label": columns.label,
                    **({"label_columns": list(columns.label_columns)}
                       if getattr(columns, "label_columns", None) else {})},
        "task": data.task,
        "space": asdict(data.space),
        "label_separator": data.separator,
        "detection": data.detection.to_dict() if data.detection is not None else None,
        "labels": list(data.labels),
        "label2id": {label: i for i, label in enumerate(data.labels)},
        "train_size": len(data.train.labels),
        "validation_size": len(data.validation.labels),
        "report": data.report.to_dict(),
    }


def save_model_atomic(model, tokenizer, target) -> None:
    """save_pretrained into a sibling temp folder, then swap it in: never a half-written model/."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    except Exception as exc:  # noqa: BLE001 - safetensors and torch report a full disk in their own types
        full = disk_is_full(exc, target.parent)
        shutil.rmtree(tmp, ignore_errors=True)
        raise save_failed("the model", full, checkpoint_step(target.parent), exc) from exc
    old = target.with_name(f".{target.name}.old")
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
