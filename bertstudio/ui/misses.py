"""The validation rows a run got wrong, read from its predictions table: which, in what order, how shown.

Below both the results page and the task views (each view picks its order of misses), so the
views never import the results module that asks them.
"""

from __future__ import annotations

from bertstudio.ui.markup import shorten

MISCLASSIFIED_SHOWN = 200
LEADING_COLUMNS = ("gold", "predicted", "error", "confidence")
NO_LABELS = "(none)"  # a multi-label row with none of the labels


def misclassified_rows_of(header: list[str], table: list[list[str]],
                          limit: int = MISCLASSIFIED_SHOWN) -> tuple[list[str], list[list[str]], int]:
    """The rows whose prediction differs from the gold answer (a class, or a set of tags written
    the same way), most confident first."""
    if "gold" not in header or "predicted" not in header:
        return [], [], 0
    gold, predicted = header.index("gold"), header.index("predicted")
    wrong = [row for row in table if row[gold] != row[predicted]]
    if "confidence" in header:
        at = header.index("confidence")
        wrong.sort(key=lambda row: -_float(row[at]))
    return _shown(header, wrong, limit) + (len(wrong),)


def largest_misses(header: list[str], table: list[list[str]],
                   limit: int = MISCLASSIFIED_SHOWN) -> tuple[list[str], list[list[str]], int]:
    """Regression: the validation rows furthest from their true value first, with that distance
    as an `error` column (predicted minus true) when the file has none."""
    if "gold" not in header or "predicted" not in header:
        return [], [], 0
    gold, predicted = header.index("gold"), header.index("predicted")
    if "error" not in header:
        header = [*header, "error"]
        table = [[*row, f"{_float(row[predicted]) - _float(row[gold]):.4g}"] for row in table]
    rows = sorted(table, key=lambda row: -_miss(row[gold], row[predicted]))
    error = header.index("error")
    # Four significant digits are what a person compares; the file keeps every digit.
    rows = [[_short_number(cell) if i in (gold, predicted, error) else cell for i, cell in enumerate(row)]
            for row in rows[:limit]]
    return _shown(header, rows, limit) + (len(table),)


def _short_number(text: str) -> str:
    value = _number(text)
    return text if value is None else f"{value:.4g}"


def _miss(gold: str, predicted: str) -> float:
    """How far a prediction is from the true value; a cell that is no number sorts last."""
    g, p = _number(gold), _number(predicted)
    return -1.0 if g is None or p is None else abs(p - g)


def _shown(header: list[str], rows: list[list[str]], limit: int) -> tuple[list[str], list[list[str]]]:
    # The short verdict columns first and the long texts after them: a wide text first pushed
    # gold, predicted and confidence off the right edge of the table.
    order = ([header.index(name) for name in LEADING_COLUMNS if name in header]
             + [i for i, name in enumerate(header) if name not in LEADING_COLUMNS])
    return [header[i] for i in order], [[shorten(row[i]) for i in order] for row in rows[:limit]]


def value_pairs(header: list[str], table: list[list[str]]) -> tuple[list[float], list[float]]:
    """Regression: (true values, predictions) of the validation rows, for the scatter."""
    if "gold" not in header or "predicted" not in header:
        return [], []
    gold, predicted = header.index("gold"), header.index("predicted")
    pairs = [(_number(row[gold]), _number(row[predicted])) for row in table]
    kept = [(g, p) for g, p in pairs if g is not None and p is not None]
    return [g for g, _ in kept], [p for _, p in kept]


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0
