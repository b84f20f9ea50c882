"""Rows back to a file in the format its name asks for (.csv, .tsv, .xlsx, .json, .jsonl, .parquet),
atomically, with spreadsheet formulas neutralised, so predictions come back the way the data came in.

`like` is the table the rows came from: its columns are written in the types the file held (numbers
as numbers, joined tags as lists again); a new column of numbers only (probabilities) is numeric.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from bertstudio.atomic import atomic_path, atomic_write
from bertstudio.data.csvsafe import FORMULA_PREFIXES, neutralise, write_safe_csv
from bertstudio.data.table import number_repeats
from bertstudio.errors import StudioError

if TYPE_CHECKING:
    from bertstudio.data.tabular import Table

WRITABLE = (".csv", ".tsv", ".xlsx", ".json", ".jsonl", ".parquet")
EXCEL_MAX_ROWS = 1_048_576   # header included
EXCEL_MAX_CELL = 32_767      # characters Excel keeps in one cell
# A plain decimal, as a person or a program writes one; "007" and "1,5" stay text.
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"-?(?:0|[1-9]\d*)")
_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


def write_rows(path: str | Path, header: Sequence[str], rows: Sequence[Sequence[Any]],
               like: "Table | None" = None, *, list_columns: Mapping[str, str] | None = None) -> Path:
    """Write `header` and `rows` to `path` in the format of its suffix and return the path.

    `list_columns` (column name -> separator) names more columns whose cells are tags to write as
    lists in JSON and Parquet, e.g. {"predicted_labels": ","}; `like`'s own tag columns are known.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    header = [str(h) for h in header]
    rows = [list(row) for row in rows]
    if suffix == ".csv":
        return write_safe_csv(target, header, rows)
    if suffix == ".tsv":
        return _write_tsv(target, header, rows)
    if suffix not in WRITABLE:
        raise StudioError(f"Cannot write '{target.name}': the name must end in one of "
                          f"{', '.join(WRITABLE)}; choose a file name with one of them.")
    kinds = _kinds(header, rows, like, list_columns or {})
    if suffix == ".xlsx":
        return _write_xlsx(target, header, rows, kinds, like)
    names = unique_names(header)
    if suffix == ".parquet":
        return _write_parquet(target, names, rows, kinds)
    records = ({name: _typed(row[i] if i < len(row) else "", kind)
                for i, (name, kind) in enumerate(zip(names, kinds))} for row in rows)
    with atomic_write(target, newline="\n") as handle:
        if suffix == ".jsonl":
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            handle.write("[")
            for n, record in enumerate(records):
                handle.write(("," if n else "") + "\n" + json.dumps(record, ensure_ascii=False))
            handle.write("\n]\n")
    return target


def unique_names(header: Sequence[str]) -> list[str]:
    """Field names a record can hold: blanks named column_N, repeats given _2, _3 ..."""
    return number_repeats([name if name.strip() else f"column_{i + 1}" for i, name in enumerate(header)])


# --- kinds -----------------------------------------------------------------------------------


def _kinds(header: list[str], rows: list[list[Any]], like, lists: Mapping[str, str]) -> list[tuple[str, str]]:
    """(kind, separator) per column: from `like` where the column is the table's own, else from the
    cells: a column of numbers only is "number", anything else "string"."""
    known: dict[int, tuple[str, str]] = {}
    if like is not None:
        own = list(like.raw_header or like.columns)
        for i, name in enumerate(header[:len(own)]):
            if name == own[i]:
                column = like.columns[i]
                known[i] = (like.column_kinds.get(column, "string"), like.list_separators.get(column, ""))
    result = []
    for i, name in enumerate(header):
        if name in lists:
            result.append(("list", lists[name]))
        elif i in known and like.format != "csv":
            result.append(known[i])
        else:
            cells = [row[i] for row in rows if i < len(row) and row[i] not in ("", None)]
            numeric = bool(cells) and all(isinstance(c, (int, float)) and not isinstance(c, bool)
                                          or isinstance(c, str) and _NUMBER.fullmatch(c) for c in cells)
            result.append(("number" if numeric else "string", ""))
    return result


def _typed(cell: Any, kind: tuple[str, str]) -> Any:
    """A cell as the value its column's kind calls for; text that does not fit stays text."""
    if not isinstance(cell, str):
        return None if isinstance(cell, float) and not math.isfinite(cell) else cell
    what, separator = kind
    if what == "string" or what == "date":
        return cell
    if cell == "":
        return [] if what == "list" else None
    if what == "number" and _NUMBER.fullmatch(cell):
        return int(cell) if _INTEGER.fullmatch(cell) else float(cell)
    if what == "bool" and cell.lower() in _TRUE | _FALSE:
        return cell.lower() in _TRUE
    if what == "list":
        return [tag for tag in (t.strip() for t in cell.split(separator or ",")) if tag]
    if what == "object":
        with contextlib.suppress(ValueError, RecursionError):
            return json.loads(cell)
    return cell


# --- the formats -------------------------------------------------------------------------------


def _write_tsv(target: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with atomic_write(target, newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow([neutralise(h) for h in header])
        for row in rows:
            writer.writerow([neutralise(cell) for cell in row])
    return target


def _write_xlsx(target: Path, header: list[str], rows: list[list[Any]], kinds, like) -> Path:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if len(rows) + 1 > EXCEL_MAX_ROWS:
        raise StudioError(f"{len(rows):,} rows are more than one Excel sheet holds "
                          f"({EXCEL_MAX_ROWS - 1:,} below the header); write CSV instead.")
    # Checked before the workbook exists: a write-only sheet left half-written complains when collected.
    longest = max((len(c) for row in [header, *rows] for c in row if isinstance(c, str)), default=0)
    if longest > EXCEL_MAX_CELL:
        raise StudioError(f"A cell of {longest:,} characters is longer than Excel keeps "
                          f"({EXCEL_MAX_CELL:,}); write CSV instead.")
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=(like.sheet if like is not None and like.sheet else "Sheet1")[:31])

    def cell(value: Any, kind) -> Any:
        # A sheet has no lists or objects: such a column keeps the text it was read as.
        if kind is not None and kind[0] not in ("list", "object"):
            value = _typed(value, kind)
        if isinstance(value, (list, dict)):
            value = json.dumps(value, ensure_ascii=False)
        if not isinstance(value, str):
            return value
        text = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters XML cannot hold
        written = WriteOnlyCell(sheet, value=text)
        # Always a text cell: openpyxl makes "=..." a formula. A formula-looking text also gets
        # Excel's quote prefix, so editing the cell later keeps it text.
        written.data_type = "s"
        if text.startswith(FORMULA_PREFIXES):
            written.quotePrefix = True
        return written

    sheet.append([cell(h, None) for h in header])
    for row in rows:
        sheet.append([cell(value, kind) for value, kind in zip(row, kinds)])
    with atomic_path(target) as tmp:
        book.save(tmp)
    return target


def _write_parquet(target: Path, names: list[str], rows: list[list[Any]], kinds) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {}
    for i, (name, kind) in enumerate(zip(names, kinds)):
        values = [_typed(row[i] if i < len(row) else "", kind) for row in rows]
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # mixed values: as text
            arrays[name] = pa.array([None if v is None else v if isinstance(v, str) else json.dumps(v)
                                     for v in values], pa.string())
    with atomic_path(target) as tmp:
        pq.write_table(pa.table(arrays), tmp)
    return target
