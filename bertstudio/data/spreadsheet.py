"""Excel workbooks (.xlsx) to rows of text: the first sheet or a chosen one, read with openpyxl in
read-only mode (the cached value of a formula, never the formula).

An .xlsx is a ZIP of XML files, so the sizes its entries unpack to are checked before anything is
read, and the rows are counted as they stream in: a small workbook cannot unpack to gigabytes,
declare a million rows it does not have, or widen every row to 18,000 columns without being refused.
"""

from __future__ import annotations

import datetime
import io
import zipfile
from typing import Any

from bertstudio.data.formats import Records
from bertstudio.errors import StudioError

EXCEL_MAX_ROWS = 1_048_576  # a sheet cannot be longer; past it the file says rows it cannot hold
CELL_BYTES = 8  # a stored cell costs at least a pointer: cells x 8 may not pass the byte limit


def open_workbook(data: bytes, name: str, max_bytes: int):
    """The workbook, after checking what its entries unpack to; damaged files are told plainly."""
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(entry.file_size for entry in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise _damaged(name, exc) from exc
    if unpacked > max_bytes:
        from bertstudio.data.filebytes import size_text

        raise StudioError(f"'{name}' unpacks to more than {size_text(max_bytes)}; split the data into "
                          "smaller files or remove columns you do not need.")
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # openpyxl raises many kinds on a damaged file; each means the same here
        raise _damaged(name, exc) from exc


def sheet_names(source, *, name: str | None = None, max_bytes: int | None = None) -> list[str]:
    """An Excel file's sheet names, in order, for a sheet picker (a path or the bytes; plain or
    gzip); [] for a file that is not a workbook, so a caller can ask of any file."""
    from pathlib import Path

    from bertstudio.data.filebytes import DEFAULT_MAX_BYTES, gunzip, read_file
    from bertstudio.data.formats import XLSX, detect_format

    max_bytes = max_bytes or DEFAULT_MAX_BYTES
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), name or "data"
    else:
        name = name or Path(source).name
        data = read_file(Path(source), name, max_bytes)
    if data[:2] == b"\x1f\x8b":
        data = gunzip(data, name, max_bytes)
    if detect_format(data, name) != XLSX:
        return []
    workbook = open_workbook(data, name, max_bytes)
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def read_xlsx(data: bytes, name: str, max_bytes: int, max_rows: int | None,
              sheet: str | None = None) -> Records:
    """One sheet's non-blank rows as text, trailing empty cells trimmed; the header is decided later."""
    workbook = open_workbook(data, name, max_bytes)
    try:
        names = [ws.title for ws in workbook.worksheets]
        if not names:
            raise StudioError(f"'{name}' has no sheets with cells; save a sheet with your table in it.")
        chosen = sheet if sheet is not None else names[0]
        if chosen not in names:
            raise StudioError(f"'{name}' has no sheet '{chosen}'; its sheets are: "
                              f"{', '.join(repr(n) for n in names)}.")
        worksheet = workbook.worksheets[names.index(chosen)]
        rows, first_kinds, kinds = _rows(worksheet, name, max_bytes, max_rows)
    except (StudioError, MemoryError):
        raise
    except Exception as exc:
        raise _damaged(name, exc) from exc
    finally:
        workbook.close()
    notes = []
    if len(names) > 1:
        others = ", ".join(repr(n) for n in names if n != chosen)
        notes.append(f"Read the sheet '{chosen}'; the workbook's other sheets ({others}) can be "
                     "chosen instead.")
    return Records(header=None, rows=rows, notes=notes, kinds=kinds, sheet=chosen, first_sheet=names[0],
                   first_row_kinds=first_kinds)


def _rows(worksheet, name: str, max_bytes: int,
          max_rows: int | None) -> tuple[list[list[str]], dict[int, str], dict[int, str]]:
    """The rows, and each column's kind of value in the first row and in the rest apart: the
    first row may turn out to be the header, whose names must not make a number column text."""
    # The sheet's own <dimension> can claim A1:XFD1048576; forget it, so each row is as wide as
    # its last cell and missing rows cost nothing.
    worksheet.reset_dimensions()
    rows: list[list[str]] = []
    first: dict[int, set[str]] = {}
    kinds: dict[int, set[str]] = {}
    cells = seen = 0
    for values in worksheet.iter_rows(values_only=True):
        seen += 1
        if seen > EXCEL_MAX_ROWS:
            raise StudioError(f"'{name}' says it has more rows than Excel allows "
                              f"({EXCEL_MAX_ROWS:,}); the file is damaged, so save it again from Excel.")
        found = kinds if rows else first
        row = [_text(value, found.setdefault(i, set())) for i, value in enumerate(values)]
        while row and not row[-1].strip():
            row.pop()
        if not row:
            continue
        rows.append(row)
        cells += len(row)
        if max_rows is not None and len(rows) > max_rows + 1:  # one more: the header
            raise StudioError(f"'{name}' has more than {max_rows:,} rows, the limit here; upload a "
                              f"sample of at most {max_rows:,} rows.")
        if cells * CELL_BYTES > max_bytes:
            raise too_many_cells(name)
    return rows, _one_kind(first), _one_kind(kinds)


def _one_kind(kinds: dict[int, set[str]]) -> dict[int, str]:
    return {i: next(iter(found)) if len(found) == 1 else "string" for i, found in kinds.items() if found}


def too_many_cells(name: str) -> StudioError:
    return StudioError(f"'{name}' has more cells (rows times columns) than the size limit allows; "
                       "delete the rows and columns you do not need, or split the sheet.")


def _text(value: Any, kinds: set[str]) -> str:
    """A cell's value as the text Excel shows for it by default (TRUE, 3, 0.25, 2024-01-31)."""
    if value is None:
        return ""
    if isinstance(value, str):
        kinds.add("string")
        return value
    if isinstance(value, bool):
        kinds.add("bool")
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        kinds.add("number")
        return str(value)
    if isinstance(value, float):
        kinds.add("number")
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime.datetime):
        kinds.add("date")
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        kinds.add("date")
        return value.isoformat()
    kinds.add("string")
    return str(value)


def _damaged(name: str, exc: BaseException) -> StudioError:
    return StudioError(f"'{name}' looks like an Excel file but cannot be read (it may be damaged, "
                       "cut off or password-protected); open it in Excel, save it again as .xlsx or "
                       "CSV and choose that file.", detail=f"{type(exc).__name__}: {exc}")
