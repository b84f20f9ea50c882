"""Optimizer steps and the scheduler built over them, one count for the trainer and the estimate."""

import warnings

import torch

from bertstudio.config import TrainConfig
from bertstudio.training.schedule import count_steps, make_scheduler, steps_per_epoch


def test_each_process_takes_its_share_of_batches_and_a_short_accumulation_group_still_steps():
    assert steps_per_epoch(100, batch_size=8, num_processes=1, accumulation=1) == 13
    assert steps_per_epoch(100, batch_size=8, num_processes=1, accumulation=3) == 5
    assert steps_per_epoch(100, batch_size=8, num_processes=2, accumulation=1) == 7
    assert steps_per_epoch(0, batch_size=8, num_processes=1, accumulation=1) == 0


def test_warmup_is_the_ratio_of_all_steps_rounded_down():
    count = count_steps(TrainConfig(batch_size=8, gradient_accumulation_steps=3, epochs=2, warmup_ratio=0.25),
                        train_rows=100)
    assert (count.steps_per_epoch, count.total_steps, count.warmup_steps) == (5, 10, 2)


def test_under_several_processes_the_scheduler_counts_each_process_step():
    config = TrainConfig(scheduler="linear", learning_rate=1e-3, warmup_ratio=0.0, epochs=1, batch_size=10)
    steps = count_steps(config, train_rows=40, processes=2)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.learning_rate)
    scheduler = make_scheduler(config, optimizer, steps, processes=2)
    assert steps.total_steps == 2
    # Accelerate steps the scheduler once per process: halfway after one optimizer step on two processes.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stepping a scheduler with no optimizer step warns
        scheduler.step()
        scheduler.step()
    assert abs(scheduler.get_last_lr()[0] - 5e-4) < 1e-12
