"""Dropout for training on the CPU, about three times faster than torch's, same distribution.

On the CPU, torch draws one 32-bit Mersenne-Twister number per dropped-or-kept element, and a BERT
step calls dropout fifteen times (embeddings, twice per layer, the head) plus once per layer inside
attention, where a nonzero dropout also pushes scaled_dot_product_attention onto its slow path.
On SST-2 with MiniLM that was about 15% of a training step. Here one 64-bit draw gives four 16-bit
lanes and each lane is kept when it clears a threshold, so the keep probability is 1 - p to within
1/65536, kept values are scaled by 1 / (1 - p) as usual, and the draws come from torch's default
generator, so `torch.manual_seed` (and a checkpoint's saved RNG state) still fixes every mask.

`fast_dropout(model)` swaps a model's `nn.Dropout` modules and its attention function for these
while training and puts the originals back on exit: nothing is saved differently (dropout has no
weights) and evaluation, which runs without dropout, takes the usual fused attention.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

ATTENTION_NAME = "bertstudio_fast_dropout"
_LANE_VALUES = 1 << 16


def drop(x: torch.Tensor, p: float) -> torch.Tensor:
    """Zero each element with probability p (to 1/65536) and scale the rest by 1 / (1 - p)."""
    if p <= 0.0:
        return x
    if p >= 1.0:
        return torch.zeros_like(x)
    count = x.numel()
    # random_(-2**63, None) fills all 64 bits; reading them as int16 gives four uniform lanes.
    bits = torch.empty((count + 3) // 4, dtype=torch.int64, device=x.device).random_(-2**63, None)
    lanes = bits.view(torch.int16)[:count].view(x.shape)
    keep = lanes >= round(p * _LANE_VALUES) - _LANE_VALUES // 2
    # where() keeps only the boolean mask for backward: one byte per element.
    return torch.where(keep, x * (1.0 / (1.0 - p)), 0)


class FastDropout(nn.Module):
    """Drop-in for nn.Dropout (same `p`, same train / eval behaviour)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop(x, self.p) if self.training else x

    def extra_repr(self) -> str:
        return f"p={self.p}"


def attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
              attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0,
              **_: object) -> tuple[torch.Tensor, None]:
    """transformers' attention-function signature. Without dropout (evaluation) it is exactly the
    sdpa implementation; with it, the softmax weights go through the fast dropout above."""
    if dropout == 0.0:
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, scale=scaling)
    else:
        weights = torch.matmul(query, key.transpose(-2, -1)) * (scaling or query.shape[-1] ** -0.5)
        if attention_mask is not None:  # the sdpa mask: True where a key may be attended to
            weights = (weights.masked_fill(~attention_mask, torch.finfo(weights.dtype).min)
                       if attention_mask.dtype == torch.bool else weights + attention_mask)
        out = torch.matmul(drop(torch.softmax(weights, dim=-1), dropout), value)
    return out.transpose(1, 2).contiguous(), None


def _register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(ATTENTION_NAME, attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION_NAME, sdpa_mask)  # masks shaped as for sdpa


def supports_fast_attention(model: nn.Module) -> bool:
    """Models that already run sdpa attention take ours in its place (BERT and its kin do)."""
    return getattr(getattr(model, "config", None), "_attn_implementation", None) == "sdpa"


@contextlib.contextmanager
def fast_dropout(model: nn.Module) -> Iterator[nn.Module]:
    """Train `model` with the fast dropout; everything is put back on exit, even on error."""
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    for parent in model.modules():
        for name, child in parent.named_children():
            if type(child) is nn.Dropout:  # subclasses may do more than drop
                swapped.append((parent, name, child))
                setattr(parent, name, FastDropout(child.p).train(child.training))
    config = getattr(model, "config", None)
    attention_before = getattr(config, "_attn_implementation", None)
    if supports_fast_attention(model):
        _register_attention()
        config._attn_implementation = ATTENTION_NAME
    try:
        yield model
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)
        if config is not None and attention_before is not None:
            config._attn_implementation = attention_before
