"""What a config will cost before it runs: steps, the learning-rate schedule, rough time and GPU memory.

Steps are counted and the schedule is built by the trainer's own functions (training/schedule.py),
the scheduler on a throw-away optimizer, so the chart cannot drift from what training does.
Time and memory are rough, order-of-magnitude guesses and are labelled as such on screen.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from bertstudio.config import TrainConfig
# count_steps and StepCount are the estimate's API as well (the Hyperparameters tab, tests).
from bertstudio.training.schedule import StepCount, count_steps, make_scheduler, warmup_steps  # noqa: F401

SCHEDULE_POINTS = 400  # enough for a smooth line; the scheduler is sampled, not stepped, on long runs

# Parameter counts of well-known checkpoints, for models whose config.json is not on disk.
KNOWN_PARAMETERS = {
    "bert-base-uncased": 110e6, "bert-base-cased": 108e6, "distilbert-base-uncased": 66e6,
    "distilbert-base-cased": 65e6, "bert-base-multilingual-cased": 178e6, "bert-large-uncased": 335e6,
    "roberta-base": 125e6, "distilroberta-base": 82e6, "google/electra-small-discriminator": 14e6,
    "prajjwal1/bert-tiny": 4.4e6, "prajjwal1/bert-mini": 11e6, "prajjwal1/bert-small": 29e6,
    "nreimers/MiniLM-L6-H384-uncased": 22.7e6, "microsoft/deberta-v3-small": 141e6,
}
DEFAULT_PARAMETERS = 110e6
# The share of a model's parameters outside its embeddings, for models known only by name: the
# matrices a token's forward and backward pass multiply through (the embeddings are only looked up).
DEFAULT_COMPUTE_SHARE = 0.75  # bert-base: 85M of 110M
# Training throughput per CPU core in FLOP/s, end to end (loading and evaluation included), measured
# by bench/train_speed.py: the engine trained MiniLM on 8,000 SST-2 rows at 358 samples/s on 2
# AVX512-BF16 cores in bf16 (about 154 GFLOP/s per core, counted as 6 x non-embedding parameters x
# real tokens) and at 176 samples/s in fp32 (about 76). A GPU manages tens of TFLOP/s in mixed precision.
CPU_FLOPS_PER_CORE = {"no": 75e9, "bf16": 150e9}
GPU_FLOPS = 4e13


def schedule_points(config: TrainConfig, total_steps: int) -> tuple[list[int], list[float]]:
    """(steps, learning rates) from the real scheduler: the rate in effect after each optimizer step
    (what the trainer logs, so this line and the live chart coincide), from step 0."""
    if total_steps <= 0:
        return [], []
    import torch

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.learning_rate)
    count = StepCount(steps_per_epoch=0, total_steps=total_steps, warmup_steps=warmup_steps(config, total_steps))
    scheduler = make_scheduler(config, optimizer, count)  # epochs play no part in the schedule
    every = max(1, math.ceil(total_steps / SCHEDULE_POINTS))
    steps = sorted(set(range(0, total_steps + 1, every)) | {total_steps}
                   | _near_warmup_end(config, total_steps))
    # LambdaLR's multiplier is the scheduler's own formula; evaluating it at sampled steps gives
    # the same values as stepping through a million-step run, without the million steps.
    lr_lambda = scheduler.lr_lambdas[0]
    return steps, [config.learning_rate * lr_lambda(step) for step in steps]


def _near_warmup_end(config: TrainConfig, total_steps: int) -> set[int]:
    warmup = warmup_steps(config, total_steps)
    return {s for s in (warmup, warmup + 1) if 0 <= s <= total_steps}


@dataclass(frozen=True)
class ModelSize:
    total: float  # every parameter: what the screen names and what memory holds
    compute: float  # all but the embeddings: what every token is multiplied through


def model_size(model: str, folder: str | Path | None = None) -> ModelSize:
    """From the model's config.json when it is on disk (read once), else a known figure."""
    config = _model_config(model, folder)
    if config:
        total = parameters_from_config(config)
        return ModelSize(total, total - embedding_parameters(config))
    total = KNOWN_PARAMETERS.get(model, DEFAULT_PARAMETERS)
    return ModelSize(total, DEFAULT_COMPUTE_SHARE * total)


