"""The training loop on Accelerate: one function in the canonical order, emitting typed events.

accelerator -> seed -> data -> model (after the seed, so its new head is reproducible) ->
optimizer -> scheduler -> one `prepare` -> train / evaluate -> save. The same code runs on the
CPU, one GPU, or several processes under `accelerate launch`; only the main process writes files
and emits events.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from bertstudio.atomic import disk_is_full
from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.events import (Checkpoint, Evaluation, EventSink, Failed, FanOut, Finished, JsonlSink, Notice,
                               NullSink, Started, Step, Stopped, truncate_after_step)
from bertstudio.runs.checkpoint_state import LoopState, checkpoint_dir, checkpoint_step
from bertstudio.runs.folder import EVENTS_FILE, METRICS_FILE, MODEL_DIR, new_run_id
from bertstudio.training.allocator import reuse_freed_memory
from bertstudio.training.best import BestModel
from bertstudio.training.checkpoints import (SaveFailed, load_checkpoint, remove_checkpoint, save_checkpoint,
                                             save_failed)
from bertstudio.training.evaluation import evaluate
from bertstudio.training.fast_dropout import fast_dropout
from bertstudio.training.loaders import build_loaders
# resolve_precision and cpu_has_native_bf16 are imported from here by the UI, the bench and tests.
from bertstudio.training.precision import cpu_has_native_bf16, resolve_precision  # noqa: F401
from bertstudio.training.run_files import data_record, open_run, save_model_atomic, write_end_files, write_start_files  # noqa: F401
from bertstudio.training.schedule import StepCount, count_steps, make_scheduler
from bertstudio.tasks.registry import get_task, watched_metric


class StopControl:
    """The one way to end a run early: the Stop button, Ctrl-C or a caller sets it; the loop checks
    it once per optimizer step and finishes that step first, so the model stays consistent."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def request(self) -> None:
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()


