"""An attention layer's query, key and value projections as one matrix product, while training on the CPU.

BERT computes Q, K and V with three `nn.Linear` products of the same hidden states. On a short-text
batch (SST-2: 32 rows of ~13 tokens) each product is small, and the CPU multiplies one 384 x 1152
matrix at ~960 GFLOP/s where three 384 x 384 ones reach ~600 (bench/step_profile.py's machine); under
autocast the hidden states are also cast to bf16 once instead of three times. Fused, a MiniLM
training step took ~5 % less time. The result is the same product: the three weight matrices are
stacked for the call and the output split back, so gradients reach each projection's own weights
and nothing saved changes (the modules, their names and their parameters stay as they are).

`fused_qkv(model)` finds every module holding three such projections (`query`/`key`/`value` as in
BERT, RoBERTa and ELECTRA; `q_lin`/`k_lin`/`v_lin` as in DistilBERT) and routes their calls
through one shared product; the first call with a given input computes all three, the other two
take their share. A projection called with any other input computes its own product as before,
so a layout this does not expect is slower, never wrong. Everything is put back on exit.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

PROJECTION_NAMES = (("query", "key", "value"), ("q_lin", "k_lin", "v_lin"))


class _SharedProduct:
    """One stacked product for three projections of the same input, handed out once to each."""

    def __init__(self, projections: list[nn.Linear]) -> None:
        self.projections = projections
        self.sizes = [p.out_features for p in projections]
        self.pending: tuple[torch.Tensor, tuple[torch.Tensor, ...], set[int]] | None = None

    def output(self, index: int, x: torch.Tensor) -> torch.Tensor:
        if self.pending is None or self.pending[0] is not x or index in self.pending[2]:
            self.pending = (x, self._product(x), set())
        _, outputs, taken = self.pending
        taken.add(index)
        if len(taken) == len(outputs):  # all three handed out: hold no activations past the layer
            self.pending = None
        return outputs[index]

    def _product(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        weights = [p.weight for p in self.projections]
        biases = [p.bias for p in self.projections]
        device = x.device.type
        if torch.is_autocast_enabled(device):  # stack the 16-bit copies autocast would have made
            dtype = torch.get_autocast_dtype(device)
            x = x.to(dtype)
            weights = [w.to(dtype) for w in weights]
            biases = [b.to(dtype) for b in biases] if biases[0] is not None else biases
        bias = torch.cat(biases) if biases[0] is not None else None
        return F.linear(x, torch.cat(weights), bias).split(self.sizes, dim=-1)


def _fusable(projections: list) -> bool:
    if not all(type(p) is nn.Linear for p in projections):  # a subclass (LoRA, quantized) may differ
        return False
    first = projections[0]
    return all(p.in_features == first.in_features and (p.bias is None) == (first.bias is None)
               and p.weight.dtype == first.weight.dtype for p in projections)


@contextlib.contextmanager
def fused_qkv(model: nn.Module) -> Iterator[int]:
    """Route every attention layer's Q, K and V projections through one product; yields how many
    layers were fused."""
    patched: list[nn.Linear] = []
    try:
        for module in model.modules():
            for names in PROJECTION_NAMES:
                projections = [getattr(module, name, None) for name in names]
                if not _fusable(projections):
                    continue
                shared = _SharedProduct(projections)
                for index, projection in enumerate(projections):
                    # An instance attribute shadows Linear.forward for this module only; the
                    # module, its hooks and its state_dict stay as they are.
                    projection.forward = (lambda x, i=index, s=shared: s.output(i, x))
                    patched.append(projection)
        yield len(patched) // 3
    finally:
        for projection in patched:
            projection.__dict__.pop("forward", None)