def _model_config(model: str, folder: str | Path | None) -> dict | None:
    for candidate in (folder, model):
        if candidate and (Path(candidate) / "config.json").is_file():
            try:
                config = json.loads((Path(candidate) / "config.json").read_text(encoding="utf-8"))
                parameters_from_config(config)  # has the sizes the estimate needs
                return config
            except (OSError, ValueError, KeyError, TypeError):
                return None
    return None


def embedding_parameters(config: dict) -> float:
    hidden = int(config.get("hidden_size") or config.get("dim"))
    return float((int(config.get("vocab_size", 30522)) + int(config.get("max_position_embeddings", 512))) * hidden)


def parameters_from_config(config: dict) -> float:
    """Embeddings plus per-layer attention (4·h²) and feed-forward (2·h·ffn) weights."""
    hidden = int(config.get("hidden_size") or config.get("dim"))
    layers = int(config.get("num_hidden_layers") or config.get("n_layers"))
    ffn = int(config.get("intermediate_size") or config.get("hidden_dim") or 4 * hidden)
    return embedding_parameters(config) + float(layers * (4 * hidden * hidden + 2 * hidden * ffn))


def estimate_seconds(compute_parameters: float, train_rows: int, validation_rows: int, epochs: int,
                     tokens_per_row: float, cpu_cores: int, gpu: bool, precision: str = "no",
                     cpu_load: float = 0.0) -> float:
    """Training costs ~6 FLOPs per non-embedding parameter per token (forward + backward),
    evaluation ~2. `precision` is the resolved one ('no' or 'bf16' on the CPU); `cpu_load` is what
    other programs already keep busy (see `busy_cores`)."""
    tokens = tokens_per_row * (train_rows * epochs)
    eval_tokens = tokens_per_row * validation_rows * epochs
    flops = 6 * compute_parameters * tokens + 2 * compute_parameters * eval_tokens
    per_core = CPU_FLOPS_PER_CORE.get(precision, CPU_FLOPS_PER_CORE["no"])
    rate = GPU_FLOPS if gpu else per_core * free_cores(max(1, cpu_cores), cpu_load)
    return flops / rate


def adaptation_compute_parameters(model: str, folder: str | Path | None = None,
                                  mlm_probability: float = 0.15) -> float:
    """What one token of continued pretraining is multiplied through, in parameters: the encoder,
    plus the word-guessing head (hidden x vocabulary, and a hidden x hidden layer) for the share
    of tokens that are hidden, the only ones the trainer runs it on (tasks/masked_lm.py)."""
    size = model_size(model, folder)
    config = _model_config(model, folder)
    if config:
        hidden = int(config.get("hidden_size") or config.get("dim"))
        head = hidden * int(config.get("vocab_size", 30522)) + hidden * hidden
    else:
        head = size.total - size.compute  # about the embedding matrix the head is tied to
    return size.compute + mlm_probability * head


def free_cores(cpu_cores: int, cpu_load: float) -> float:
    """The cores a new training gets when other programs already keep `cpu_load` of them busy: the
    scheduler shares the CPU among every runnable thread, so training's `cpu_cores` threads get
    cores / (cores + load) of it. On an idle machine that is all of them; with a load of 7 on 2
    cores under half a core, the 5-7 minutes a run then took where the estimate said one."""
    return cpu_cores * cpu_cores / (cpu_cores + max(0.0, cpu_load))


def busy_cores() -> float:
    """The machine's load over the last minute (runnable threads), 0 where the system has no load
    average. A snapshot: the guess can only be as steady as the machine."""
    import os

    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def estimate_gpu_memory_gb(parameters: float, batch_size: int, max_length: int, hidden: int = 768,
                           layers: int = 12) -> float:
    """AdamW in fp32 keeps ~16 bytes per parameter; activations grow with batch × length × layers."""
    weights = 16 * parameters
    activations = batch_size * max_length * hidden * layers * 34  # bytes, mixed precision rule of thumb
    return (weights + activations) / 1e9 * 1.2  # plus the CUDA context and fragmentation
