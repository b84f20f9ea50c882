"""Label names and their order: one spelling per class or tag, numbers sorted as numbers.

The tasks own these (they read targets); `data/columns.py` uses them to judge which column holds
labels, so data depends on tasks and never the other way round.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

MAX_LABELS = 50  # more distinct values than this reads as free text or a score, not classes
# Two labels with two rows each: one row of each for training and one for validation. A file
# smaller than this cannot be trained whichever columns are chosen, so its rows are the problem.
MIN_ROWS_TO_SPLIT = 4
# The largest class or tag this many times the smallest: the headline needs watching (report).
UNEVEN_RATIO = 5
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def normalize_label(value: str) -> str:
    """Trimmed label; numbers in any spelling ("1", "1.0", "01", " 1 ") become one name ("1")."""
    value = value.strip()
    if not _PLAIN_NUMBER.fullmatch(value):
        return value
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def uneven(counts: dict[str, int]) -> tuple[int, int] | None:
    """(largest, smallest) rows per class or tag when they differ `UNEVEN_RATIO` times or more."""
    if not counts:
        return None
    largest, smallest = max(counts.values()), min(counts.values())
    return (largest, smallest) if smallest and largest / smallest >= UNEVEN_RATIO else None


def sort_labels(names: set[str] | list[str]) -> list[str]:
    """Numerically when every label is a number, else alphabetically (case-insensitive first)."""
    names = set(names)
    if names and all(_PLAIN_NUMBER.fullmatch(n) for n in names):
        return sorted(names, key=lambda n: (Decimal(n), n))
    return sorted(names, key=lambda n: (n.casefold(), n))