def default_train_step(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Forward pass returning the model's own loss (transformers picks it from the head's
    `problem_type`). The trainer takes a step as a parameter, so a caller (or a test) can replace
    it, e.g. to inject an out-of-memory error without a hook in shipped code; without one, the
    trainer uses `task_train_step`."""
    return model(**batch).loss


def task_train_step(task, space) -> "TrainStep":
    """The step a run trains with: the task's per-row loss on the batch's labels, averaged (so
    multi-label's rare-label weights and regression's standardised targets are what is learnt)."""
    def step(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        inputs = {key: value for key, value in batch.items() if key != "labels"}
        logits = model(**inputs).logits.float()  # the loss in fp32 whatever the autocast dtype
        return task.loss(logits, batch["labels"], space).mean()
    return step


TrainStep = Callable[[Any, dict], torch.Tensor]


@dataclass
class RunResult:
    run_dir: str
    status: str  # "finished" | "stopped" | "failed"
    metrics: dict[str, Any]
    message: str = ""
    # A failure caused by the user's own input (a missing column, an unknown model, a precision
    # this device lacks): the CLI exits 2 for it, as for every other mistake, 1 for the rest.
    mistake: bool = False


class _NonFiniteLoss(Exception):
    def __init__(self, step: int, value: float) -> None:
        super().__init__(f"loss {value} at step {step}")
        self.step = step


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


FUSED_ADAMW_DEVICES = ("cuda", "cpu")


def _optimizer(model, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    # Decay the weight matrices only: decaying biases and LayerNorm gains hurts BERT fine-tuning.
    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias", "layer_norm", "norm.weight")
    decay, plain = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (plain if any(k in name for k in no_decay) else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": plain, "weight_decay": 0.0}]
    # The fused kernel updates every tensor in one pass instead of a dozen elementwise sweeps:
    # on the CPU it cut the optimizer step of a 22 M-parameter BERT ~5x (see bench/).
    return torch.optim.AdamW(groups, lr=config.learning_rate, fused=device.type in FUSED_ADAMW_DEVICES)


def train(config: TrainConfig, *, sink: EventSink | None = None, stop: StopControl | None = None,
          train_step: TrainStep | None = None, run_id: str | None = None,
          resume_from: str | Path | None = None) -> RunResult:
    """Train one run end to end and return where it landed.

    One path for every failure: once the settings are a valid TrainConfig, whatever goes wrong (a
    missing column, an unknown model, a precision the device lacks, a NaN loss, a full disk) ends
    as a run folder holding config.json and a `Failed` event with one plain sentence, and a
    "failed" result; the studio and the CLI tell it the same way. StudioError is raised only when
    there is no run to record it in: the config does not validate, the run folder cannot be made,
    or `resume_from` has no checkpoint.

    `resume_from`: a run folder whose process died (or failed while saving); training carries on
    from its last checkpoint in the same folder, to the same result as a run never interrupted.
    """
    config = _with_absolute_paths(config.validate())
    if resume_from is not None:
        folder = Path(resume_from)
        if checkpoint_dir(folder) is None:
            raise StudioError(f"The run '{folder.name}' has no checkpoint to resume from; start a new run "
                              "with the same settings instead.")
        run_id, config = folder.name, config.replace(output_dir=str(folder.parent))
    stop = stop or StopControl()
    attempt_config, notice = config, None
    # On the CPU, freed gradients are kept for the next step instead of re-faulted (allocator.py).
    with reuse_freed_memory() if not torch.cuda.is_available() else contextlib.nullcontext():
        while True:
            try:
                return _train_once(attempt_config, sink or NullSink(), stop, train_step, run_id, config,
                                   resume=resume_from is not None, restart_notice=notice)
            except _OutOfMemoryRetry as retry:
                attempt_config, run_id, notice = retry.config, retry.run_id, retry.notice


class _OutOfMemoryRetry(Exception):
    def __init__(self, config: TrainConfig, run_id: str, notice: Notice) -> None:
        self.config, self.run_id, self.notice = config, run_id, notice


def _train_once(config: TrainConfig, user_sink: EventSink, stop: StopControl, train_step: TrainStep | None,
                run_id: str | None, original: TrainConfig, resume: bool = False,
                restart_notice: Notice | None = None) -> RunResult:
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
    at = _Position()
    cpu_kernels = contextlib.ExitStack()  # training-only swaps, undone before the model is saved
    try:
        if restart_notice is not None:  # an out-of-memory retry starts over: its first try's steps go
            if main:
                truncate_after_step(run.file(EVENTS_FILE), 0)
            sink.emit(restart_notice)
        return _fit(config, accelerator, run, sink, stop, train_step, resume, at, cpu_kernels)
    except _NonFiniteLoss as exc:
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


@dataclass
class _Position:
    """The optimizer step the loop has reached, where a failure is told at."""
    step: int = 0


def _fit(config: TrainConfig, accelerator, run, sink: EventSink, stop: StopControl, train_step: TrainStep | None,
         resume: bool, at: _Position, cpu_kernels: contextlib.ExitStack) -> RunResult:
    """Build, then train and evaluate per epoch (checkpointing at each evaluation), then save."""
    started_at = time.time()
    parts = _build(config, accelerator, cpu_kernels)
    model, optimizer, scheduler, train_loader = parts.model, parts.optimizer, parts.scheduler, parts.train_loader
    task, space = parts.task, parts.data.space
    train_step = train_step or task_train_step(task, space)
    total_steps = parts.steps.total_steps
    state, best_weights = _start(config, accelerator, run, sink, parts, resume)

    # --- loop state, declared together (restored from the checkpoint when resuming) --------
    step = at.step = state.step
    metric = watched_metric(task, config.metric_for_best)
    best = BestModel(metric, keep=config.keep_best, patience=config.early_stopping_patience,
                     state=state, weights=best_weights, higher_is_better=task.higher_is_better(metric))
    last_eval = best.best_eval
    window_loss = torch.zeros((), device=accelerator.device)
    window_batches = 0
    grad_norm = None
    meter = _Throughput(state.samples_seen, state.tokens_seen, state.train_seconds)
    batches_done = state.batches_done_in_epoch
    stopped_by_user = stopped_early = False

    def run_evaluation() -> bool:
        """Evaluate, track the best weights, checkpoint; True when early stopping says enough."""
        nonlocal last_eval
        last_eval = evaluate(model, parts.val_loader, accelerator, task, space)
        improved = best.observe(last_eval, step, lambda: accelerator.unwrap_model(model).state_dict())
        sink.emit(Evaluation(step=step, epoch=step / parts.steps.steps_per_epoch, metrics=last_eval.metrics,
                             is_best=improved))
        if step < total_steps and not best.enough and not stop.requested:
            # Checkpoint at every evaluation but the last: a killed run resumes from here.
            save_checkpoint(accelerator, run.path, LoopState(
                step=step, epoch=epoch, batches_done_in_epoch=batches_done, samples_seen=meter.samples,
                tokens_seen=meter.tokens, train_seconds=meter.seconds, last_metrics=last_eval.metrics,
                **best.loop_fields()), best.best_state)
        return best.enough

    model.train()
    start_epoch = state.epoch
    if batches_done >= len(train_loader):  # the checkpoint was taken at the end of an epoch
        start_epoch, batches_done = start_epoch + 1, 0
    epoch = start_epoch  # read by run_evaluation, which the loop calls
    for epoch in range(start_epoch, config.epochs):
        train_loader.set_epoch(epoch)
        epoch_loader = train_loader
        if batches_done:  # resuming mid-epoch: the same order, minus the batches already seen
            epoch_loader = accelerator.skip_first_batches(train_loader, batches_done)
            epoch_loader.set_epoch(epoch)
        tick = time.perf_counter()
        for batch in epoch_loader:
            batches_done += 1
            batch.pop("index")
            meter.samples += batch["input_ids"].shape[0] * accelerator.num_processes
            meter.tokens += batch.pop("num_tokens") * accelerator.num_processes
            with accelerator.accumulate(model):
                loss = train_step(model, batch)
                accelerator.backward(loss)
                if accelerator.sync_gradients and config.max_grad_norm > 0:
                    grad_norm = accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            # Summed on the device: reading the loss every step would stall the GPU.
            window_loss += loss.detach().float()
            window_batches += 1
            if not accelerator.sync_gradients:
                continue
            step = at.step = step + 1
            last_step = step == total_steps
            if step % config.logging_steps == 0 or last_step:
                meter.seconds += time.perf_counter() - tick
                tick = time.perf_counter()
                mean_loss = accelerator.reduce(window_loss, "mean").item() / window_batches
                if not math.isfinite(mean_loss):
                    raise _NonFiniteLoss(step, mean_loss)
                sink.emit(_step_event(step, parts.steps, mean_loss, scheduler.get_last_lr()[0], grad_norm,
                                      meter, started_at))
                window_loss.zero_()
                window_batches = 0
            if config.eval_strategy == "steps" and step % config.eval_steps == 0 and not last_step:
                meter.seconds += time.perf_counter() - tick
                stopped_early = run_evaluation()
                tick = time.perf_counter()
            if _agreed_stop(accelerator, stop):
                stopped_by_user = True
            if stopped_by_user or stopped_early:
                break
        meter.seconds += time.perf_counter() - tick
        if stopped_by_user or stopped_early:
            break
        if config.eval_strategy == "epoch" or epoch == config.epochs - 1:
            stopped_early = run_evaluation()
            if stopped_early:
                break
        batches_done = 0
    # The last_step rule: a run always ends with an evaluation of the weights it stopped with.
    if last_eval is None or stopped_by_user or (config.eval_strategy == "steps" and not stopped_early):
        run_evaluation()
    cpu_kernels.close()
    return _finish(config, accelerator, run, sink, parts, best, last_eval, step, meter, started_at,
                   "stopped" if stopped_by_user else "finished", stopped_early)


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


def _build(config: TrainConfig, accelerator, cpu_kernels: contextlib.ExitStack) -> _Parts:
    """data -> model (built after the seed, so its new head is reproducible) -> optimizer ->
    scheduler -> one `prepare`."""
    from accelerate.utils import set_seed

    from bertstudio.data.dataset import prepare_data
    from bertstudio.models import load_classifier, load_tokenizer

    # Every process reads and splits the data itself (same seed, same result), so nothing
    # large is shipped between them.
    data = prepare_data(config)
    task = get_task(data.task)
    watched_metric(task, config.metric_for_best)  # a metric this task lacks fails before any download
    tokenizer = load_tokenizer(config.model)
    loaders = build_loaders(config, data, tokenizer, accelerator.device.type)

    set_seed(config.seed)
    model = load_classifier(config.model, task.head(data.space))
    if accelerator.device.type == "cpu":  # CUDA's own dropout is fast (fast_dropout.py)
        cpu_kernels.enter_context(fast_dropout(model))
    optimizer = _optimizer(model, config, accelerator.device)
    steps = count_steps(config, loaders.train_size, accelerator.num_processes)
    scheduler = make_scheduler(config, optimizer, steps, accelerator.num_processes)
    model, optimizer, train_loader, val_loader, scheduler = accelerator.prepare(
        model, optimizer, loaders.train, loaders.validation, scheduler)
    return _Parts(data, task, tokenizer, model, optimizer, scheduler, train_loader, val_loader, steps,
                  loaders.train_size, loaders.validation_size)


def _start(config: TrainConfig, accelerator, run, sink: EventSink, parts: _Parts,
           resume: bool) -> tuple[LoopState, dict | None]:
    """Restore the checkpoint (resuming) or write the start files; then tell that the run started.
    Returns the loop state and the best weights kept so far."""
    main = accelerator.is_main_process
    state, best_weights = LoopState(step=0, epoch=0, batches_done_in_epoch=0), None
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
    return state, best_weights


@dataclass
class _Throughput:
    """Samples and tokens trained on, and the seconds it took (evaluations not counted)."""
    samples: int
    tokens: int
    seconds: float

    def per_second(self, count: float) -> float:
        return count / self.seconds if self.seconds else 0.0


def _step_event(step: int, steps: StepCount, loss: float, learning_rate: float, grad_norm, meter: _Throughput,
                started_at: float) -> Step:
    rate = meter.per_second(step)
    return Step(step=step, total_steps=steps.total_steps, epoch=step / steps.steps_per_epoch, loss=loss,
                learning_rate=learning_rate, grad_norm=None if grad_norm is None else float(grad_norm),
                samples_per_second=meter.per_second(meter.samples),
                tokens_per_second=meter.per_second(meter.tokens),
                elapsed_seconds=time.time() - started_at,
                eta_seconds=(steps.total_steps - step) / rate if rate else None)


def _finish(config: TrainConfig, accelerator, run, sink: EventSink, parts: _Parts, best: BestModel,
            last_eval, step: int, meter: _Throughput, started_at: float, status: str,
            stopped_early: bool) -> RunResult:
    """Put the best weights back (keep_best), save the model and the end files, tell how it ended."""
    main = accelerator.is_main_process
    model = accelerator.unwrap_model(parts.model)
    if config.keep_best and best.best_state is not None:
        model.load_state_dict(best.best_state)
        last_eval = best.best_eval
    metrics = last_eval.metrics if last_eval is not None else {}
    accelerator.wait_for_everyone()
    if main:
        write_end_files(run, model, parts.tokenizer, config, parts.data, metrics, last_eval, parts.task)
        sink.emit(Checkpoint(step=step, path=str(run.file(MODEL_DIR)), is_best=best.best_step == step))
        remove_checkpoint(run.path)  # the run is over: model/ is what it keeps
    elapsed = time.time() - started_at
    summary = {**metrics, "best_step": best.best_step, "steps": step,
               "train_samples_per_second": meter.per_second(meter.samples)}
    if main:
        run.write_json(METRICS_FILE, summary)
    if status == "stopped":
        sink.emit(Stopped(run_dir=str(run.path), step=step, metrics=metrics, elapsed_seconds=elapsed))
        return RunResult(str(run.path), "stopped", summary)
    sink.emit(Finished(run_dir=str(run.path), metrics=metrics, steps=step, elapsed_seconds=elapsed,
                       stopped_early=stopped_early, best_step=best.best_step))
    return RunResult(str(run.path), "finished", summary)


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


def _agreed_stop(accelerator, stop: StopControl) -> bool:
    """Every process must leave the loop together, or the others would wait forever in a
    collective; with one process this is just the flag."""
    if accelerator.num_processes == 1:
        return stop.requested
    if stop.requested:
        accelerator.set_trigger()
    return accelerator.check_trigger()


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
