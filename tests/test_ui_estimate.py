"""Steps, schedule and cost estimates: counted as the trainer counts, drawn from the real scheduler."""

import math
import warnings

import pytest
import torch
from transformers import get_scheduler

from bertstudio.config import TrainConfig
from bertstudio.ui import estimate


def test_steps_are_counted_like_the_trainer_counts_them():
    config = TrainConfig(batch_size=8, gradient_accumulation_steps=3, epochs=2, warmup_ratio=0.1)
    count = estimate.count_steps(config, train_rows=100)
    # 13 batches per epoch, 5 optimizer steps (the last one accumulates a single batch)
    assert (count.steps_per_epoch, count.total_steps, count.warmup_steps) == (5, 10, 1)
    assert estimate.count_steps(config, train_rows=0).total_steps == 0


@pytest.mark.parametrize("scheduler", ["linear", "cosine", "constant_with_warmup"])
def test_schedule_matches_stepping_the_real_scheduler(scheduler):
    config = TrainConfig(scheduler=scheduler, learning_rate=4e-5, warmup_ratio=0.2)
    total = 30
    steps, rates = estimate.schedule_points(config, total)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.learning_rate)
    real = get_scheduler(scheduler, optimizer, num_warmup_steps=int(0.2 * total), num_training_steps=total)
    stepped = [real.get_last_lr()[0]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stepping a scheduler with no optimizer step warns
        for _ in range(total):
            real.step()
            stepped.append(real.get_last_lr()[0])
    assert steps == list(range(total + 1))
    assert all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15) for a, b in zip(rates, stepped))


def test_a_million_step_schedule_is_sampled_not_stepped():
    steps, rates = estimate.schedule_points(TrainConfig(warmup_ratio=0.1), 1_000_000)
    assert len(steps) <= estimate.SCHEDULE_POINTS + 4 and steps[-1] == 1_000_000
    assert max(rates) == pytest.approx(5e-5) and rates[-1] == 0.0
    assert 100_000 in steps  # the warmup peak is drawn, not skipped


def test_parameters_come_from_the_models_config_when_it_is_on_disk(tmp_path):
    (tmp_path / "config.json").write_text('{"hidden_size": 768, "num_hidden_layers": 12, '
                                          '"intermediate_size": 3072, "vocab_size": 30522}')
    assert estimate.model_size("whatever", tmp_path).total == pytest.approx(110e6, rel=0.05)
    assert estimate.model_size("distilbert-base-uncased").total == 66e6


def test_more_work_takes_longer_and_a_gpu_or_bf16_is_faster():
    base = dict(compute_parameters=85e6, train_rows=1000, validation_rows=100, epochs=3, tokens_per_row=64,
                cpu_cores=2)
    cpu = estimate.estimate_seconds(gpu=False, **base)
    assert estimate.estimate_seconds(gpu=True, **base) < cpu
    assert estimate.estimate_seconds(gpu=False, precision="bf16", **base) < cpu
    assert estimate.estimate_seconds(gpu=False, **{**base, "epochs": 6}) > cpu
    assert estimate.estimate_gpu_memory_gb(110e6, 32, 128) > estimate.estimate_gpu_memory_gb(110e6, 8, 128)


def test_compute_counts_everything_but_the_embeddings(tmp_path):
    (tmp_path / "config.json").write_text('{"hidden_size": 768, "num_hidden_layers": 12, '
                                          '"intermediate_size": 3072, "vocab_size": 30522}')
    assert estimate.model_size("whatever", tmp_path).compute == pytest.approx(85e6, rel=0.01)
    assert estimate.model_size("bert-base-uncased").compute == pytest.approx(82.5e6)


def test_the_cpu_estimate_is_close_to_the_recorded_benchmark(repo_root, shared_dir):
    """The rough time for the benchmark's run lands within 2x of what bench/train_speed.py measured."""
    import json

    record = json.loads((repo_root / "bench/results/train_speed.json").read_text())
    settings, engine = record["settings"], record["runs"]["engine"][0]
    model = shared_dir / "models" / "minilm-l6-h384-uncased"
    train_rows = round(engine["e2e_samples_per_s"] * engine["total_seconds"] / settings["epochs"])
    real_tokens = engine["real_tokens_per_s"] * engine["train_seconds"] / settings["epochs"]
    guess = estimate.estimate_seconds(estimate.model_size(str(model), model).compute, train_rows,
                                      validation_rows=settings["rows"] - train_rows, epochs=settings["epochs"],
                                      tokens_per_row=real_tokens / train_rows, cpu_cores=record["machine"]["cores"],
                                      gpu=False, precision=settings["precision"])
    assert 0.5 < guess / engine["train_seconds"] < 2


def test_a_busy_machine_makes_the_guess_longer():
    base = dict(compute_parameters=10e6, train_rows=1000, validation_rows=100, epochs=3, tokens_per_row=64,
                cpu_cores=2, gpu=False)
    idle = estimate.estimate_seconds(**base)
    assert estimate.estimate_seconds(cpu_load=0.0, **base) == idle
    # 7 other runnable threads on 2 cores: training gets 2 of 9 shares of the CPU, 4.5x slower.
    assert estimate.estimate_seconds(cpu_load=7.0, **base) == pytest.approx(idle * 4.5)
    assert estimate.free_cores(2, 0.0) == 2 and estimate.busy_cores() >= 0.0


def test_the_summary_calls_its_time_a_guess_and_points_to_the_measured_one():
    from bertstudio.ui.hyperparams_tab import _time_guess

    text = _time_guess(300.0, gpu=False, cores=2, load=5.1, parameters=1.3e6)
    assert text.startswith("**Rough guess") and "only a guess" in text and "measured" in text
    assert "about 5 minutes" in text and "load 5.1" in text and "1.3M parameters" in text
    assert "busy" not in _time_guess(300.0, gpu=False, cores=2, load=0.1, parameters=110e6)
