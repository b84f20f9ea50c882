"""`train` on Accelerate: a run in the canonical order, emitting typed events, every failure told one way.

accelerator -> seed -> data -> model (after the seed, so its new head is reproducible) ->
optimizer -> scheduler -> one `prepare` (`_build`) -> train / evaluate per epoch (`loop.py`) ->
save (`_finish`), all read in order in `_fit`. The same code runs on the CPU, one GPU, or several
processes under `accelerate launch`; only the main process writes files and emits events.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from bertstudio.atomic import disk_is_full
from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.events import (Checkpoint, EventSink, Failed, FanOut, Finished, JsonlSink, Notice, NullSink, Started,
                               Stopped, truncate_after_step)
from bertstudio.runs.checkpoint_state import LoopState, checkpoint_dir, checkpoint_step
from bertstudio.runs.folder import EVENTS_FILE, METRICS_FILE, MODEL_DIR, new_run_id
from bertstudio.tasks.base import PRETRAINING_TASK
from bertstudio.training.adaptation import adapt_first, adapted_source
from bertstudio.training.allocator import reuse_freed_memory
from bertstudio.training.checkpoints import SaveFailed, load_checkpoint, remove_checkpoint, save_failed
from bertstudio.training.fast_dropout import fast_dropout
from bertstudio.training.first_token import first_token_only
from bertstudio.training.fused_projections import fused_qkv
from bertstudio.training.loaders import build_loaders
from bertstudio.training.optimizer import build_optimizer
# StopControl is imported from here by the CLI, the worker and callers (bertstudio.StopControl).
from bertstudio.training.loop import Loop, NonFiniteLoss, Position, Slice, StopControl, TrainStep
# resolve_precision and cpu_has_native_bf16 are imported from here by the UI, the bench and tests.
from bertstudio.training.precision import cpu_has_native_bf16, resolve_precision  # noqa: F401
from bertstudio.training.run_files import data_record, open_run, save_model_atomic, write_end_files, write_start_files  # noqa: F401
from bertstudio.training import row_updates
from bertstudio.training.schedule import StepCount, count_steps, make_scheduler
from bertstudio.training.trackers import tracker_sink
from bertstudio.tasks.registry import get_task, watched_metric


def default_train_step(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Forward pass returning the model's own loss (transformers picks it from the head's
    `problem_type`). The trainer takes a step as a parameter, so a caller (or a test) can replace
    it, e.g. to inject an out-of-memory error without a hook in shipped code; without one, the
    trainer uses `task_train_step`."""
    return model(**batch).loss


