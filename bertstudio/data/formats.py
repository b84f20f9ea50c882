"""Table formats other than CSV/TSV: which one a file is (by its bytes, then its name), how a value
becomes a cell's text, and the JSON / JSON Lines reader (Excel: `spreadsheet.py`, Parquet:
`parquetfile.py`).

Each reader returns `Records` (header, rows of strings, notes); `tabular.read_table` gives them the
same shape checks and limits as a CSV, so everything downstream sees one `Table`.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Iterator

from bertstudio.errors import StudioError

CSV, XLSX, JSON, JSONL, PARQUET = "csv", "xlsx", "json", "jsonl", "parquet"
STRUCTURED = (XLSX, JSON, JSONL, PARQUET)
SUFFIXES = {".xlsx": XLSX, ".xlsm": XLSX, ".json": JSON, ".jsonl": JSONL, ".ndjson": JSONL,
            ".parquet": PARQUET, ".pq": PARQUET}
# An object, or a list of objects, that opens with a quoted key: JSON, never a CSV header.
_JSON_START = re.compile(rb'\s*(?:\[\s*)?\{\s*"')
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# Tags joined into one cell: the first separator no tag in the column contains (the task detector
# knows all three).
TAG_SEPARATORS = ("|", ";", ",")


@dataclass
class Records:
    """What a reader found: the header (None: the first row may be one, decide as for CSV) and rows."""

    header: list[str] | None
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    # By column position: number, bool, date, list, object or string (several kinds: string).
    kinds: dict[int, str] = field(default_factory=dict)
    separators: dict[int, str] = field(default_factory=dict)  # position -> what its lists were joined by
    sheet: str | None = None                                   # the Excel sheet read
    first_sheet: str | None = None                             # and the workbook's first
    first_row_kinds: dict[int, str] = field(default_factory=dict)  # Excel: the first row's, apart


def detect_format(data: bytes, name: str) -> str:
    """CSV, XLSX, JSON, JSONL or PARQUET: magic bytes first (a renamed file is what it is), the name
    to tell JSON from JSON Lines. A ZIP that is not a workbook stays CSV here: `refuse_binary` names it."""
    suffix = _suffix(name)
    if data.startswith(b"PAR1"):
        return PARQUET
    if data.startswith(_ZIP_MAGIC):
        return XLSX if _is_workbook(data, suffix == XLSX) else CSV
    head = data[:4096].removeprefix(codecs.BOM_UTF8)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Windows tools write JSON so too
        head = head.decode("utf-16", errors="ignore").encode("utf-8")
    start = head.lstrip()[:1]
    named_json = suffix in (JSON, JSONL)
    if (named_json and start in (b"{", b"[")) or _JSON_START.match(head):
        if suffix == JSONL or (suffix != JSON and start == b"{"):
            return JSONL
        return JSON
    return CSV


def _suffix(name: str) -> str | None:
    lower = name.lower().removesuffix(".gz")
    return next((fmt for suffix, fmt in SUFFIXES.items() if lower.endswith(suffix)), None)


def _is_workbook(data: bytes, named_so: bool) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        head = data[:4096]  # a damaged zip: its name, or its first entry's, still says what it was
        return named_so or b"xl/" in head or (b"[Content_Types].xml" in head and b"word/" not in head
                                  and b"ppt/" not in head)


# --- values to cells ---------------------------------------------------------------------------


class Number(str):
    """A JSON number kept as the text the file wrote ("1.50", a 40-digit id), not a float."""


class Tags(tuple):
    """A list of tags waiting for its column's separator (chosen once the whole column is seen)."""


def compact_json(value: Any) -> str:
    """Nested values as compact JSON text, numbers as the file wrote them."""
    if isinstance(value, Number):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{compact_json(v)}"
                              for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(compact_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, default=str)


class Columns:
    """Header names in first-seen order, and what kind of value each column held, for the notes and
    for writing predictions back in the same shape."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.kinds: dict[str, set[str]] = {}
        self.separators: dict[str, str] = {}
        self.tag_chars: dict[str, set[str]] = {}  # the separators some tag in the column contains

    def position(self, key: str) -> int:
        if key not in self.index:
            self.index[key] = len(self.index)
            self.kinds[key] = set()
        return self.index[key]

    def cell(self, key: str, value: Any) -> str:
        """One value as a cell's text: numbers as written, null empty, tags joined, objects as JSON."""
        kinds = self.kinds[key]
        if value is None:
            return ""
        if isinstance(value, bool):
            kinds.add("bool")
            return "true" if value else "false"
        if isinstance(value, Number):
            kinds.add("number")
            return str(value)
        if isinstance(value, str):
            kinds.add("string")
            return value
        if isinstance(value, (list, tuple)) and all(type(v) is str or _whole(v) for v in value):
            kinds.add("list")
            tags = Tags(str(v) for v in value)
            found = self.tag_chars.setdefault(key, set())
            found.update(sep for sep in TAG_SEPARATORS if sep not in found and any(sep in t for t in tags))
            return tags  # type: ignore[return-value]  # joined in `join_tags`, once the column is read
        kinds.add("object")
        return compact_json(value)

    def join_tags(self, rows: list[list[Any]]) -> None:
        """Join every list column's tags, in place, with the first separator none of its tags
        contains, so the whole column splits one way; a column whose tags hold all three keeps
        its lists as JSON text."""
        for key, found in self.tag_chars.items():
            at = self.index[key]
            separator = next((sep for sep in TAG_SEPARATORS if sep not in found), None)
            if separator is None:
                self.kinds[key].discard("list")
                self.kinds[key].add("object")
            else:
                self.separators[key] = separator
            for row in rows:
                if at < len(row) and isinstance(row[at], Tags):
                    tags = row[at]
                    row[at] = separator.join(tags) if separator is not None else compact_json(list(tags))

    def header(self) -> list[str]:
        return list(self.index)

    def notes(self) -> list[str]:
        notes = []
        for key, kinds in self.kinds.items():
            if "list" in kinds and key in self.separators:
                notes.append(f"Column '{key}' holds lists; each cell joins its items with "
                             f"'{self.separators[key]}', so it can be a multi-label column.")
            if "object" in kinds:
                notes.append(f"Column '{key}' holds nested values; they were kept as compact JSON text.")
        return notes

    def kind_names(self) -> dict[int, str]:
        return {self.index[key]: next(iter(kinds)) if len(kinds) == 1 else "string"
                for key, kinds in self.kinds.items() if kinds}


