"""How much memory a training needs on one device, before it starts, and whether that fits what is free.

An estimate from the model's shape and the form's settings, not a measurement: weights kept in
fp32 (plus the 16-bit copies mixed precision makes of the layer weights), their gradients, AdamW's
two fp32 moments, the activations kept for the backward pass at the longest batch the settings
allow (batch size x max length; dynamic padding makes most batches shorter), and what the runtime
itself takes. Activations follow Korthikanti et al. 2022 ("Reducing Activation Recomputation in
Large Transformer Models", section 4.1): per layer and token 34·h bytes in 16-bit (2·ffn per
feed-forward tensor where ffn is not 4·h), plus 5·a·s bytes where attention keeps its s x s
scores; fp32 doubles the 16-bit share. Gradient accumulation costs no memory (each micro-batch
frees its activations), and data parallel training keeps the whole model on every GPU, with the
batch per process, so the need is per device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bertstudio.config import TrainConfig
from bertstudio.tasks.base import PRETRAINING_TASK

GIB = 1024 ** 3
# What a process holds before any tensor of the run: on a GPU the CUDA context, cuBLAS workspace
# and loaded kernels (about half a gigabyte with torch 2 on recent cards); on the CPU the Python
# process with torch, transformers and the tokenizer imported.
GPU_RUNTIME_BYTES = int(0.6 * GIB)
CPU_RUNTIME_BYTES = int(0.7 * GIB)
FRAGMENTATION = 0.10  # the caching allocator's blocks never pack perfectly
FITS_SHARE = 0.85  # below this share of the free memory a run fits with room; up to all of it, tight

# Shapes of the curated models (bertstudio.models.CURATED_MODELS) for when their config.json is
# not on this machine (offline, never downloaded): their published configs' sizes.
_BERT = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
         "vocab_size": 30522, "max_position_embeddings": 512, "type_vocab_size": 2}
KNOWN_SHAPES: dict[str, dict[str, Any]] = {
    "bert-base-uncased": _BERT,
    "bert-base-cased": {**_BERT, "vocab_size": 28996},
    "bert-base-multilingual-cased": {**_BERT, "vocab_size": 119547},
    "distilbert-base-uncased": {"dim": 768, "n_layers": 6, "n_heads": 12, "hidden_dim": 3072,
                                "vocab_size": 30522, "max_position_embeddings": 512},
    "sentence-transformers/all-MiniLM-L6-v2": {**_BERT, "hidden_size": 384, "num_hidden_layers": 6,
                                               "intermediate_size": 1536},
    "google/bert_uncased_L-4_H-256_A-4": {**_BERT, "hidden_size": 256, "num_hidden_layers": 4,
                                          "num_attention_heads": 4, "intermediate_size": 1024},
    "huawei-noah/TinyBERT_General_4L_312D": {**_BERT, "hidden_size": 312, "num_hidden_layers": 4,
                                             "intermediate_size": 1200},
    "prajjwal1/bert-tiny": {**_BERT, "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
                            "intermediate_size": 512},
}


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs of a model; `assumed` when nothing about it was found (BERT-base taken)."""

    parameters: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    assumed: bool = False
    eager_attention: bool = False  # its config asks for the attention that keeps every score


