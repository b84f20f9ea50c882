"""Classification metrics from gold and predicted class ids (accuracy, macro-F1, per-class, confusion), and which way a metric improves."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def classification_metrics(gold: Sequence[int], predicted: Sequence[int], labels: Sequence[str],
                           loss: float | None = None) -> dict[str, Any]:
    """All evaluation numbers as a JSON-ready dict.

    Classes absent from both gold and predictions get precision/recall/F1 of 0 and still count
    in the macro average, as scikit-learn does with `zero_division=0`, so a model that never
    predicts a rare class is not flattered.
    """
    gold_arr = np.asarray(gold, dtype=np.int64)
    pred_arr = np.asarray(predicted, dtype=np.int64)
    n = len(labels)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (gold_arr, pred_arr), 1)
    true_pos = np.diag(confusion).astype(float)
    predicted_count = confusion.sum(axis=0).astype(float)
    support = confusion.sum(axis=1).astype(float)
    precision = np.divide(true_pos, predicted_count, out=np.zeros(n), where=predicted_count > 0)
    recall = np.divide(true_pos, support, out=np.zeros(n), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(n), where=denom > 0)
    total = int(confusion.sum())
    return {
        "loss": None if loss is None else float(loss),
        "accuracy": float(true_pos.sum() / total) if total else 0.0,
        "macro_f1": float(f1.mean()) if n else 0.0,
        "per_class": {
            label: {"precision": float(precision[i]), "recall": float(recall[i]),
                    "f1": float(f1[i]), "support": int(support[i])}
            for i, label in enumerate(labels)
        },
        "confusion_matrix": confusion.tolist(),  # rows: gold, columns: predicted
        "labels": list(labels),
        "count": total,
    }


LOWER_IS_BETTER = frozenset({"loss", "rmse", "mae"})  # errors; every other metric is a score


def is_improvement(metric: str, new: float, best: float | None,
                   higher_is_better: bool | None = None) -> bool:
    """Whether `new` beats `best`: errors (loss, rmse, mae) improve downwards, scores upwards;
    `higher_is_better` (the task's `higher_is_better(metric)`) overrides the name."""
    if best is None:
        return True
    if higher_is_better is None:
        higher_is_better = metric not in LOWER_IS_BETTER
    return new > best if higher_is_better else new < best
