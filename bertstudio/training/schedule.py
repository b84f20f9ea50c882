"""How many optimizer steps a run takes and the learning-rate schedule over them: one count for the
trainer and for the estimate shown before a run, so the two cannot drift apart."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bertstudio.config import TrainConfig


@dataclass(frozen=True)
class StepCount:
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    epochs: int = 1  # epochs begun: the setting, or as many as a step limit reaches into


def steps_per_epoch(rows: int, batch_size: int, num_processes: int, accumulation: int) -> int:
    """Optimizer steps in one epoch: each process takes its share of the batches (the last one
    short), and every `accumulation` batches make one step (a short group at the end still steps)."""
    batches = math.ceil(rows / (batch_size * num_processes))
    return math.ceil(batches / accumulation)


def count_steps(config: TrainConfig, train_rows: int, processes: int = 1) -> StepCount:
    """Steps per epoch, in all, and of warm-up, for `train_rows` training rows on `processes`
    processes. A step limit (`max_steps`) replaces the epochs: the run takes exactly that many
    steps, going round the data as often as it needs, the last round cut short."""
    per_epoch = steps_per_epoch(train_rows, config.batch_size, processes, config.gradient_accumulation_steps)
    if config.max_steps:
        total = config.max_steps
        epochs = math.ceil(total / per_epoch) if per_epoch else 1
    else:
        total, epochs = per_epoch * config.epochs, config.epochs
    return StepCount(per_epoch, total, warmup_steps(config, total), epochs)


def warmup_steps(config: TrainConfig, total_steps: int) -> int:
    """The warm-up's share of `total_steps`, rounded down."""
    return int(config.warmup_ratio * total_steps)


def make_scheduler(config: TrainConfig, optimizer, steps: StepCount, processes: int = 1):
    """transformers' scheduler for the run. Accelerate's prepared scheduler steps once per process
    per optimizer step, so under several processes its step counts are scaled to match."""
    from transformers import get_scheduler

    return get_scheduler(config.scheduler, optimizer, num_warmup_steps=steps.warmup_steps * processes,
                         num_training_steps=steps.total_steps * processes)
