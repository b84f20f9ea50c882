"""What a model that learned nothing scores on the same rows, for each task's `learned_nothing`.

The majority-class baseline (one label per row), the best constant tag set (several labels),
agreement beyond chance (Cohen's kappa: 0 for any answer that ignores the text, a constant one
included), and the advice every such warning ends with.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from bertstudio.tasks.wording import short

# What helps a model that learned nothing, in the order people can try it: the usual cause is an
# undertrained head (too few steps, or a learning rate too small for the model), then too few rows.
ADVICE = "train for more epochs, raise the learning rate, or add more rows"


def where_words(count: int, total: int) -> str:
    """"every validation row" or "398 of 408 validation rows (98%)"."""
    if count == total:
        return "every validation row" if total != 1 else "the one validation row"
    return f"{count:,} of {total:,} validation rows ({count / total:.0%})"


def quoted(name: str) -> str:
    """A label in a sentence: quoted, and cut so one long name cannot take it over."""
    return repr(short(str(name)))


def cohen_kappa(confusion: np.ndarray) -> float:
    """Agreement beyond chance of a confusion matrix (rows: gold, columns: predicted).

    (observed - expected) / (1 - expected), where `expected` is the agreement of answers drawn
    independently of the text with the same label shares. 0 for a constant answer and for
    guessing, 1 for a perfect model; 0 where only one class occurs on both sides (nothing to
    tell apart)."""
    matrix = np.asarray(confusion, dtype=np.float64)
    total = matrix.sum()
    if total <= 0:
        return 0.0
    observed = np.trace(matrix) / total
    expected = float((matrix.sum(axis=1) * matrix.sum(axis=0)).sum()) / (total * total)
    if expected >= 1.0:
        return 0.0
    return float((observed - expected) / (1.0 - expected))


def confusion_of(gold: Sequence[int], predicted: Sequence[int], n_classes: int) -> np.ndarray:
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(gold, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def macro_f1(confusion: np.ndarray) -> float:
    """Macro-F1 over every class of the matrix, a class without rows or answers scoring 0 (as
    `classification_metrics` does, so the baseline is measured the way the model was)."""
    matrix = np.asarray(confusion, dtype=np.float64)
    true_pos = np.diag(matrix)
    denom = matrix.sum(axis=0) + matrix.sum(axis=1)
    f1 = np.divide(2 * true_pos, denom, out=np.zeros(len(matrix)), where=denom > 0)
    return float(f1.mean()) if len(matrix) else 0.0


def majority_baseline(gold: Sequence[int], n_classes: int) -> tuple[int, float, float]:
    """The most common gold class, and the accuracy and macro-F1 of answering it for every row."""
    counts = np.bincount(np.asarray(gold, dtype=np.int64), minlength=n_classes)
    majority = int(counts.argmax())
    constant = confusion_of(gold, [majority] * len(gold), n_classes)
    return majority, float(counts[majority] / counts.sum()), macro_f1(constant)


def best_constant_set(gold: np.ndarray) -> tuple[list[int], float]:
    """The tag set that, given to every row, scores the best micro-F1 on these rows, and that F1.

    For a constant answer S, micro-F1 = 2·Σ_{t∈S} c_t / (n·|S| + G) (c_t: rows holding tag t,
    n: rows, G: gold tags in all), so the best set of each size is the most common tags, and
    trying every size finds the best set. The empty set scores 0."""
    gold = np.asarray(gold, dtype=bool)
    n_rows = len(gold)
    counts = gold.sum(axis=0)
    total = float(counts.sum())
    order = np.argsort(-counts, kind="stable")
    best: tuple[list[int], float] = ([], 0.0)
    held = 0.0
    for size, tag in enumerate(order, start=1):
        held += counts[tag]
        f1 = 2 * held / (n_rows * size + total) if n_rows else 0.0
        if f1 > best[1]:
            best = (sorted(int(t) for t in order[:size]), float(f1))
    return best


def micro_f1(gold: np.ndarray, predicted: np.ndarray) -> float:
    gold, predicted = np.asarray(gold, dtype=bool), np.asarray(predicted, dtype=bool)
    true_pos = float((gold & predicted).sum())
    denom = float(gold.sum() + predicted.sum())
    return 2 * true_pos / denom if denom else 0.0


def mean_tag_kappa(gold: np.ndarray, predicted: np.ndarray) -> float:
    """Cohen's kappa of each tag's yes/no answers, averaged over the tags the rows hold."""
    gold, predicted = np.asarray(gold, dtype=bool), np.asarray(predicted, dtype=bool)
    kappas = []
    for tag in range(gold.shape[1]):
        if gold[:, tag].any():
            kappas.append(cohen_kappa(confusion_of(gold[:, tag], predicted[:, tag], 2)))
    return float(np.mean(kappas)) if kappas else 0.0
