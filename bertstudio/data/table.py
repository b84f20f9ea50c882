"""The `Table` every reader produces, and the shape rules every format shares: whether the first row
is a header, the column names (blanks named, repeats numbered), and the row and cell limits.

Delimited text (`tabular.py`) and Excel, JSON and Parquet records (`structured.py`) both end here,
so a sheet and a CSV holding the same table get the same columns and the same refusals.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Sequence

from bertstudio.errors import StudioError
from bertstudio.limits import too_long

HEADER_SAMPLE_ROWS = 200  # rows below the first that decide whether it is a header
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class Table:
    """A parsed file: header names and rows of strings, every row exactly as wide as the header."""

    columns: list[str]          # header names (or "column_1".. when the file has no header)
    rows: list[list[str]]       # every row padded/cut to len(columns); cells are not trimmed
    encoding: str               # "utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"
    delimiter: str              # ",", ";", "\t", "|"; for the formats below, the format's name
    has_header: bool
    name: str                   # file name shown to the user
    sha256: str                 # hash of the raw file bytes (before decompression)
    notes: list[str] = field(default_factory=list)  # forgiving fixes applied, one sentence each
    quoting: str = "csv"        # "csv" (double quotes group cells) or "none" (quotes are text)
    compressed: bool = False    # the file was gzip-compressed
    # The header row exactly as the file wrote it (untrimmed, blanks and repeats kept), cut or
    # padded with "" to the table's width; None when the file has no header. Outputs that hand
    # the file back (predictions) write this, not the cleaned-up `columns`.
    raw_header: list[str] | None = None
    format: str = "csv"         # "csv" (also TSV and other delimited text), "xlsx", "json", "jsonl", "parquet"
    sheet: str | None = None    # the Excel sheet read
    # Per column name, what the file held where it knew types (Excel, JSON, Parquet): "number",
    # "bool", "date", "list", "object" or "string"; a writer gives predictions back in these types.
    column_kinds: dict[str, str] = field(default_factory=dict)
    # Columns whose cells were lists, joined into one text: column name -> the separator used.
    list_separators: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def column_index(self, column: str) -> int:
        """Position of `column`; a StudioError that lists the real columns when it is not there."""
        try:
            return self.columns.index(column)
        except ValueError:
            raise StudioError(
                f"There is no column '{column}' in '{self.name}'; the columns are: "
                f"{', '.join(repr(c) for c in self.columns)}.") from None

    def column(self, column: str) -> list[str]:
        index = self.column_index(column)
        return [row[index] for row in self.rows]


def too_many_rows(name: str, max_rows: int) -> StudioError:
    return StudioError(f"'{name}' has more than {max_rows:,} rows, the limit here; upload a sample "
                       f"of at most {max_rows:,} rows.")


def is_number(value: str) -> bool:
    return bool(_NUMBER.fullmatch(value.strip()))


def looks_like_header(first: list[str], others: list[list[str]]) -> bool:
    """False when the first row reads as data: a number atop a numeric column, or a value that
    reappears below it in the same column (a label such as "spam" in a file with no header)."""
    for index, cell in enumerate(first):
        value = cell.strip()
        if not value:
            continue
        below = [row[index].strip() for row in others if index < len(row) and row[index].strip()]
        if not below:
            continue
        if is_number(value) and sum(map(is_number, below)) >= 0.8 * len(below):
            return False
        if value in below:
            return False
    return True


def refuse_long_cells(header: list[str], body: list[list[str]], columns: list[str], name: str,
                       limit: int) -> None:
    """Refuse a cell (or header name) longer than `limit`, naming its row and column.

    The longest cell is found at C speed (max over map over chain); only a file that has one too
    long pays for finding where it is.
    """
    if max(map(len, header), default=0) > limit:
        raise too_long(max(map(len, header)), limit, f"A header name in '{name}'")
    if max(map(len, itertools.chain.from_iterable(body)), default=0) <= limit:
        return
    for number, row in enumerate(body, start=1):
        for column, cell in zip(columns, row):
            if len(cell) > limit:
                raise too_long(len(cell), limit, f"Row {number:,} of '{name}', column '{column}',")


def column_names(header: list[str], width: int) -> list[str]:
    """Trimmed header names; empty ones become column_N and repeats get _2, _3 ..."""
    names = [cell.strip() for cell in header] + [""] * (width - len(header))
    return number_repeats([name or f"column_{i + 1}" for i, name in enumerate(names[:width])])


def number_repeats(names: Sequence[str]) -> list[str]:
    """The names in order, a repeated one as name_2, name_3 ... so each is unique."""
    seen: set[str] = set()
    result: list[str] = []
    for name in names:
        unique, n = name, 1
        while unique in seen:
            n += 1
            unique = f"{name}_{n}"
        seen.add(unique)
        result.append(unique)
    return result
