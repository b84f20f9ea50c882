"""Neutralising spreadsheet formulas in every CSV we export (CSV injection)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterable, Sequence

from bertstudio.atomic import atomic_write

# A spreadsheet treats a cell starting with one of these as a formula; tab and carriage return
# are included because some programs strip them and then see the formula behind.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Prefix a formula-looking text cell with an apostrophe, the convention spreadsheets honour.

    Plain numbers such as "-3.5" are left alone: they are data, not formulas.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_PREFIXES):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def write_safe_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a UTF-8 CSV atomically with every cell, header included, neutralised."""
    with atomic_write(path, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([neutralise(h) for h in header])
        for row in rows:
            writer.writerow([neutralise(cell) for cell in row])
    return Path(path)
