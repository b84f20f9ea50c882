"""The training loop on Accelerate: one function in the canonical order, emitting typed events.

accelerator -> seed -> data -> model (after the seed, so its new head is reproducible) ->
optimizer -> scheduler -> one `prepare` -> train / evaluate -> save. The same code runs on the
CPU, one GPU, or several processes under `accelerate launch`; only the main process writes files
and emits events.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader

from bertstudio.training.allocator import reuse_freed_memory
from bertstudio.training.batching import (EncodedExamples, LengthGroupedSampler, PaddingCollator, length_sorted_indices,
                                 pad_multiple)
from bertstudio.atomic import disk_is_full
from bertstudio.training.checkpoints import (LoopState, SaveFailed, checkpoint_dir, checkpoint_step, load_checkpoint,
                                    remove_checkpoint, save_checkpoint, save_failed)
from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.training.evaluation import EvalResult, evaluate
from bertstudio.training.events import (Checkpoint, Evaluation, EventSink, Failed, FanOut, Finished, JsonlSink,
                               Notice, NullSink, Started, Step, Stopped, truncate_after_step)
from bertstudio.training.fast_dropout import fast_dropout
from bertstudio.tasks.metrics import is_improvement
from bertstudio.runs import folder as run_files


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
    """Forward pass returning the loss. The trainer takes this as a parameter, so a caller (or a
    test) can replace it, e.g. to inject an out-of-memory error without a hook in shipped code."""
    return model(**batch).loss


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


def cpu_has_native_bf16() -> bool:
    """AVX-512 BF16 or AMX: the CPU multiplies bf16 matrices in hardware instead of emulating it."""
    cpu = getattr(torch, "cpu", None)
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in probes)


def resolve_precision(requested: str, *, cuda: bool | None = None, cuda_bf16: bool | None = None,
                      cpu_bf16: bool | None = None) -> str:
    """'auto' -> bf16 on GPUs that support it, fp16 on older GPUs; on the CPU bf16 where the
    processor has native bf16 instructions, else fp32 ('no').

    On an AVX512-BF16 CPU, bf16 autocast trained SST-2 (8,000 rows, MiniLM) 1.56x faster to the
    same validation accuracy (bench/train_speed.py); without those instructions bf16 is emulated
    and slower than fp32. The device facts default to this machine's; passing them makes every
    branch testable anywhere.
    """
    cuda = torch.cuda.is_available() if cuda is None else cuda
    if cuda and cuda_bf16 is None:
        cuda_bf16 = torch.cuda.is_bf16_supported()
    if requested == "auto":
        if not cuda:
            return "bf16" if (cpu_has_native_bf16() if cpu_bf16 is None else cpu_bf16) else "no"
        return "bf16" if cuda_bf16 else "fp16"
    if requested == "fp16" and not cuda:
        raise StudioError("fp16 precision needs an NVIDIA GPU; choose 'auto' or 'fp32' on this machine.")
    if requested == "bf16" and cuda and not cuda_bf16:
        raise StudioError("This GPU does not support bf16; choose 'auto' or 'fp16'.")
    return {"fp32": "no"}.get(requested, requested)


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: the CPU multiplies bf16 in hardware (torch's own feature probes)."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


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
          train_step: TrainStep = default_train_step, run_id: str | None = None,
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


def _train_once(config: TrainConfig, user_sink: EventSink, stop: StopControl, train_step: TrainStep,
                run_id: str | None, original: TrainConfig, resume: bool = False,
                restart_notice: Notice | None = None) -> RunResult:
    from accelerate.utils import broadcast_object_list, set_seed
    from transformers import get_scheduler

    from bertstudio.data.dataset import prepare_data
    from bertstudio.models import load_classifier, load_tokenizer
    from bertstudio.text.tokenization import encode_examples

    try:
        accelerator = _make_accelerator(config)
    except StudioError as exc:  # a precision this device cannot run: a failed run like any other
        return _fail_before_start(config, original, user_sink, run_id, exc)
    main = accelerator.is_main_process
    set_seed(config.seed)
    ids = [run_id or run_files.new_run_id(config.run_name)]
    if accelerator.num_processes > 1:
        broadcast_object_list(ids)  # only the main process's run id is shared
    run_id = ids[0]
    run = _open_run(config, original, run_id, main)
    sink = FanOut([JsonlSink(run.file(run_files.EVENTS_FILE)), user_sink]) if main else NullSink()
    started_at = time.time()
    step = 0
    cpu_kernels = contextlib.ExitStack()  # training-only swaps, undone before the model is saved
    try:
        if restart_notice is not None:  # an out-of-memory retry starts over: its first try's steps go
            if main:
                truncate_after_step(run.file(run_files.EVENTS_FILE), 0)
            sink.emit(restart_notice)
        # Every process reads and splits the data itself (same seed, same result), so nothing
        # large is shipped between them.
        data = prepare_data(config)
        tokenizer = load_tokenizer(config.model)
        encode = dict(max_length=config.max_length, truncation=config.truncation)
        train_enc = encode_examples(tokenizer, data.train.texts, data.train.pairs, **encode)
        val_enc = encode_examples(tokenizer, data.validation.texts, data.validation.pairs, **encode)
        train_set = EncodedExamples(train_enc["input_ids"], train_enc["token_type_ids"], data.train.labels)
        val_set = EncodedExamples(val_enc["input_ids"], val_enc["token_type_ids"], data.validation.labels)
        collate = PaddingCollator(tokenizer.pad_token_id or 0, pad_to=pad_multiple(accelerator.device.type))
        # Each loader gets a generator of its own: starting an iterator then draws nothing from the
        # global RNG, so a run resumed mid-epoch sees the same dropout masks as one never stopped.
        train_loader = DataLoader(train_set, batch_size=config.batch_size, collate_fn=collate,
                                  sampler=LengthGroupedSampler(train_set.lengths, config.batch_size, config.seed),
                                  generator=torch.Generator().manual_seed(config.seed))
        val_loader = DataLoader(val_set, batch_size=config.batch_size * 2, collate_fn=collate,
                                sampler=length_sorted_indices(val_set.lengths),
                                generator=torch.Generator().manual_seed(config.seed))

        set_seed(config.seed)
        model = load_classifier(config.model, data.labels)
        if accelerator.device.type == "cpu":  # CUDA's own dropout is fast (fast_dropout.py)
            cpu_kernels.enter_context(fast_dropout(model))
        optimizer = _optimizer(model, config, accelerator.device)
        batches_per_epoch = math.ceil(len(train_set) / (config.batch_size * accelerator.num_processes))
        steps_per_epoch = math.ceil(batches_per_epoch / config.gradient_accumulation_steps)
        total_steps = steps_per_epoch * config.epochs
        # The prepared scheduler steps once per process per optimizer step; scale to match.
        scheduler = get_scheduler(config.scheduler, optimizer,
                                  num_warmup_steps=int(config.warmup_ratio * total_steps) * accelerator.num_processes,
                                  num_training_steps=total_steps * accelerator.num_processes)
        model, optimizer, train_loader, val_loader, scheduler = accelerator.prepare(
            model, optimizer, train_loader, val_loader, scheduler)

        state = LoopState(step=0, epoch=0, batches_done_in_epoch=0)
        best_state = None
        if resume:
            state, best_state = load_checkpoint(accelerator, run.path)
            if main:  # what the log said after the checkpoint is about to be done again
                truncate_after_step(run.file(run_files.EVENTS_FILE), state.step)
        elif main:
            _write_start_files(run, config, data, accelerator)
        step = state.step
        if resume:
            sink.emit(Notice(message=f"Resumed from the checkpoint at step {step}.", step=step))
        sink.emit(Started(run_id=run_id, run_dir=str(run.path), config=config.to_dict(),
                          labels=list(data.labels), train_size=len(train_set),
                          validation_size=len(val_set), total_steps=total_steps,
                          steps_per_epoch=steps_per_epoch, device=str(accelerator.device),
                          precision=accelerator.mixed_precision,
                          num_processes=accelerator.num_processes,
                          resumed_from_step=step if resume else None))

        # --- loop state, declared together (restored from the checkpoint when resuming) --------
        best_metric: float | None = state.best_metric
        best_eval = EvalResult(**state.best_eval) if state.best_eval else None
        best_step: int | None = state.best_step
        evals_without_improvement = state.evals_without_improvement
        last_metrics: dict[str, Any] = best_eval.metrics if best_eval else {}
        last_eval = best_eval
        window_loss = torch.zeros((), device=accelerator.device)
        window_batches = 0
        grad_norm = None
        samples_seen, tokens_seen = state.samples_seen, state.tokens_seen
        train_seconds = state.train_seconds
        batches_done = state.batches_done_in_epoch
        stopped_by_user = stopped_early = False

        def run_evaluation() -> bool:
            """Evaluate, track the best weights; True when early stopping says enough."""
            nonlocal best_metric, best_state, best_eval, best_step, evals_without_improvement
            nonlocal last_metrics, last_eval
            result = evaluate(model, val_loader, accelerator, data.labels)
            last_metrics, last_eval = result.metrics, result
            value = result.metrics[config.metric_for_best]
            improved = is_improvement(config.metric_for_best, value, best_metric)
            if improved:
                best_metric, best_step, evals_without_improvement = value, step, 0
                if config.keep_best:
                    # A CPU copy: restoring the best weights at the end needs no disk round-trip.
                    best_state = {k: v.detach().to("cpu", copy=True)
                                  for k, v in accelerator.unwrap_model(model).state_dict().items()}
                    best_eval = result
            else:
                evals_without_improvement += 1
            sink.emit(Evaluation(step=step, epoch=step / steps_per_epoch, metrics=result.metrics,
                                 is_best=improved))
            enough = 0 < config.early_stopping_patience <= evals_without_improvement
            if step < total_steps and not enough and not stop.requested:
                # Checkpoint at every evaluation but the last: a killed run resumes from here.
                save_checkpoint(accelerator, run.path, LoopState(
                    step=step, epoch=epoch, batches_done_in_epoch=batches_done,
                    best_metric=best_metric, best_step=best_step,
                    evals_without_improvement=evals_without_improvement, samples_seen=samples_seen,
                    tokens_seen=tokens_seen, train_seconds=train_seconds,
                    best_eval=asdict(best_eval) if best_eval else None, last_metrics=result.metrics), best_state)
            return enough

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
                samples_seen += batch["input_ids"].shape[0] * accelerator.num_processes
                tokens_seen += batch.pop("num_tokens") * accelerator.num_processes
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
                step += 1
                last_step = step == total_steps
                if step % config.logging_steps == 0 or last_step:
                    train_seconds += time.perf_counter() - tick
                    tick = time.perf_counter()
                    mean_loss = accelerator.reduce(window_loss, "mean").item() / window_batches
                    if not math.isfinite(mean_loss):
                        raise _NonFiniteLoss(step, mean_loss)
                    rate = step / train_seconds if train_seconds else 0.0
                    sink.emit(Step(step=step, total_steps=total_steps, epoch=step / steps_per_epoch,
                                   loss=mean_loss, learning_rate=scheduler.get_last_lr()[0],
                                   grad_norm=None if grad_norm is None else float(grad_norm),
                                   samples_per_second=samples_seen / train_seconds if train_seconds else 0.0,
                                   tokens_per_second=tokens_seen / train_seconds if train_seconds else 0.0,
                                   elapsed_seconds=time.time() - started_at,
                                   eta_seconds=(total_steps - step) / rate if rate else None))
                    window_loss.zero_()
                    window_batches = 0
                if config.eval_strategy == "steps" and step % config.eval_steps == 0 and not last_step:
                    train_seconds += time.perf_counter() - tick
                    stopped_early = run_evaluation()
                    tick = time.perf_counter()
                if _agreed_stop(accelerator, stop):
                    stopped_by_user = True
                if stopped_by_user or stopped_early:
                    break
            train_seconds += time.perf_counter() - tick
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
        if config.keep_best and best_state is not None:
            accelerator.unwrap_model(model).load_state_dict(best_state)
            last_metrics, last_eval = best_eval.metrics, best_eval
        accelerator.wait_for_everyone()
        if main:
            _write_end_files(run, accelerator.unwrap_model(model), tokenizer, config, data,
                             last_metrics, last_eval, accelerator)
            sink.emit(Checkpoint(step=step, path=str(run.file(run_files.MODEL_DIR)), is_best=best_step == step))
            remove_checkpoint(run.path)  # the run is over: model/ is what it keeps
        elapsed = time.time() - started_at
        summary = {**last_metrics, "best_step": best_step, "steps": step,
                   "train_samples_per_second": samples_seen / train_seconds if train_seconds else 0.0}
        if main:
            run.write_json(run_files.METRICS_FILE, summary)
        if stopped_by_user:
            sink.emit(Stopped(run_dir=str(run.path), step=step, metrics=last_metrics, elapsed_seconds=elapsed))
            return RunResult(str(run.path), "stopped", summary)
        sink.emit(Finished(run_dir=str(run.path), metrics=last_metrics, steps=step, elapsed_seconds=elapsed,
                           stopped_early=stopped_early, best_step=best_step))
        return RunResult(str(run.path), "finished", summary)

    except _NonFiniteLoss as exc:
        message = (f"The training loss became NaN or infinite at step {exc.step}, so training stopped. "
                   "Likely causes: the learning rate is too high (try 2e-5), or fp16 overflowed "
                   "(try bf16 or fp32 precision).")
        return _fail(sink, run, message, str(exc), exc.step)
    except StudioError as exc:
        saving = isinstance(exc, SaveFailed)  # the disk, not the user's input
        return _fail(sink, run, exc.message, exc.detail or "", step, resumable=saving, mistake=not saving)
    except Exception as exc:  # noqa: BLE001 - every failure must reach the user as an event
        if _is_out_of_memory(exc):
            return _handle_oom(config, sink, run, run_id, step, exc, accelerator)
        if disk_is_full(exc):  # a run file (metrics, predictions, card) met a full disk
            told = save_failed("the run's files", True, checkpoint_step(run.path), exc)
            return _fail(sink, run, told.message, traceback.format_exc(), step, resumable=True)
        return _fail(sink, run, f"Training failed unexpectedly: {type(exc).__name__}: {exc}",
                     traceback.format_exc(), step)
    finally:
        cpu_kernels.close()
        if main:
            # Whatever the log could take, no process is behind this run any more: without an end
            # event it then reads as interrupted (resumable), never as running until a restart.
            run.clear_process()


def _with_absolute_paths(config: TrainConfig) -> TrainConfig:
    """config.json must re-run from any working folder, so its data paths are made absolute."""
    return config.replace(**{name: str(Path(value).resolve()) for name in ("data", "validation_data")
                             if (value := getattr(config, name))})


def _run_path(config: TrainConfig, run_id: str) -> Path:
    return Path(config.output_dir) / run_id


def _open_run(config: TrainConfig, original: TrainConfig, run_id: str, main: bool) -> "run_files.RunFolder":
    """The run's folder, made with its config.json first (a resumed or retried run keeps its own),
    so that whatever happens next has a run to be told in."""
    run = run_files.RunFolder(_run_path(config, run_id))
    if not main:
        return run
    if not run.path.exists():
        run = run_files.RunFolder.create(config.output_dir, run_id)
        try:
            run.write_json(run_files.CONFIG_FILE, original.to_dict())
        except OSError as exc:
            shutil.rmtree(run.path, ignore_errors=True)
            raise StudioError(f"Cannot write into the run folder '{run.path}'; check that the runs folder is "
                              "writable and the disk has space.", detail=str(exc)) from exc
    run.mark_process()
    return run


def _fail_before_start(config: TrainConfig, original: TrainConfig, user_sink: EventSink, run_id: str | None,
                       exc: StudioError) -> RunResult:
    """A failure found before Accelerate could start, recorded in a run folder like any other."""
    from accelerate import PartialState

    main = PartialState(cpu=not torch.cuda.is_available()).is_main_process
    run = _open_run(config, original, run_id or run_files.new_run_id(config.run_name), main)
    sink = FanOut([JsonlSink(run.file(run_files.EVENTS_FILE)), user_sink]) if main else NullSink()
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


def _write_start_files(run, config: TrainConfig, data, accelerator) -> None:
    run.write_json(run_files.DATA_FILE, data_record(config, data))
    run.write_json(run_files.ENVIRONMENT_FILE, run_files.environment_record(
        device=str(accelerator.device), precision=accelerator.mixed_precision, seed=config.seed,
        num_processes=accelerator.num_processes))


def _write_end_files(run, model, tokenizer, config: TrainConfig, data, metrics, eval_result, accelerator) -> None:
    from bertstudio.data.csvsafe import write_safe_csv
    from bertstudio.runs.modelcard import render_model_card

    save_model_atomic(model, tokenizer, run.file(run_files.MODEL_DIR))
    if eval_result is not None:
        val = data.validation
        rows = ((val.texts[i],) + ((val.pairs[i],) if val.pairs is not None else ())
                + (data.labels[val.labels[i]], data.labels[eval_result.predicted[i]],
                   f"{eval_result.confidence[i]:.4f}") for i in range(len(val.texts)))
        header = ["text"] + (["text_pair"] if val.pairs is not None else []) + ["gold", "predicted", "confidence"]
        write_safe_csv(run.file(run_files.PREDICTIONS_FILE), header, rows)
    environment = run.read_json(run_files.ENVIRONMENT_FILE) or {}
    run.write_text(run_files.CARD_FILE, render_model_card(run.run_id, config, data_record(config, data),
                                                          metrics, environment))


def data_record(config: TrainConfig, data) -> dict[str, Any]:
    """What `data.json` says: where the rows came from and what was done to them."""
    from pathlib import Path

    columns = data.columns
    return {
        "file_name": Path(config.data).name if config.data else None,
        "path": config.data,
        "validation_file_name": Path(config.validation_data).name if config.validation_data else None,
        "fingerprint": data.fingerprint,
        "columns": {"text": columns.text, "text_pair": columns.text_pair, "label": columns.label},
        "labels": list(data.labels),
        "label2id": {label: i for i, label in enumerate(data.labels)},
        "train_size": len(data.train.labels),
        "validation_size": len(data.validation.labels),
        "report": data.report.to_dict(),
    }


def save_model_atomic(model, tokenizer, target) -> None:
    """save_pretrained into a sibling temp folder, then swap it in: never a half-written model/."""
    import shutil
    from pathlib import Path

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
