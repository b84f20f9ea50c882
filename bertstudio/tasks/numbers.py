"""Numbers as people type them in a score column: signs, exponents, thousands groups, a decimal comma.

A cell is read one way when only one reading exists ("3,5" and "1.234,5" have a decimal comma,
"2.5" and "1,234.5" a decimal point); a column's `decimal_comma` decides only the cells that read
both ways ("1,234" is 1.234 or 1234). `column_is_numeric` picks it from the column's own cells, so
"5.000" in a tab-separated similarity file stays 5.0 while "3,5" in a ';' file is 3.5.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from typing import Iterable

_MAX_NUMBER_CHARS = 64  # a longer cell is text; skips the pattern on every review in a text column
_SPACES = " \u00a0\u202f\u2009'"  # groups of thousands separated by a (no-break, thin) space or '
_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-"})  # minus signs word processors type
_STARTS = frozenset("0123456789+-.,\u2212\u2013")
_NOT_FINITE = frozenset({"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity",
                         "-infinity", "#num!", "#div/0!", "#value!"})


def _pattern(point: str, group: str) -> re.Pattern[str]:
    g, p, s = re.escape(group), re.escape(point), re.escape(_SPACES)
    return re.compile(
        rf"(?P<sign>[+-]?)"
        rf"(?P<int>[1-9]\d{{0,2}}(?:{g}\d{{3}})+|[1-9]\d{{0,2}}(?:[{s}]\d{{3}})+|\d+)?"
        rf"(?:{p}(?P<frac>\d*))?"
        rf"(?:[eE](?P<exp>[+-]?\d+))?")


_READINGS = {False: _pattern(".", ","), True: _pattern(",", ".")}


def _strict(text: str, decimal_comma: bool) -> float | None:
    """`text` read with one convention only, or None when it does not fit it."""
    match = _READINGS[decimal_comma].fullmatch(text)
    if match is None or not (match["int"] or match["frac"]):
        return None
    digits = re.sub(r"\D", "", match["int"] or "0")
    number = f"{match['sign']}{digits}.{match['frac'] or '0'}e{match['exp'] or '0'}"
    try:
        value = float(number)
    except (OverflowError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _clean(cell: str) -> str:
    text = cell.strip()
    # Only a short cell starting like a number can be one; the rest skip the translation and the
    # patterns (a text column costs one look at its first character per distinct cell).
    if len(text) > _MAX_NUMBER_CHARS or text[:1] not in _STARTS:
        return text
    return text.translate(_MINUS)


def _may_be_number(text: str) -> bool:
    return len(text) <= _MAX_NUMBER_CHARS and text[:1] in _STARTS


@lru_cache(maxsize=65_536)
def parse_number(cell: str, decimal_comma: bool = False) -> float | None:
    """The finite number a cell holds, or None (empty, words, NaN, infinity, too large).

    The column's convention first; a cell that only the other convention reads is read that way,
    since it has no second meaning ("3,5" is 3.5 in any column)."""
    text = _clean(cell)
    if not _may_be_number(text):
        return None
    value = _strict(text, decimal_comma)
    return value if value is not None else _strict(text, not decimal_comma)


def is_not_finite(cell: str) -> bool:
    """A cell that names a number that is not one: NaN, infinity, a spreadsheet error, 1e999."""
    text = _clean(cell).lower()
    if text in _NOT_FINITE:
        return True
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return False


def column_is_numeric(cells: Iterable[str]) -> tuple[float, bool]:
    """(share of the filled cells that are numbers, whether ',' is the column's decimal mark).

    Cells that read only one way vote for their convention ("3,5" and "0,750" for the comma,
    "2.5" and "1,234.5" for the point); the majority wins. With no vote either way, a column
    whose cells hold a comma ("1,250", "3,000") reads it as the decimal mark, as a file typed
    where the comma is one (';'- or tab-separated exports) writes it; else the point."""
    distinct: Counter[str] = Counter()
    for cell, n in Counter(cells).items():  # each distinct cell once: a score column repeats a lot
        distinct[_clean(cell)] += n
    distinct.pop("", None)
    filled = sum(distinct.values())
    if not filled:
        return 0.0, False
    numeric = votes_comma = votes_point = 0
    has_comma = False
    for text, n in distinct.items():
        if not _may_be_number(text):
            continue
        point, comma = _strict(text, False), _strict(text, True)
        if point is None and comma is None:
            continue
        numeric += n
        has_comma = has_comma or "," in text
        if point is None:
            votes_comma += n
        elif comma is None:
            votes_point += n
    if votes_comma != votes_point:
        decimal_comma = votes_comma > votes_point
    else:
        decimal_comma = has_comma
    return numeric / filled, decimal_comma
