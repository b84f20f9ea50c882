"""Multi-label scores from gold and predicted 0/1 matrices, and per-tag decision thresholds.

Scores follow scikit-learn with `zero_division=0`: a tag with no gold rows and no predictions
scores F1 0 and still counts in the macro average, so a model that never predicts a rare tag is
not flattered.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

# Candidate thresholds: 0.01..0.99 in steps of 0.01. A fixed grid rather than every probability
# seen: on a few hundred validation rows the exact best cut overfits those rows. It reaches down
# to 0.01 so that a rare tag whose probabilities all stay low can still get a cut of its own.
THRESHOLD_GRID = np.round(np.arange(1, 100) / 100, 2)
DEFAULT_THRESHOLD = 0.5


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros(np.shape(tp), dtype=float), where=denom > 0)


def tag_scores(gold: np.ndarray, predicted: np.ndarray) -> dict[str, np.ndarray]:
    """Per tag: precision, recall, f1 and support (gold rows), each an array over the tags."""
    gold = np.asarray(gold, dtype=bool)
    predicted = np.asarray(predicted, dtype=bool)
    tp = (gold & predicted).sum(axis=0).astype(float)
    fp = (~gold & predicted).sum(axis=0).astype(float)
    fn = (gold & ~predicted).sum(axis=0).astype(float)
    n_tags = gold.shape[1]
    precision = np.divide(tp, tp + fp, out=np.zeros(n_tags), where=(tp + fp) > 0)
    recall = np.divide(tp, tp + fn, out=np.zeros(n_tags), where=(tp + fn) > 0)
    return {"precision": precision, "recall": recall, "f1": _f1(tp, fp, fn),
            "support": (tp + fn).astype(int), "tp": tp, "fp": fp, "fn": fn}


def summary_scores(gold: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """macro_f1, micro_f1 and subset_accuracy (every tag of the row right) of one prediction."""
    gold = np.asarray(gold, dtype=bool)
    predicted = np.asarray(predicted, dtype=bool)
    scores = tag_scores(gold, predicted)
    micro = _f1(scores["tp"].sum(), scores["fp"].sum(), scores["fn"].sum())
    return {
        "macro_f1": float(scores["f1"].mean()) if gold.shape[1] else 0.0,
        "micro_f1": float(micro),
        "subset_accuracy": float((gold == predicted).all(axis=1).mean()) if len(gold) else 0.0,
    }


def tune_thresholds(probabilities: np.ndarray, gold: np.ndarray,
                    grid: np.ndarray = THRESHOLD_GRID) -> np.ndarray:
    """Per tag, the grid threshold with the best F1 on these rows; ties go to the one nearest 0.5.

    A tag with no gold rows here keeps 0.5: these rows cannot say where its cut belongs. So does
    a tag the model never gets right at any threshold (every threshold ties at F1 0).
    Vectorised: each probability falls in one grid bin, and a reverse cumulative count per bin
    gives every threshold's true and false positives at once.
    """
    probs = np.asarray(probabilities, dtype=float)
    gold = np.asarray(gold, dtype=bool)
    n_rows, n_tags = probs.shape
    n_grid = len(grid)
    if n_rows == 0 or n_tags == 0:
        return np.full(n_tags, DEFAULT_THRESHOLD)
    # bins[r, t] = how many thresholds row r clears for tag t (p >= grid[g] for g < bins).
    bins = np.searchsorted(grid, probs, side="right")
    flat = bins + (n_grid + 1) * np.arange(n_tags)[None, :]
    size = n_tags * (n_grid + 1)
    positives = np.bincount(flat[gold], minlength=size).reshape(n_tags, n_grid + 1)
    negatives = np.bincount(flat[~gold], minlength=size).reshape(n_tags, n_grid + 1)
    # Rows predicted at threshold g are those with bins > g: a reverse cumulative sum from bin g+1.
    tp = np.cumsum(positives[:, ::-1], axis=1)[:, ::-1][:, 1:].astype(float)   # [tags, grid]
    fp = np.cumsum(negatives[:, ::-1], axis=1)[:, ::-1][:, 1:].astype(float)
    support = gold.sum(axis=0).astype(float)[:, None]
    f1 = _f1(tp, fp, support - tp)
    best = f1.max(axis=1, keepdims=True)
    distance = np.abs(grid - DEFAULT_THRESHOLD)[None, :]
    # Among thresholds within rounding of the best F1, the one nearest 0.5.
    choice = np.argmin(np.where(np.isclose(f1, best, rtol=0, atol=1e-12), distance, np.inf), axis=1)
    thresholds = grid[choice].astype(float)
    keep_default = (support[:, 0] == 0) | (best[:, 0] == 0)
    thresholds[keep_default] = DEFAULT_THRESHOLD
    return thresholds


def multilabel_metrics(probabilities: np.ndarray, gold: np.ndarray, tags: Sequence[str],
                       loss: float | None = None) -> dict[str, Any]:
    """Every evaluation number, JSON-ready: headline scores at tuned thresholds and at 0.5."""
    probs = np.asarray(probabilities, dtype=float)
    gold = np.asarray(gold, dtype=bool)
    thresholds = tune_thresholds(probs, gold)
    tuned = probs >= thresholds[None, :]
    fixed = probs >= DEFAULT_THRESHOLD
    at_tuned = summary_scores(gold, tuned)
    at_half = summary_scores(gold, fixed)
    per_tag = tag_scores(gold, tuned)
    per_tag_half = tag_scores(gold, fixed)
    return {
        "loss": None if loss is None else float(loss),
        **at_tuned,
        **{f"{name}_at_0.5": value for name, value in at_half.items()},
        "per_label": {
            tag: {"precision": float(per_tag["precision"][i]), "recall": float(per_tag["recall"][i]),
                  "f1": float(per_tag["f1"][i]), "support": int(per_tag["support"][i]),
                  "threshold": float(thresholds[i]), "f1_at_0.5": float(per_tag_half["f1"][i])}
            for i, tag in enumerate(tags)
        },
        "thresholds": {tag: float(thresholds[i]) for i, tag in enumerate(tags)},
        "labels": list(tags),
        "count": int(len(gold)),
    }