def _whole(value: Any) -> bool:
    # Label ids ([3, 27]) are tags; a list of decimals (an embedding) is not.
    return isinstance(value, Number) and value.lstrip("-").isdigit()


# --- JSON and JSON Lines -------------------------------------------------------------------------

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder(parse_float=Number, parse_int=Number, parse_constant=Number)


def read_json(text: str, name: str, max_rows: int | None) -> Records:
    """A JSON array of records, or JSON Lines (one record per line; any whitespace between records),
    read one record at a time so the row limit stops reading early and only one record is ever
    held as Python objects besides the rows."""
    columns = Columns()
    rows: list[list[str]] = []
    try:
        for number, record in enumerate(_values(text, name), start=1):
            if not isinstance(record, dict):
                raise _not_a_record(record, number, name, text.lstrip().startswith("["))
            if max_rows is not None and number > max_rows:
                raise StudioError(f"'{name}' has more than {max_rows:,} rows, the limit here; upload a "
                                  f"sample of at most {max_rows:,} rows.")
            row: list[str] = [""] * len(columns.index)
            for key, value in record.items():
                at = columns.position(str(key))
                row.extend([""] * (at + 1 - len(row)))
                row[at] = columns.cell(str(key), value)
            rows.append(row)
    except RecursionError:
        raise StudioError(f"'{name}' nests its values too deeply to be a table; save each record as "
                          "one level of named fields.") from None
    columns.join_tags(rows)
    if not rows:
        raise StudioError(f"'{name}' holds no records; choose a file with at least one row of data.")
    if len(rows) == 1 and _columns_orient(rows, columns):
        raise StudioError(f"'{name}' holds one object of columns, not a list of records; save it as "
                          "records (with pandas: to_json(orient='records', lines=True)) and choose "
                          "that file.")
    header = columns.header()
    short = sum(1 for row in rows if len(row) < len(header))
    for row in rows:
        row.extend([""] * (len(header) - len(row)))
    notes = columns.notes()
    if short:
        notes.insert(0, f"{short:,} record{'' if short == 1 else 's'} lacked some fields; "
                        "those cells are empty.")
    return Records(header=header, rows=rows, notes=notes, kinds=columns.kind_names(),
                   separators={columns.index[key]: sep for key, sep in columns.separators.items()})


def _values(text: str, name: str) -> Iterator[Any]:
    """The top-level values: the items of one array, or every value in turn (JSON Lines)."""
    at = _SPACE.match(text).end()
    in_array = text.startswith("[", at)
    if in_array:
        at = _SPACE.match(text, at + 1).end()
    while at < len(text):
        if in_array and text.startswith("]", at):
            at = _SPACE.match(text, at + 1).end()
            if at < len(text):
                raise _broken(text, at, name, "text follows the end of the list of records")
            return
        try:
            value, at = _DECODER.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            cut = exc.msg.startswith("Unterminated string") and "\n" not in text[exc.pos:].rstrip()
            raise _broken(text, len(text) if cut else exc.pos, name,
                          exc.msg.removesuffix(" starting at")) from None
        yield value
        at = _SPACE.match(text, at).end()
        if in_array:
            if text.startswith(",", at):
                at = _SPACE.match(text, at + 1).end()
            elif at < len(text) and not text.startswith("]", at):
                raise _broken(text, at, name, "expected ',' or ']' after a record")
    if in_array:
        raise StudioError(f"'{name}' ends before its list of records is closed with ']'; the file "
                          "may be cut off, so save or download it again.")


def _broken(text: str, pos: int, name: str, why: str) -> StudioError:
    if pos >= len(text.rstrip()):
        return StudioError(f"'{name}' ends in the middle of a record; the file may be cut off, so "
                           "save or download it again.")
    line = text.count("\n", 0, pos) + 1
    return StudioError(f"Line {line:,} of '{name}' is not valid JSON ({why[:1].lower() + why[1:]}); "
                       "fix that line or save the file again.")


def _not_a_record(value: Any, number: int, name: str, in_array: bool) -> StudioError:
    what = ("a list" if isinstance(value, list) else "a number" if isinstance(value, Number)
            else "a text" if isinstance(value, str) else "an empty value" if value is None else "true or false")
    where = f"Item {number:,} of the list in '{name}'" if in_array else f"Value {number:,} in '{name}'"
    return StudioError(f"{where} is {what}, not a record with named fields such as "
                       '{"text": "...", "label": "..."}; save the data as one record per row.')


def _columns_orient(rows: list[list[str]], columns: Columns) -> bool:
    """pandas' default to_json writes {column: {row: value}}: one 'record' of nested objects."""
    kinds = columns.kind_names()
    return len(kinds) == len(columns.index) > 0 and all(kind == "object" for kind in kinds.values())
