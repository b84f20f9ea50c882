"""Iterative stratification for multi-label rows (Sechidis et al. 2011), vectorised per label.

Sechidis's algorithm walks the labels from the rarest (fewest rows still unplaced) up, and sends
each of that label's unplaced rows to the side that still wants most of that label. With two sides
the wants of a label always add up to its unplaced rows, so the greedy walk over one label's rows
ends with round(validation's want) of them in validation: we place that many at once, drawn at
random (seeded) among that label's unplaced rows.

Two changes for a training tool: every label with at least two rows gets at least one row on each
side (so each is both learned and measured), and the validation size is made exact afterwards by
moving the rows whose move disturbs the label balance least. A label that cannot be on both sides
(a "triangle" of rows: {a,b}, {b,c}, {a,c} has no such split) keeps what the walk gave it.
"""

from __future__ import annotations

import numpy as np


def iterative_split(matrix: np.ndarray, share: float, seed: int) -> tuple[list[int], list[int]]:
    """Sorted train and validation row indices for a [rows, labels] 0/1 matrix."""
    y = np.asarray(matrix, dtype=bool)
    n = y.shape[0]
    if n < 2:
        return list(range(n)), []
    rng = np.random.default_rng(seed)
    target = int(min(max(round(n * share), 1), n - 1))
    # Rows without labels form one more label, so they are spread in proportion like any other.
    y = np.column_stack([y, ~y.any(axis=1)])
    side = _walk_labels(y, share, rng)                  # True = validation
    side = _repair_presence(y, side)
    side = _balance_size(y, side, share, target, rng)
    return np.flatnonzero(~side).tolist(), np.flatnonzero(side).tolist()


def _walk_labels(y: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """The label walk: rarest unplaced label first, its rows placed in one vectorised step."""
    n, n_labels = y.shape
    totals = y.sum(axis=0).astype(float)
    # Validation's want per label: its share, but at least 1 and at most all-but-one for a label
    # with 2+ rows; a label with one row trains (validation could only show it, never learn it).
    want_val = np.where(totals >= 2, np.clip(np.round(totals * share), 1, totals - 1), 0.0)
    side = np.zeros(n, dtype=bool)
    unplaced = y.any(axis=1)
    remaining = totals.copy()
    label_order_noise = rng.random(n_labels) * 1e-3   # ties between equally rare labels
    while unplaced.any():
        left = np.where(remaining > 0, remaining + label_order_noise, np.inf)
        label = int(np.argmin(left))
        rows = np.flatnonzero(unplaced & y[:, label])
        k = len(rows)
        n_val = int(np.clip(round(want_val[label]), 0, k))
        if n_val:
            # Every unplaced row of this label is alike to Sechidis's first rule; a seeded draw
            # among them keeps the other labels' shares right on average (a score that ranked
            # rows by their other labels, tried first, drew rows of many labels and left
            # validation a quarter short of rows).
            chosen = rng.choice(rows, size=n_val, replace=False)
            side[chosen] = True
            want_val -= y[chosen].sum(axis=0)
        unplaced[rows] = False
        remaining -= y[rows].sum(axis=0)
    return side


def _repair_presence(y: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Move a row for each label with 2+ rows that the walk left on one side only."""
    totals = y.sum(axis=0)
    for _ in range(4):                                 # a move can undo another label; retry
        val_counts = y[side].sum(axis=0)
        missing = np.flatnonzero((totals >= 2) & ((val_counts == 0) | (val_counts == totals)))
        if not len(missing):
            break
        for label in missing:
            val_counts = y[side].sum(axis=0)
            if 0 < val_counts[label] < totals[label]:
                continue                               # an earlier move in this pass fixed it
            to_val = val_counts[label] == 0
            source = side != to_val                    # rows on the side that holds them all
            candidates = np.flatnonzero(source & y[:, label])
            if not len(candidates):
                continue
            # Rows whose move would empty another label's source side are tried last.
            source_counts = val_counts if not to_val else totals - val_counts
            breaks = (y[candidates] & (source_counts <= 1) & (totals >= 2)).sum(axis=1)
            row = candidates[np.argmin(breaks * 1000 + y[candidates].sum(axis=1))]
            side[row] = to_val
    return side


def _balance_size(y: np.ndarray, side: np.ndarray, share: float, target: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Move rows until validation has `target` rows, each time the move that hurts the balance least."""
    totals = y.sum(axis=0)
    yf = y.astype(float)
    jitter = rng.random(len(side)) * 1e-9
    for _ in range(len(side)):
        gap = int(target - side.sum())
        if gap == 0:
            break
        to_val = gap > 0
        val_counts = y[side].sum(axis=0)
        source_counts = (totals - val_counts) if to_val else val_counts
        # A move may not leave a label with 2+ rows absent from the side it leaves.
        locked = (source_counts <= 1) & (totals >= 2)
        candidates = np.flatnonzero((side != to_val) & ~(y & locked).any(axis=1))
        if not len(candidates):
            break
        # Each label's distance from its share, relative to its size: one row of a 20-row
        # label weighs as much as a hundred rows of a 2,000-row one.
        scale = np.maximum(totals, 1)
        deviation = (val_counts - share * totals) / scale
        step = (1.0 if to_val else -1.0) / scale
        cost = np.abs(deviation + step * yf[candidates]).sum(axis=1) - np.abs(deviation).sum()
        # A few rows at once when the gap is large (costs are recomputed between batches).
        batch = max(1, min(abs(gap) // 8, 16, len(candidates)))
        order = np.argsort(cost + jitter[candidates], kind="stable")[:batch]
        side[candidates[order]] = to_val
    return side
