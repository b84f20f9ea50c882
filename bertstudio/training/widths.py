"""Which widths batches are padded to on the CPU in bf16: few enough that oneDNN's kernels are reused.

A bf16 matrix product on the CPU runs through oneDNN, which builds (JIT-compiles) a kernel the first
time it meets a shape and reuses it afterwards. A training batch padded to a width never seen before
costs ~23 ms more (forward and backward, MiniLM, 32 rows, a 2-core Xeon with AMX), the price of
~300 padded token slots (~0.08 ms each). 8,000 SST-2 rows make 225 batches of 43 different widths,
many met only once (a width of 57, one of 58), so the first meeting is a real share of a run.

`plan_widths` picks the widths to pad to from the widths the batches would have, by dynamic
programming over their histogram: a width is kept when the batches it serves would pay more in
padding to reach the next kept width than a new kernel costs. On SST-2 that keeps 20 of 43 widths
for 2.5 % more token slots. Padded tokens are masked out as always, so what is trained is the
same; only the shapes the model sees change.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

# The price of one new width, in padded token slots (see the module docstring; measured on the CPU
# this was written on, and the plan is not sensitive to it within a factor of two).
SHAPE_COST_SLOTS = 300


@dataclass(frozen=True)
class Widths:
    """The widths batches are padded to, ascending; a batch longer than the last keeps its own width."""

    allowed: tuple[int, ...]

    def width_for(self, longest: int) -> int:
        at = bisect.bisect_left(self.allowed, longest)
        return self.allowed[at] if at < len(self.allowed) else longest


def plan_widths(batch_widths: Iterable[int], *, rows_per_batch: int, repeats: int = 1,
                shape_cost_slots: int = SHAPE_COST_SLOTS) -> Widths:
    """The widths minimising padded slots x `repeats` (the epochs that pay the padding again) plus
    `shape_cost_slots` per distinct width, for batches whose longest rows are `batch_widths`."""
    counts = Counter(batch_widths)
    lengths = sorted(counts)
    if not lengths:
        return Widths(())
    # best[j]: the cheapest cover of lengths[:j] whose last kept width is lengths[j - 1].
    best = [0.0] + [float("inf")] * len(lengths)
    previous = [0] * (len(lengths) + 1)
    for j in range(1, len(lengths) + 1):
        width = lengths[j - 1]
        padding = 0  # slots the batches of lengths[k:j] pad to reach `width`, grown as k falls
        for k in range(j - 1, -1, -1):
            padding += counts[lengths[k]] * (width - lengths[k]) * rows_per_batch * repeats
            cost = best[k] + shape_cost_slots + padding
            if cost < best[j]:
                best[j], previous[j] = cost, k
            if padding > best[j]:  # padding only grows as k falls: nothing cheaper below
                break
    kept, j = [], len(lengths)
    while j:
        kept.append(lengths[j - 1])
        j = previous[j]
    return Widths(tuple(sorted(kept)))


def batch_widths(lengths: list[int], order: Iterable[int], batch_size: int) -> list[int]:
    """The longest row of each batch a loader cuts from `order` (row indices) in runs of batch_size."""
    order = list(order)
    return [max(lengths[i] for i in order[start:start + batch_size])
            for start in range(0, len(order), batch_size)]
