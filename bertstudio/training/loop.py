"""The epochs of one attempt: the loop's state declared together, one epoch's optimizer steps, and
the evaluation (with its checkpoint) that early stopping and resume hang on.

The trainer builds everything first (`trainer._build`) and saves afterwards (`trainer._finish`);
what happens between is here, in the order it runs: `run_epochs` -> `train_epoch` -> `_learn` per
batch, with `_log_step` and `evaluate_and_checkpoint` where the step count says so.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

from bertstudio.config import TrainConfig
from bertstudio.events import Evaluation, EventSink, Step
from bertstudio.runs.checkpoint_state import LoopState
from bertstudio.tasks.registry import watched_metric
from bertstudio.training.best import BestModel
from bertstudio.training.checkpoints import save_checkpoint
from bertstudio.training.evaluation import evaluate
from bertstudio.training.schedule import StepCount

TrainStep = Callable[[Any, dict], torch.Tensor]


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


@dataclass(frozen=True)
class Slice:
    """Where one call's share of a run ends (a ZeroGPU call lasts minutes): after `steps` optimizer
    steps or `seconds` since the call began, whichever comes first, at the next logged step (so no
    half-summed loss is lost), with a checkpoint that `train(..., resume_from=...)` carries on from.
    None for both: no limit, the call trains to the end."""
    steps: int | None = None
    seconds: float | None = None
    began: float = 0.0  # time.monotonic() when the call began, set by the trainer

    def over(self, steps_this_call: int) -> bool:
        return ((self.steps is not None and steps_this_call >= self.steps)
                or (self.seconds is not None and time.monotonic() - self.began >= self.seconds))


class NonFiniteLoss(Exception):
    def __init__(self, step: int, value: float) -> None:
        super().__init__(f"loss {value} at step {step}")
        self.step = step


@dataclass
class Position:
    """The optimizer step the loop has reached, where a failure is told at."""
    step: int = 0


@dataclass
class Throughput:
    """Samples and tokens trained on, and the seconds it took (evaluations not counted)."""
    samples: int
    tokens: int
    seconds: float

    def per_second(self, count: float) -> float:
        return count / self.seconds if self.seconds else 0.0


class Loop:
    """One attempt's loop over the prepared parts (`trainer._Parts`), from `state` on."""

    def __init__(self, config: TrainConfig, accelerator, run, sink: EventSink, stop: StopControl, parts,
                 train_step: TrainStep, state: LoopState, best_weights: dict | None, at: Position,
                 started_at: float, slice: Slice | None = None) -> None:  # noqa: A002 - the trainer's keyword
        self.config, self.accelerator, self.run, self.sink, self.stop = config, accelerator, run, sink, stop
        self.parts, self.train_step, self.at, self.started_at = parts, train_step, at, started_at
        self.slice, self.first_step = slice or Slice(), state.step
        task = parts.task
        # --- loop state, declared together (restored from the checkpoint when resuming) --------
        self.step = at.step = state.step
        metric = watched_metric(task, config.metric_for_best)
        self.best = BestModel(metric, keep=config.keep_best, patience=config.early_stopping_patience,
                              state=state, weights=best_weights, higher_is_better=task.higher_is_better(metric))
        self.last_eval = self.best.best_eval
        self.window_loss = torch.zeros((), device=accelerator.device)  # summed since the last Step event
        self.window_batches = 0
        self.grad_norm = None
        self.meter = Throughput(state.samples_seen, state.tokens_seen, state.train_seconds)
        self.epoch, self.batches_done = state.epoch, state.batches_done_in_epoch  # the data position
        if self.batches_done >= len(parts.train_loader):  # the checkpoint was taken at the end of an epoch
            self.epoch, self.batches_done = self.epoch + 1, 0
        self.stopped_by_user = self.stopped_early = False
        self.paused = False  # this call's slice is over; the run carries on in the next call

    @property
    def stopping(self) -> bool:
        return self.stopped_by_user or self.stopped_early or self.paused

    def run_epochs(self) -> None:
        """Every epoch left, each ending with its evaluation when the settings (or the last epoch) say so."""
        config, epochs = self.config, self.parts.steps.epochs
        self.parts.model.train()
        for epoch in range(self.epoch, epochs):
            self.epoch = epoch  # read by evaluate_and_checkpoint, for the checkpoint's data position
            self.train_epoch()
            if self.stopping:
                break
            if config.eval_strategy == "epoch" or epoch == epochs - 1:
                self.stopped_early = self.evaluate_and_checkpoint()
                if self.stopped_early:
                    break
            # Between epochs, after the epoch's evaluation: the checkpoint's data position is then
            # the epoch's end, which a resumed Loop reads as the start of the next one.
            if epoch < epochs - 1 and self._slice_ends():
                break
            self.batches_done = 0
        if self.paused:
            self.save_checkpoint()

    def train_epoch(self) -> None:
        """One epoch's batches from the data position on: a Step event every `logging_steps`, an
        evaluation every `eval_steps` (by steps), and the stop check after every optimizer step."""
        config, accelerator, loader = self.config, self.accelerator, self.parts.train_loader
        loader.set_epoch(self.epoch)
        batches = loader
        if self.batches_done:  # resuming mid-epoch: the same order, minus the batches already seen
            batches = accelerator.skip_first_batches(loader, self.batches_done)
            batches.set_epoch(self.epoch)
        tick = time.perf_counter()
        for batch in batches:
            self.batches_done += 1
            if not self._learn(batch):  # accumulating gradients: no optimizer step yet
                continue
            self.step = self.at.step = self.step + 1
            last_step = self.step == self.parts.steps.total_steps
            if self.step % config.logging_steps == 0 or last_step:
                self.meter.seconds += time.perf_counter() - tick
                tick = time.perf_counter()
                self._log_step()
            if config.eval_strategy == "steps" and self.step % config.eval_steps == 0 and not last_step:
                self.meter.seconds += time.perf_counter() - tick
                self.stopped_early = self.evaluate_and_checkpoint()
                tick = time.perf_counter()
            if _agreed_stop(accelerator, self.stop):
                self.stopped_by_user = True
            # An epoch's last batch is left to run_epochs, so its evaluation comes before the pause.
            if not last_step and self.batches_done < len(loader):
                self._slice_ends()
            if self.stopping or last_step:  # a step limit can end an epoch part-way
                break
        self.meter.seconds += time.perf_counter() - tick

    def _learn(self, batch: dict) -> bool:
        """Forward and backward on one batch, stepping the optimizer at an accumulation boundary;
        True when it did (an optimizer step was taken)."""
        config, accelerator, parts, model = self.config, self.accelerator, self.parts, self.parts.model
        batch.pop("index")
        self.meter.samples += batch["input_ids"].shape[0] * accelerator.num_processes
        self.meter.tokens += batch.pop("num_tokens") * accelerator.num_processes
        with accelerator.accumulate(model):
            loss = self.train_step(model, batch)
            accelerator.backward(loss)
            if accelerator.sync_gradients and config.max_grad_norm > 0:
                self.grad_norm = parts.clip_gradients(config.max_grad_norm)
            parts.optimizer.step()
            parts.scheduler.step()
            parts.optimizer.zero_grad(set_to_none=True)
        # Summed on the device: reading the loss every step would stall the GPU.
        self.window_loss += loss.detach().float()
        self.window_batches += 1
        return accelerator.sync_gradients

    def _log_step(self) -> None:
        """The mean loss since the last Step event (across processes) as the next one; NaN stops the run."""
        mean_loss = self.accelerator.reduce(self.window_loss, "mean").item() / self.window_batches
        if not math.isfinite(mean_loss):
            raise NonFiniteLoss(self.step, mean_loss)
        self.sink.emit(_step_event(self.step, self.parts.steps, mean_loss, self.parts.scheduler.get_last_lr()[0],
                                   self.grad_norm, self.meter, self.started_at))
        self.window_loss.zero_()
        self.window_batches = 0

    def evaluate_and_checkpoint(self) -> bool:
        """Evaluate, track the best weights, checkpoint; True when early stopping says enough."""
        accelerator, parts, model, step = self.accelerator, self.parts, self.parts.model, self.step
        parts.settle_weights()  # rows no batch used since: the weights dense AdamW would hold
        self.last_eval = evaluate(model, parts.val_loader, accelerator, parts.task, parts.data.space)
        improved = self.best.observe(self.last_eval, step, lambda: accelerator.unwrap_model(model).state_dict())
        self.sink.emit(Evaluation(step=step, epoch=step / parts.steps.steps_per_epoch, metrics=self.last_eval.metrics,
                                  is_best=improved))
        if step < parts.steps.total_steps and not self.best.enough and not self.stop.requested:
            # Checkpoint at every evaluation but the last: a killed run resumes from here.
            self.save_checkpoint()
        return self.best.enough

    def save_checkpoint(self) -> None:
        """The checkpoint a killed or paused run carries on from: weights, optimizer, RNG, data position.
        Embedding rows still waiting for their missed steps stay waiting: the optimizer's state
        holds what catching up needs, so a resumed run catches up exactly when this one would."""
        save_checkpoint(self.accelerator, self.run.path, LoopState(
            step=self.step, epoch=self.epoch, batches_done_in_epoch=self.batches_done,
            samples_seen=self.meter.samples, tokens_seen=self.meter.tokens, train_seconds=self.meter.seconds,
            last_metrics=self.last_eval.metrics if self.last_eval is not None else None,
            **self.best.loop_fields()), self.best.best_state)

    def _slice_ends(self) -> bool:
        """Pause here when this call's slice is over and no loss is half-summed (just logged)."""
        if not self.stopping and self.window_batches == 0 and self.step < self.parts.steps.total_steps:
            self.paused = _agreed(self.accelerator, self.slice.over(self.step - self.first_step))
        return self.paused


def _step_event(step: int, steps: StepCount, loss: float, learning_rate: float, grad_norm, meter: Throughput,
                started_at: float) -> Step:
    rate = meter.per_second(step)
    return Step(step=step, total_steps=steps.total_steps, epoch=step / steps.steps_per_epoch, loss=loss,
                learning_rate=learning_rate, grad_norm=None if grad_norm is None else float(grad_norm),
                samples_per_second=meter.per_second(meter.samples),
                tokens_per_second=meter.per_second(meter.tokens),
                elapsed_seconds=time.time() - started_at,
                eta_seconds=(steps.total_steps - step) / rate if rate else None)


def _agreed(accelerator, flag: bool) -> bool:
    """True on every process when it is on any (a clock read differs between processes)."""
    if accelerator.num_processes == 1:
        return flag
    return bool(accelerator.reduce(torch.tensor(float(flag), device=accelerator.device), "sum").item())


def _agreed_stop(accelerator, stop: StopControl) -> bool:
    """Every process must leave the loop together, or the others would wait forever in a
    collective; with one process this is just the flag."""
    if accelerator.num_processes == 1:
        return stop.requested
    if stop.requested:
        accelerator.set_trigger()
    return accelerator.check_trigger()
