"""Regression metrics from true and predicted values: Pearson, Spearman, RMSE, MAE, R², never NaN."""

from __future__ import annotations

from typing import Any

import numpy as np


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing the mean of their ranks (scipy's `rankdata(method="average")`)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    # Each run of equal values gets the mean of the positions it spans.
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def _correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson's r, or None where it is undefined (fewer than two rows, or one side constant)."""
    if len(a) < 2:
        return None
    da, db = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((da * da).sum() * (db * db).sum()))
    if denom == 0.0 or not np.isfinite(denom):
        return None
    return float(np.clip((da * db).sum() / denom, -1.0, 1.0))


def regression_metrics(gold: np.ndarray, predicted: np.ndarray,
                       loss: float | None = None) -> tuple[dict[str, Any], list[str]]:
    """All evaluation numbers as a JSON-ready dict, and plain notes on what could not be measured.

    An undefined correlation (the model predicts one value for every row, or every true value is
    the same) counts as 0.0 — no better than chance — with a note, so no NaN reaches a JSON file.
    R² follows scikit-learn: with constant true values it is 1.0 for a perfect fit, else 0.0."""
    gold = np.asarray(gold, dtype=np.float64).reshape(-1)
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1)
    n = len(gold)
    notes: list[str] = []
    if n == 0:
        return ({"pearson": 0.0, "spearman": 0.0, "rmse": 0.0, "mae": 0.0, "r2": 0.0,
                 "loss": None if loss is None else float(loss), "count": 0},
                ["There were no validation rows to measure."])
    error = predicted - gold
    ss_res = float((error * error).sum())
    ss_tot = float(((gold - gold.mean()) ** 2).sum())
    pearson = _correlation(gold, predicted)
    spearman = _correlation(average_ranks(gold), average_ranks(predicted))
    if pearson is None or spearman is None:
        why = ("there is only one row" if n < 2
               else "the model predicted the same value for every row" if np.ptp(predicted) == 0
               else "every true value is the same")
        notes.append(f"Correlation is undefined because {why}; it is reported as 0.")
    metrics = {
        "pearson": pearson if pearson is not None else 0.0,
        "spearman": spearman if spearman is not None else 0.0,
        "rmse": float(np.sqrt(ss_res / n)),
        "mae": float(np.abs(error).mean()),
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0),
        "loss": None if loss is None else float(loss),
        "count": n,
    }
    return metrics, notes
