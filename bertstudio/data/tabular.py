"""`read_table`, the one entry for every format, and delimited text into a `Table`: delimiter and
quoting, ragged rows and NULs, the row limit while parsing (the bytes themselves, gzip and the
encoding: `filebytes.py`; Excel, JSON and Parquet records: `structured.py`; the `Table` and the
header, naming and limit rules every format shares: `table.py`).

Everything here forgives what real exported files get wrong and writes each fix into `Table.notes`;
what cannot be forgiven (an empty file, an image, a header with no rows) is refused with a
StudioError that says what to do. Parsing is the csv module over the decoded string, so a
200,000-row file costs one C-level pass plus one cheap pass over the rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
from collections import Counter
from pathlib import Path

from bertstudio.errors import StudioError
from bertstudio.data import formats
from bertstudio.data.filebytes import (DEFAULT_MAX_BYTES, SNIFF_CHARS, decode, gunzip, read_file, refuse_binary,
                                       refuse_other_tables, size_text)
from bertstudio.data.structured import structured_table
from bertstudio.data.table import (HEADER_SAMPLE_ROWS, Table, column_names, looks_like_header, refuse_long_cells,
                                   too_many_rows)
from bertstudio.limits import MAX_TEXT_CHARS

DELIMITERS = ("\t", ",", ";", "|")  # order breaks ties when two fit a sample equally well
_SNIFF_ROWS = 50
_PARSE_CHUNK_ROWS = 65_536  # rows parsed between two checks of the row limit
_USUAL_CELL_LIMIT = 131_072  # the csv module's default cell limit; a swallowed file runs far past it
# A field wrapped in quotes the CSV way: the only quotes inside are doubled.
_CSV_QUOTED = re.compile(r'"(?:[^"]|"")*"', re.DOTALL)


def _refuse_sheet(name: str, sheet: str, kind: str) -> None:
    """A sheet named for a file that has none: said, not ignored (the user expects that sheet)."""
    kind = {"json": "a JSON file", "jsonl": "a JSON Lines file", "parquet": "a Parquet file"}.get(kind, "a text table")
    raise StudioError(f"'{name}' is {kind}, not an Excel workbook, so it has no sheet '{sheet}'; "
                      "leave the sheet empty for this file.")


def read_table(source: str | Path | bytes, *, name: str | None = None,
               max_bytes: int = DEFAULT_MAX_BYTES, max_rows: int | None = None,
               max_text_chars: int = MAX_TEXT_CHARS, sheet: str | None = None) -> Table:
    """Read a CSV/TSV, Excel (.xlsx), JSON, JSON Lines or Parquet file (a path or its bytes, plain
    or gzip) into a `Table`; `sheet` picks an Excel sheet by name (default: the first).

    Refused: more than `max_bytes` (after unpacking), more than `max_rows` data rows (as soon as
    reading passes it, so a huge file costs no more memory than the limit), a cell longer than
    `max_text_chars`.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
        name = name or "data"
    else:
        path = Path(source)
        name = name or path.name
        raw = read_file(path, name, max_bytes)
    sha256 = hashlib.sha256(raw).hexdigest()
    notes: list[str] = []

    compressed = raw[:2] == b"\x1f\x8b"
    data = gunzip(raw, name, max_bytes) if compressed else raw
    if len(data) > max_bytes:
        raise StudioError(f"'{name}' is larger than {size_text(max_bytes)}; split it into smaller "
                          "files or remove columns you do not need.")
    if not data or data.isspace():  # not data.strip(): that copies the whole file
        raise StudioError(f"'{name}' is empty; choose a file with a header row and at least one "
                          "row of data.")
    fmt = formats.detect_format(data, name)
    if sheet is not None and fmt not in (formats.XLSX, formats.CSV):
        _refuse_sheet(name, sheet, fmt)
    if fmt != formats.CSV:
        return structured_table(data, fmt, name=name, sha256=sha256, compressed=compressed,
                                 max_bytes=max_bytes, max_rows=max_rows, max_text_chars=max_text_chars,
                                 sheet=sheet)
    refuse_other_tables(data, name)  # first: their binary bytes would only say "not a text file"
    refuse_binary(data, name)
    if sheet is not None:  # after the refusals: an old .xls is told as that, not as sheetless
        _refuse_sheet(name, sheet, "text table")

    text, encoding = decode(data, name)
    del data  # the decoded string replaces the bytes; keep memory in proportion to the file
    nul_count = text.count("\x00")
    if nul_count:
        text = text.replace("\x00", "")
        notes.append(f"Removed {nul_count} NUL character{_s(nul_count)}.")
    if not text or text.isspace():
        raise StudioError(f"'{name}' is empty; choose a file with a header row and at least one "
                          "row of data.")

    delimiter = sniff_delimiter(text)
    longest_possible = len(text)  # no cell can be longer than the whole text
    rows, quoting = _parse(text, delimiter, name, max_rows)
    del text
    if not rows:
        raise StudioError(f"'{name}' is empty; choose a file with a header row and at least one "
                          "row of data.")
    if quoting == "none":
        notes.append("Double quotes were kept as ordinary characters, because reading them as "
                     "CSV quoting would merge or change rows (common in GLUE TSV files).")

    has_header = len(rows) < 2 or looks_like_header(rows[0], rows[1:HEADER_SAMPLE_ROWS + 1])
    header = rows[0] if has_header else []
    body = rows[1:] if has_header else rows
    if not body:
        raise StudioError(f"'{name}' has a header row but no data rows; add rows below the header "
                          "or choose another file.")
    if not has_header:
        notes.append("The first row looks like data, so the columns were named column_1, "
                     "column_2, ...")
    if max_rows is not None and len(body) > max_rows:
        raise too_many_rows(name, max_rows)

    width = _width(header, body)
    columns = column_names(header, width)
    raw_header = (header[:width] + [""] * (width - len(header))) if has_header else None
    _fit_rows(body, width, delimiter, columns, notes)
    if longest_possible > max_text_chars:
        refuse_long_cells(header, body, columns, name, max_text_chars)
    return Table(columns=columns, rows=body, encoding=encoding, delimiter=delimiter,
                 has_header=has_header, name=name, sha256=sha256, notes=notes, quoting=quoting,
                 compressed=compressed, raw_header=raw_header)


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first rows into the most consistent number (> 1) of cells.

    Parsing with the csv module means delimiters inside quotes do not count. For tabs the
    no-quoting reading is tried too, since GLUE TSVs have quotes that never close.
    """
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS and "\n" in sample:
        sample = sample[:sample.rindex("\n") + 1]  # a cut-off last line would look ragged
    best: tuple[float, ...] | None = None
    chosen = ","
    for rank, delimiter in enumerate(DELIMITERS):
        quotings = [csv.QUOTE_MINIMAL] + ([csv.QUOTE_NONE] if delimiter == "\t" else [])
        for quoting in quotings:
            counts = _field_counts(sample, delimiter, quoting)
            if not counts:
                continue
            mode, hits = Counter(counts).most_common(1)[0]
            if mode < 2:
                continue
            score = (hits / len(counts), counts[0] == mode, -rank)
            if best is None or score > best:
                best, chosen = score, delimiter
    return chosen


def _field_counts(sample: str, delimiter: str, quoting: int) -> list[int]:
    counts: list[int] = []
    try:
        for row in _reader(sample, delimiter, quoting):
            if row and any(row):
                counts.append(len(row))
                if len(counts) >= _SNIFF_ROWS:
                    break
    except csv.Error:
        return []
    return counts


def _parse(text: str, delimiter: str, name: str,
           max_rows: int | None = None) -> tuple[list[list[str]], str]:
    """All non-blank rows, and "csv" or "none" for how quotes were read (see `_prefer_no_quoting`)."""
    _allow_cells_of(len(text))
    try:
        rows = _rows(_reader(text, delimiter), name, max_rows)
    except csv.Error as exc:  # not expected with the limit raised; told plainly all the same
        raise StudioError(f"'{name}' cannot be read as CSV; save it again from your spreadsheet "
                          "program as CSV or TSV.", detail=str(exc)) from exc
    if delimiter != "\t" and _swallowed_by_a_quote(rows, text):
        raise StudioError(f"'{name}' has a quote (\") that is never closed, so the rest of the "
                          "file runs into one cell; fix the quote or save the file as TSV.")
    if delimiter == "\t" and '"' in text:
        plain = _rows(_reader(text, "\t", csv.QUOTE_NONE), name, max_rows)
        if _prefer_no_quoting(rows, plain):
            return plain, "none"
    return rows, "csv"


def _rows(reader, name: str, max_rows: int | None) -> list[list[str]]:
    """The reader's non-blank rows, read in chunks so a file past `max_rows` stops being read
    (and kept in memory) a chunk after the limit; one row more is allowed for the header."""
    rows: list[list[str]] = []
    while chunk := list(itertools.islice(reader, _PARSE_CHUNK_ROWS)):
        rows.extend(_without_blank_rows(chunk))
        if max_rows is not None and len(rows) > max_rows + 1:
            raise too_many_rows(name, max_rows)
    return rows


def _allow_cells_of(length: int) -> None:
    """Let one cell be as long as the whole text: a several-MB cell (a long document) is data.

    The csv module's cell limit (128 KiB by default) is process-wide, so it is only ever raised,
    never lowered, which is safe for any other thread that is parsing at the same time.
    """
    if csv.field_size_limit() < length + 1:
        csv.field_size_limit(length + 1)


def _swallowed_by_a_quote(rows: list[list[str]], text: str) -> bool:
    """Whether an opening quote never closed and took the rest of the file into the last cell.

    Such a cell runs to the end of the file, so it is the last one; an odd number of quote
    characters says one was left open; and past the csv module's usual cell size (128 KiB) it
    is far longer than any text a person wrote into one cell of a table with rows below it.
    """
    if not rows or not rows[-1]:
        return False
    last = rows[-1][-1]
    return len(last) > _USUAL_CELL_LIMIT and "\n" in last and text.count('"') % 2 == 1


def _reader(text: str, delimiter: str, quoting: int = csv.QUOTE_MINIMAL):
    return csv.reader(_lines(text), delimiter=delimiter, quoting=quoting)


def _lines(text: str, block: int = 1 << 20):
    """The text's lines, ends kept, through a StringIO per block of about `block` characters.

    newline="" lets the csv module see \r, \n and \r\n itself, including inside quotes. One
    StringIO over the whole text would hold a second copy of it at 4 bytes a character (40 MB
    for a 10 MB file); blocks cut just after a \n end whole lines, so the rows are the same.
    """
    start = 0
    while start < len(text):
        end = text.find("\n", start + block)
        end = len(text) if end < 0 else end + 1
        yield from io.StringIO(text[start:end], newline="")
        start = end


def _prefer_no_quoting(quoted: list[list[str]], plain: list[list[str]]) -> bool:
    """For TSVs: read quotes as text when CSV quoting merges rows or would change texts.

    MRPC and STS-B have quotes that never close, which makes CSV quoting swallow rows; GoEmotions
    has texts that start with a quote, which CSV quoting silently strips. A TSV that pandas wrote
    (RTE) quotes the CSV way and is read with quoting.
    """
    ragged_quoted, ragged_plain = _ragged_count(quoted), _ragged_count(plain)
    if ragged_plain < ragged_quoted:
        return True
    if ragged_plain > ragged_quoted:
        return False
    return any(cell.startswith('"') and not _CSV_QUOTED.fullmatch(cell)
               for row in plain for cell in row)


def _ragged_count(rows: list[list[str]]) -> int:
    lengths = Counter(len(row) for row in rows if row)
    if not lengths:
        return 0
    return sum(lengths.values()) - lengths.most_common(1)[0][1]


def _without_blank_rows(rows: list[list[str]]) -> list[list[str]]:
    # `[]` is a blank line; `["", ""]` is a line of bare delimiters. Neither carries data.
    # Joining first keeps the test at C speed on big files.
    return [row for row in rows if row and "".join(row).strip()]


# --- shape ------------------------------------------------------------------------


def _width(header: list[str], body: list[list[str]]) -> int:
    """How many columns the table gets.

    The header's width, widened when most rows are wider (a header missing its last names) and
    narrowed by trailing empty header names that no typical row fills (`v1,v2,,,` over 2-cell rows).
    """
    modal, hits = Counter(len(row) for row in body).most_common(1)[0]
    if not header:
        return modal
    named = len(header)
    while named and not header[named - 1].strip():
        named -= 1
    # Only a clear majority of wider rows says the header is short; a few are ragged rows.
    if modal > named and (hits * 2 > len(body) or not named):
        return modal
    return named


def _fit_rows(rows: list[list[str]], width: int, delimiter: str, columns: list[str],
              notes: list[str]) -> None:
    """Pad short rows with "" and fold extra cells of long rows back into the last column, in place.

    Extra cells almost always come from an unquoted delimiter inside the last field, so joining
    them with the delimiter restores the text; extra cells that are all empty are just cut.
    """
    padded = folded = cut = 0
    for row in rows:
        extra = len(row) - width
        if not extra:
            continue
        if extra < 0:
            row.extend([""] * -extra)
            padded += 1
        elif any(row[width:]):
            row[width - 1:] = [delimiter.join(row[width - 1:])]
            folded += 1
        else:
            del row[width:]
            cut += 1
    if padded:
        notes.append(f"{padded} short row{_s(padded)} padded with empty cells.")
    if folded:
        notes.append(f"{folded} long row{_s(folded)} had extra cells joined into the last column "
                     f"'{columns[-1]}'.")
    if cut:
        notes.append(f"{cut} row{_s(cut)} had extra empty cells removed.")


def _s(n: int) -> str:
    return "" if n == 1 else "s"
