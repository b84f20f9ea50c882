"""Excel, JSON and Parquet rows into a `Table`: each format's reader, then the shape checks a CSV
gets (`table.py`: header detection for sheets, unique column names, padding, the cell limit)."""

from __future__ import annotations

import hashlib

from bertstudio.data import formats
from bertstudio.data.filebytes import decode
from bertstudio.data.table import (HEADER_SAMPLE_ROWS, Table, column_names, looks_like_header, refuse_long_cells,
                                   too_many_rows)
from bertstudio.errors import StudioError


def structured_table(data: bytes, fmt: str, *, name: str, sha256: str, compressed: bool, max_bytes: int,
                      max_rows: int | None, max_text_chars: int, sheet: str | None) -> Table:
    """An Excel, JSON or Parquet file through its reader, then the shape checks a CSV gets."""
    encoding = "utf-8"
    if fmt == formats.XLSX:
        from bertstudio.data.spreadsheet import read_xlsx

        found = read_xlsx(data, name, max_bytes, max_rows, sheet)
    elif fmt == formats.PARQUET:
        from bertstudio.data.parquetfile import read_parquet

        found = read_parquet(data, name, max_bytes, max_rows, max_text_chars)
    else:
        text, encoding = decode(data, name)
        del data
        found = formats.read_json(text, name, max_rows)
    notes = list(found.notes)
    rows = found.rows
    kinds = found.kinds
    if found.header is None:  # Excel: the first row is the header unless it reads as data
        if not rows:
            raise StudioError(f"The sheet '{found.sheet}' of '{name}' is empty; choose the sheet with "
                              "your table, or a file with a header row and at least one row of data.")
        has_header = len(rows) < 2 or looks_like_header(rows[0], rows[1:HEADER_SAMPLE_ROWS + 1])
        header = rows[0] if has_header else []
        body = rows[1:] if has_header else rows
        if not has_header:
            notes.append("The first row looks like data, so the columns were named column_1, "
                         "column_2, ...")
            kinds = {i: k if found.first_row_kinds.get(i, k) == k else "string" for i, k in kinds.items()}
        if max_rows is not None and len(body) > max_rows:
            raise too_many_rows(name, max_rows)
    else:
        has_header, header, body = True, found.header, rows
    if not body or (found.header is not None and not header):
        what = "a header row but no data rows" if found.header is None else "no records with fields"
        raise StudioError(f"'{name}' has {what}; choose a file with a header (or named fields) and at "
                          "least one row of data.")
    # A spreadsheet's cells past the header's last name are columns of their own (no delimiter
    # split them), so the table is as wide as its widest row.
    width = max(len(header), max(map(len, body)))
    if fmt == formats.XLSX:
        from bertstudio.data.spreadsheet import CELL_BYTES, too_many_cells

        if len(body) * width * CELL_BYTES > max_bytes:
            raise too_many_cells(name)
    columns = column_names(header, width)
    for row in body:
        if len(row) < width:
            row.extend([""] * (width - len(row)))
    refuse_long_cells(header, body, columns, name, max_text_chars)
    if found.sheet is not None and sheet is not None and sheet != found.first_sheet:
        # Another sheet is other data: the fingerprint of what a run trained on must differ.
        sha256 = hashlib.sha256(f"{sha256}|sheet:{found.sheet}".encode()).hexdigest()
    return Table(columns=columns, rows=body, encoding=encoding, delimiter=fmt, has_header=has_header,
                 name=name, sha256=sha256, notes=notes, quoting="none", compressed=compressed,
                 raw_header=(header + [""] * (width - len(header))) if has_header else None,
                 format=fmt, sheet=found.sheet,
                 column_kinds={columns[i]: kind for i, kind in kinds.items() if i < width},
                 list_separators={columns[i]: sep for i, sep in found.separators.items() if i < width})