def shape_from_config(config: dict[str, Any], *, assumed: bool = False) -> ModelShape | None:
    """A parsed config.json (BERT-style or DistilBERT keys) as a shape; None for another kind."""
    from bertstudio.recommend import parameters_from_config

    parameters = parameters_from_config(config)
    if parameters is None:
        return None
    hidden = int(config.get("hidden_size") or config.get("dim"))
    return ModelShape(parameters=parameters, hidden=hidden,
                      layers=int(config.get("num_hidden_layers") or config.get("n_layers")),
                      heads=int(config.get("num_attention_heads") or config.get("n_heads") or max(1, hidden // 64)),
                      intermediate=int(config.get("intermediate_size") or config.get("hidden_dim") or 4 * hidden),
                      vocab=int(config["vocab_size"]), assumed=assumed,
                      eager_attention=config.get("attn_implementation") == "eager")


def model_shape(model: str) -> ModelShape:
    """The shape of `model` as TrainConfig names it: from its config.json where one is on disk (the
    bundled model, a folder, a run, the hub cache), else the curated list's, else BERT-base's."""
    from bertstudio.recommend import read_model_config

    name = (model or "").strip()
    config = read_model_config(name)
    shape = shape_from_config(config) if config is not None else None
    if shape is None and name in KNOWN_SHAPES:
        shape = shape_from_config(KNOWN_SHAPES[name])
    return shape or shape_from_config(_BERT, assumed=True)  # type: ignore[return-value]


@dataclass(frozen=True)
class MemoryNeed:
    """Bytes one device needs for a run, by what holds them."""

    weights: int  # fp32 master weights, and the 16-bit copies of the layer weights under mixed precision
    gradients: int  # fp32, plus the buckets several GPUs sync them through
    optimizer: int  # AdamW's two fp32 moments
    activations: int  # kept for the backward pass, at batch x max length
    runtime: int  # CUDA context or the Python process, and allocator fragmentation
    batch_size: int
    max_length: int
    sixteen_bit: bool  # mixed precision: activations in bf16 / fp16
    scores_kept: bool  # attention keeps its s x s scores (eager; fused sdpa kernels do not)
    shape: ModelShape

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.runtime


def sixteen_bit_precision(requested: str, gpu: bool) -> bool:
    """Whether a run with this precision setting computes in 16 bits on that kind of device: 'auto'
    does on a GPU (bf16, or fp16 on older cards: the same size) and on a CPU with native bf16."""
    if requested == "fp32":
        return False
    if gpu:
        return True
    from bertstudio.errors import StudioError
    from bertstudio.training.precision import resolve_precision

    try:
        return resolve_precision(requested, cuda=False) != "no"
    except StudioError:  # fp16 on a CPU: the run itself refuses it, in words; estimate fp32
        return False


def estimate_need(config: TrainConfig, shape: ModelShape, *, gpu: bool, gpus: int = 1,
                  sixteen_bit: bool | None = None) -> MemoryNeed:
    """The memory one device needs for `config` with a model of `shape`. `gpus`: how many GPUs train
    it together (data parallel). `sixteen_bit` defaults to what the precision setting gives there."""
    sixteen = sixteen_bit_precision(config.precision, gpu) if sixteen_bit is None else sixteen_bit
    # On a GPU, BERT's default sdpa attention runs fused kernels that never store the scores; on
    # the CPU the trainer's own dropout attention (training/fast_dropout.py) keeps them, as eager does.
    scores_kept = shape.eager_attention or not gpu
    p = shape.parameters
    embeddings = (shape.vocab + 512 + 2) * shape.hidden
    weights = 4 * p + (2 * max(0, p - embeddings) if sixteen else 0)  # autocast caches 16-bit weights
    gradients = 4 * p * (2 if gpu and gpus > 1 else 1)  # DDP's buckets copy every gradient
    tokens = config.batch_size * config.max_length
    # On the CPU, bf16 autocast saved little: MiniLM at 32 x 128 peaked at 2,076 MiB in bf16 against
    # 2,231 MiB in fp32 (bench/memory_need.py), as the CPU's kernels keep fp32 inputs for backward.
    # So the CPU's activations are counted in fp32 whatever the precision; the GPU's halve.
    activations = tokens * activation_bytes_per_token(shape, config.max_length, sixteen=sixteen and gpu,
                                                      scores_kept=scores_kept,
                                                      masked_lm=_masked_lm(config, shape))
    tensors = weights + gradients + 8 * p + activations
    runtime = (GPU_RUNTIME_BYTES if gpu else CPU_RUNTIME_BYTES) + int(FRAGMENTATION * tensors)
    return MemoryNeed(weights=weights, gradients=gradients, optimizer=8 * p, activations=activations,
                      runtime=runtime, batch_size=config.batch_size, max_length=config.max_length,
                      sixteen_bit=sixteen, scores_kept=scores_kept, shape=shape)


def activation_bytes_per_token(shape: ModelShape, length: int, *, sixteen: bool, scores_kept: bool,
                               masked_lm: float = 0.0) -> float:
    """Korthikanti et al.'s count per token (section 4.1), with the element size as a parameter:
    per layer, the inputs of the QKV, score, value and output products (5·h), the two LayerNorms'
    inputs (2·h) and the feed-forward's input (h) and GeLU input and output (2·ffn) at 2 or 4 bytes,
    plus two 1-byte dropout masks (2·h); where the scores are kept, the softmax, its dropout output
    (a·s each) and its mask (a·s, 1 byte). With e = 2 and ffn = 4·h: 34·h + 5·a·s. Then the
    embeddings' output (two fp32 tensors and a mask), and for masked-LM training the vocabulary
    logits and their gradient (fp32) of the `masked_lm` share of tokens it predicts."""
    e = 2 if sixteen else 4
    h, ffn, a = shape.hidden, shape.intermediate, shape.heads
    per_layer = 8 * h * e + 2 * ffn * e + 2 * h
    if scores_kept:
        per_layer += a * length * (2 * e + 1)
    embeddings = h * (2 * 4 + 1)
    return shape.layers * per_layer + embeddings + masked_lm * shape.vocab * 4 * 2


def _masked_lm(config: TrainConfig, shape: ModelShape) -> float:
    """The share of tokens the word-guessing head runs on: only while the run adapts its model
    (tasks/masked_lm.py predicts the hidden tokens only)."""
    return config.mlm_probability if config.task == PRETRAINING_TASK or config.adapt_epochs > 0 else 0.0


# --- against a device ------------------------------------------------------------------------------

FITS, TIGHT, DOES_NOT_FIT = "fits", "tight", "does not fit"


@dataclass(frozen=True)
class Verdict:
    word: str  # FITS, TIGHT or DOES_NOT_FIT
    advice: str  # a sentence saying what to change, or "" when nothing needs to


def judge(config: TrainConfig, shape: ModelShape, free_bytes: int, *, gpu: bool, gpus: int = 1,
          processes: int = 1, sixteen_bit: bool | None = None) -> tuple[MemoryNeed, Verdict]:
    """The need on one device and whether it fits `free_bytes` (the least free of the chosen GPUs,
    or the RAM free, which `processes` CPU processes share with a copy of the model each)."""
    need = estimate_need(config, shape, gpu=gpu, gpus=gpus, sixteen_bit=sixteen_bit)
    copies = 1 if gpu else max(1, processes)
    if need.total * copies <= FITS_SHARE * free_bytes:
        return need, Verdict(FITS, "")
    if need.total * copies <= free_bytes:
        return need, Verdict(TIGHT, "It may run out of memory once other programs take some; if a step does, "
                                    "the run retries it with half the batch.")
    return need, Verdict(DOES_NOT_FIT, _smaller(config, shape, free_bytes / copies, gpu, gpus, need.sixteen_bit))


def _smaller(config: TrainConfig, shape: ModelShape, free: float, gpu: bool, gpus: int, sixteen: bool) -> str:
    """What would fit: the largest batch at this length, else the longest length at this batch."""
    def fits(**change: int) -> bool:
        need = estimate_need(config.replace(**change), shape, gpu=gpu, gpus=gpus, sixteen_bit=sixteen)
        return need.total <= FITS_SHARE * free

    largest = next((b for b in range(config.batch_size - 1, 0, -1) if fits(batch_size=b)), None)
    if largest is not None:
        # The fewest accumulation steps whose batch fits, preferring a batch that divides the one
        # asked for, so that the effective batch stays exactly what it was.
        steps = next((k for k in range(2, config.batch_size + 1)
                      if config.batch_size % k == 0 and config.batch_size // k <= largest), None)
        if steps is None:
            steps = -(-config.batch_size // largest)
        batch = -(-config.batch_size // steps)
        effective, after = (config.batch_size * config.gradient_accumulation_steps,
                            batch * steps * config.gradient_accumulation_steps)
        keeps = (f"the same effective batch of {after}" if after == effective
                 else f"an effective batch of {after}, against {effective} now")
        return (f"Lower the batch size to {batch} with gradient accumulation {steps * config.gradient_accumulation_steps}"
                f" ({keeps}), or shorten the max length.")
    length = next((n for n in range(config.max_length - 8, 7, -8) if fits(batch_size=1, max_length=n)), None)
    if length is not None:
        return f"Even one row per batch is too much at {config.max_length} tokens: lower the max length to {length}."
    return "The model alone needs more memory than is free: pick a smaller model, or another device."