def task_train_step(task, space) -> TrainStep:
    """The step a run trains with: the task's loss on the batch's targets (`Task.train_loss`)."""
    def step(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        inputs = {key: value for key, value in batch.items() if key != "labels"}
        return task.train_loss(model, inputs, batch["labels"], space)
    return step


@dataclass
class RunResult:
    run_dir: str
    status: str  # "finished" | "stopped" | "failed" | "paused" (its slice is over: resume it)
    metrics: dict[str, Any]
    message: str = ""
    # A failure caused by the user's own input (a missing column, an unknown model, a precision
    # this device lacks): the CLI exits 2 for it, as for every other mistake, 1 for the rest.
    mistake: bool = False


def _is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _make_accelerator(config: TrainConfig):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    precision = resolve_precision(config.precision)
    state = AcceleratorState._shared_state
    # Accelerate keeps one process-wide state and refuses a second Accelerator with another
    # precision. A single-process app trains many runs in one process, so start each afresh;
    # under a distributed launcher the state belongs to the launch and is left alone.
    if state and state.get("num_processes", 1) == 1 and state.get("_mixed_precision") != precision:
        AcceleratorState._reset_state()
    # cpu=True without a GPU: under torchrun-style launchers (LOCAL_RANK set) that is what makes
    # Accelerate start a gloo process group instead of silently running N independent copies.
    return Accelerator(mixed_precision=precision, cpu=not torch.cuda.is_available(),
                       gradient_accumulation_steps=config.gradient_accumulation_steps)


def train(config: TrainConfig, *, sink: EventSink | None = None, stop: StopControl | None = None,
          train_step: TrainStep | None = None, run_id: str | None = None,
          resume_from: str | Path | None = None, slice: Slice | None = None) -> RunResult:  # noqa: A002
    """Train one run end to end and return where it landed.

    One path for every failure: once the settings are a valid TrainConfig, whatever goes wrong (a
    missing column, an unknown model, a precision the device lacks, a NaN loss, a full disk) ends
    as a run folder holding config.json and a `Failed` event with one plain sentence, and a
    "failed" result; the studio and the CLI tell it the same way. StudioError is raised only when
    there is no run to record it in: the config does not validate, the run folder cannot be made,
    or `resume_from` has no checkpoint.

    `resume_from`: a run folder whose process died (or failed while saving); training carries on
    from its last checkpoint in the same folder, to the same result as a run never interrupted.

    `slice`: end this call early, after that many steps or seconds (`Slice`), with a checkpoint and
    the result "paused"; `resume_from` the run folder continues it (`slices.train_in_slices`).
    """
    config = _with_absolute_paths(config.validate())
    if resume_from is not None:
        folder = Path(resume_from)
        if checkpoint_dir(folder) is None:
            raise StudioError(f"The run '{folder.name}' has no checkpoint to resume from; start a new run "
                              "with the same settings instead.")
        run_id, config = folder.name, config.replace(output_dir=str(folder.parent))
    stop = stop or StopControl()
    if slice is not None:  # the call's clock starts here: building the model counts against it
        slice = replace(slice, began=time.monotonic())
    attempt_config, notice = config, None
    # On the CPU, freed gradients are kept for the next step instead of re-faulted (allocator.py).
    with reuse_freed_memory() if not torch.cuda.is_available() else contextlib.nullcontext():
        while True:
            try:
                return _train_once(attempt_config, sink or NullSink(), stop, train_step, run_id, config,
                                   resume=resume_from is not None, restart_notice=notice, slice=slice)
            except _OutOfMemoryRetry as retry:
                attempt_config, run_id, notice = retry.config, retry.run_id, retry.notice


class _OutOfMemoryRetry(Exception):
    def __init__(self, config: TrainConfig, run_id: str, notice: Notice) -> None:
        self.config, self.run_id, self.notice = config, run_id, notice


def _train_once(config: TrainConfig, user_sink: EventSink, stop: StopControl, train_step: TrainStep | None,
                run_id: str | None, original: TrainConfig, resume: bool = False,
                restart_notice: Notice | None = None, slice: Slice | None = None) -> RunResult:  # noqa: A002
    """One attempt: open the run, train it (`_fit`), and turn whatever goes wrong into its `Failed`."""
    from accelerate.utils import broadcast_object_list, set_seed

    try:
        accelerator = _make_accelerator(config)
    except StudioError as exc:  # a precision this device cannot run: a failed run like any other
        return _fail_before_start(config, original, user_sink, run_id, exc)
    main = accelerator.is_main_process
    set_seed(config.seed)
    ids = [run_id or new_run_id(config.run_name)]
    if accelerator.num_processes > 1:
        broadcast_object_list(ids)  # only the main process's run id is shared
    run_id = ids[0]
    run = open_run(config, original, run_id, main)
    sink = FanOut([JsonlSink(run.file(EVENTS_FILE)), user_sink]) if main else NullSink()
    at = Position()
    cpu_kernels = contextlib.ExitStack()  # training-only swaps, undone before the model is saved
    try:
        if main and (tracker := tracker_sink(config, run.path)) is not None:
            sink.sinks.insert(1, tracker)  # after events.jsonl, before the caller's listener
        if restart_notice is not None:  # an out-of-memory retry starts over: its first try's steps go
            if main:
                truncate_after_step(run.file(EVENTS_FILE), 0)
            sink.emit(restart_notice)
        source = adapted_source(run)  # an interrupted or retried run keeps the model it adapted
        if config.adapt_epochs and config.task != PRETRAINING_TASK and source is None:
            adapted = adapt_first(config, run if main else None, sink, stop)
            if adapted.status != "finished":
                return _adaptation_ended(sink, run, adapted)
            source = adapted.source
        return _fit(config, accelerator, run, sink, stop, train_step, resume, at, cpu_kernels, source, slice)
    except NonFiniteLoss as exc:
        message = (f"The training loss became NaN or infinite at step {exc.step}, so training stopped. "
                   "Likely causes: the learning rate is too high (try 2e-5), or fp16 overflowed "
                   "(try bf16 or fp32 precision).")
        return _fail(sink, run, message, str(exc), exc.step)
    except StudioError as exc:
        saving = isinstance(exc, SaveFailed)  # the disk, not the user's input
        return _fail(sink, run, exc.message, exc.detail or "", at.step, resumable=saving, mistake=not saving)
    except Exception as exc:  # noqa: BLE001 - every failure must reach the user as an event
        if _is_out_of_memory(exc):
            return _handle_oom(config, sink, run, run_id, at.step, exc, accelerator)
        if disk_is_full(exc):  # a run file (metrics, predictions, card) met a full disk
            told = save_failed("the run's files", True, checkpoint_step(run.path), exc)
            return _fail(sink, run, told.message, traceback.format_exc(), at.step, resumable=True)
        return _fail(sink, run, f"Training failed unexpectedly: {type(exc).__name__}: {exc}",
                     traceback.format_exc(), at.step)
    finally:
        cpu_kernels.close()
        if main:
            # Whatever the log could take, no process is behind this run any more: without an end
            # event it then reads as interrupted (resumable), never as running until a restart.
            run.clear_process()


def _fit(config: TrainConfig, accelerator, run, sink: EventSink, stop: StopControl, train_step: TrainStep | None,
         resume: bool, at: Position, cpu_kernels: contextlib.ExitStack, source: str | None = None,
         slice: Slice | None = None) -> RunResult:  # noqa: A002
    """Build, then train and evaluate per epoch (checkpointing at each evaluation), then save.
    `source`: the model to start from instead of `config.model` (the one adaptation saved)."""
    started_at = time.time()
    parts = _build(config, accelerator, cpu_kernels, source)
    train_step = train_step or task_train_step(parts.task, parts.data.space)
    state, best_weights = _start(config, accelerator, run, sink, parts, resume)
    loop = Loop(config, accelerator, run, sink, stop, parts, train_step, state, best_weights, at, started_at, slice)
    loop.run_epochs()
    if loop.paused:  # the checkpoint is saved; no end event, so the run reads as interrupted until resumed
        sink.emit(Notice(message=f"Paused at step {loop.step} of {parts.steps.total_steps} to fit this call; "
                         "the next call carries on from here.", step=loop.step))
        return RunResult(str(run.path), "paused", {"steps": loop.step})
    # The last_step rule: a run always ends with an evaluation of the weights it stopped with.
    if loop.last_eval is None or loop.stopped_by_user or (config.eval_strategy == "steps" and not loop.stopped_early):
        loop.evaluate_and_checkpoint()
    cpu_kernels.close()
    return _finish(config, accelerator, run, sink, parts, loop, started_at)


@dataclass
class _Parts:
    """What the canonical order builds before the loop; model, optimizer, scheduler and loaders prepared."""
    data: Any
    task: Any  # the Task the data resolved to (data.task names it)
    tokenizer: Any
    model: Any
    optimizer: torch.optim.Optimizer
    scheduler: Any
    train_loader: Any
    val_loader: Any
    steps: StepCount
    train_size: int
    validation_size: int
    clip_gradients: Any  # (max_norm) -> the gradients' norm before clipping
    settle_weights: Any  # () -> None: the weights made current before they are evaluated or saved


def _build(config: TrainConfig, accelerator, cpu_kernels: contextlib.ExitStack, source: str | None = None) -> _Parts:
    """data -> model (built after the seed, so its new head is reproducible) -> optimizer ->
    scheduler -> one `prepare`."""
    from accelerate.utils import set_seed

    from bertstudio.data.dataset import prepare_data
    from bertstudio.models import load_tokenizer

    # Every process reads and splits the data itself (same seed, same result), so nothing
    # large is shipped between them.
    data = prepare_data(config)
    task = get_task(data.task)
    watched_metric(task, config.metric_for_best)  # a metric this task lacks fails before any download
    tokenizer = load_tokenizer(source or config.model)
    loaders = build_loaders(config, data, tokenizer, accelerator.device.type, task)

    set_seed(config.seed)
    model = task.build_model(source or config.model, data.space)
    embedding = _training_swaps(config, accelerator, model, cpu_kernels)
    optimizer = build_optimizer(model, config, accelerator.device, rows_used=embedding is not None)
    if embedding is not None:  # rows a batch reads are brought up to date before it reads them
        cpu_kernels.enter_context(optimizer.watching(embedding))
    steps = count_steps(config, loaders.train_size, accelerator.num_processes)
    scheduler = make_scheduler(config, optimizer, steps, accelerator.num_processes)
    model, optimizer, train_loader, val_loader, scheduler = accelerator.prepare(
        model, optimizer, loaders.train, loaders.validation, scheduler)
    if embedding is not None:  # the optimizer clips within its step, sparse gradients included
        clip, settle = optimizer.optimizer.clip_grad_norm_, optimizer.optimizer.bring_rows_up_to_date
    else:
        def clip(max_norm: float) -> torch.Tensor:
            return accelerator.clip_grad_norm_(model.parameters(), max_norm)

        def settle() -> None:
            pass
    return _Parts(data, task, tokenizer, model, optimizer, scheduler, train_loader, val_loader, steps,
                  loaders.train_size, loaders.validation_size, clip, settle)


def _training_swaps(config: TrainConfig, accelerator, model, cpu_kernels: contextlib.ExitStack):
    """The training-only replacements, undone (by `cpu_kernels`) before the model is saved; returns
    the word embedding when it takes sparse gradients (the optimizer is then RowSparseAdamW), else None."""
    # The head reads the last layer at the first token only: compute no other row there (first_token.py).
    cpu_kernels.enter_context(first_token_only(model))
    if accelerator.device.type == "cpu":  # CUDA's own dropout is fast (fast_dropout.py)
        cpu_kernels.enter_context(fast_dropout(model))
        cpu_kernels.enter_context(fused_qkv(model))  # one product for Q, K and V (fused_projections.py)
    embedding = row_updates.sparse_embedding(model) if row_updates.rows_used_applies(
        config.embedding_updates, device_type=accelerator.device.type,
        num_processes=accelerator.num_processes) else None
    if embedding is not None:
        cpu_kernels.enter_context(row_updates.rows_used_gradients(embedding))
    return embedding


def _start(config: TrainConfig, accelerator, run, sink: EventSink, parts: _Parts,
           resume: bool) -> tuple[LoopState, dict | None]:
    """Restore the checkpoint (resuming) or write the start files; then tell that the run started.
    Returns the loop state and the best weights kept so far."""
    main = accelerator.is_main_process
    state, best_weights = LoopState(step=0, epoch=0, batches_done_in_epoch=0), None
    leak = _adaptation_leak(config)
    if resume:
        state, best_weights = load_checkpoint(accelerator, run.path)
        if main:  # what the log said after the checkpoint is about to be done again
            truncate_after_step(run.file(EVENTS_FILE), state.step)
        sink.emit(Notice(message=f"Resumed from the checkpoint at step {state.step}.", step=state.step))
    elif main:
        write_start_files(run, config, parts.data, accelerator)
    sink.emit(Started(run_id=run.run_id, run_dir=str(run.path), config=config.to_dict(),
                      labels=list(parts.data.labels), train_size=parts.train_size,
                      validation_size=parts.validation_size, total_steps=parts.steps.total_steps,
                      steps_per_epoch=parts.steps.steps_per_epoch, device=str(accelerator.device),
                      precision=accelerator.mixed_precision, num_processes=accelerator.num_processes,
                      resumed_from_step=state.step if resume else None, task=parts.task.name))
    if leak and not resume:
        sink.emit(Notice(message=leak, step=0))
    return state, best_weights


def _adaptation_leak(config: TrainConfig) -> str | None:
    """When the model is a pretraining run's that read some of this run's validation texts, say so."""
    from bertstudio.runs.lineage import pretraining_run_of, validation_leak

    adapted = pretraining_run_of(config.model)
    return validation_leak(config, adapted[1]) if adapted else None


def _finish(config: TrainConfig, accelerator, run, sink: EventSink, parts: _Parts, loop: Loop,
            started_at: float) -> RunResult:
    """Put the best weights back (keep_best), save the model and the end files, tell how it ended."""
    best, last_eval, step, meter = loop.best, loop.last_eval, loop.step, loop.meter
    main = accelerator.is_main_process
    model = accelerator.unwrap_model(parts.model)
    if config.keep_best and best.best_state is not None:
        model.load_state_dict(best.best_state)
        last_eval = best.best_eval
    metrics = last_eval.metrics if last_eval is not None else {}
    # A model that learned nothing (one answer for every row, no better than a constant) says so
    # wherever the run is read: metrics.json, the end event, the model card. The task decides.
    warning = parts.task.learned_nothing(last_eval, parts.data.space) if last_eval is not None else None
    accelerator.wait_for_everyone()
    if main:
        write_end_files(run, model, parts.tokenizer, config, parts.data, metrics, last_eval, parts.task,
                        warning=warning)
        sink.emit(Checkpoint(step=step, path=str(run.file(MODEL_DIR)), is_best=best.best_step == step))
        remove_checkpoint(run.path)  # the run is over: model/ is what it keeps
    elapsed = time.time() - started_at
    summary = {**metrics, "best_step": best.best_step, "steps": step,
               "train_samples_per_second": meter.per_second(meter.samples),
               **({"warning": warning} if warning else {})}
    if main:
        run.write_json(METRICS_FILE, summary)
    if loop.stopped_by_user:
        sink.emit(Stopped(run_dir=str(run.path), step=step, metrics=metrics, elapsed_seconds=elapsed,
                          warning=warning))
        return RunResult(str(run.path), "stopped", summary)
    sink.emit(Finished(run_dir=str(run.path), metrics=metrics, steps=step, elapsed_seconds=elapsed,
                       stopped_early=loop.stopped_early, best_step=best.best_step, warning=warning))
    return RunResult(str(run.path), "finished", summary)


def _adaptation_ended(sink: EventSink, run, adapted) -> RunResult:
    """The adaptation did not finish: nothing is fine-tuned; stopped stays stopped, a failure fails."""
    if adapted.status == "stopped":
        message = (f"Stopped while adapting the model to your texts; nothing was fine-tuned. The adapted model "
                   f"so far is in run {Path(adapted.run_dir).name}.")
        sink.emit(Notice(message=message, step=0))
        sink.emit(Stopped(run_dir=str(run.path), step=0, metrics={}, elapsed_seconds=0.0))
        return RunResult(str(run.path), "stopped", {}, message)
    return _fail(sink, run, f"Adapting the model to your texts failed: {adapted.message}", "", 0,
                 mistake=adapted.mistake)


def _with_absolute_paths(config: TrainConfig) -> TrainConfig:
    """config.json must re-run from any working folder, so its data paths are made absolute."""
    return config.replace(**{name: str(Path(value).resolve()) for name in ("data", "validation_data")
                             if (value := getattr(config, name))})


def _fail_before_start(config: TrainConfig, original: TrainConfig, user_sink: EventSink, run_id: str | None,
                       exc: StudioError) -> RunResult:
    """A failure found before Accelerate could start, recorded in a run folder like any other."""
    from accelerate import PartialState

    main = PartialState(cpu=not torch.cuda.is_available()).is_main_process
    run = open_run(config, original, run_id or new_run_id(config.run_name), main)
    sink = FanOut([JsonlSink(run.file(EVENTS_FILE)), user_sink]) if main else NullSink()
    try:
        return _fail(sink, run, exc.message, exc.detail or "", None, mistake=True)
    finally:
        if main:
            run.clear_process()


def _handle_oom(config: TrainConfig, sink: EventSink, run, run_id: str, step: int, exc: BaseException,
                accelerator) -> RunResult:
    """Halve the batch and double accumulation, keeping the effective batch, then start over."""
    del accelerator
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if config.batch_size <= 1:
        return _fail(sink, run, "The GPU ran out of memory even with a batch size of 1; choose a smaller "
                     "model or a shorter max length.", str(exc), step)
    smaller = config.replace(batch_size=config.batch_size // 2,
                             gradient_accumulation_steps=config.gradient_accumulation_steps * 2)
    notice = Notice(message=f"Out of memory with batch size {config.batch_size}: retrying with batch "
                    f"size {smaller.batch_size} and gradient accumulation {smaller.gradient_accumulation_steps} "
                    "(same effective batch).", step=step)
    raise _OutOfMemoryRetry(smaller, run_id, notice)  # told by the retry, once the log is cut back


def _fail(sink: EventSink, run, message: str, detail: str, step: int | None, resumable: bool = False,
          mistake: bool = False) -> RunResult:
    try:
        sink.emit(Failed(message=message, detail=detail, step=step, resumable=resumable))
    except OSError:
        # events.jsonl could not take even this line (the disk is still full); the listeners
        # heard it (FanOut carries on past a failing sink) and the result below says it.
        pass
    return RunResult(str(run.path), "failed", {}, message, mistake=mistake)
