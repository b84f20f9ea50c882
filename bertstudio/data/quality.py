"""What a messy file's report should name: mojibake, text spilled into empty columns, HTML, duplicates.

Each finding is one plain sentence: how many rows, an example or the rows and columns, and the
setting that fixes it (by the label the Data tab shows, with the CLI flag). A finding whose fix
is already on is not repeated. Pure functions over a `Table` and the chosen columns.
"""

from __future__ import annotations

import difflib
from dataclasses import fields
from typing import TYPE_CHECKING, Sequence

from bertstudio.data.cleaning import CleaningOptions, find_html, fix_mojibake
from bertstudio.config import TrainConfig

if TYPE_CHECKING:
    from bertstudio.data.tabular import Table

SPARSE_SHARE = 0.1   # a named column filled in at most this share of rows is "empty" but for spills
_SHOWN_ROWS = 5      # row numbers listed before "and N more"
_DELIMITER_WORDS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def setting(name: str) -> str:
    """A setting as a person finds it: its label in the Data tab and its flag on the CLI."""
    label = next(f.metadata["label"] for f in fields(TrainConfig) if f.name == name)
    return f"'{label}' (--{name.replace('_', '-')})"


def _rows(n: int) -> str:
    return f"{n:,} row{'' if n == 1 else 's'}"


def _quote(text: str, limit: int = 60) -> str:
    """A short example in quotes; invisible C1 controls (cp1252 punctuation read as latin-1) are
    shown as escapes, or a reader would see nothing where the garbling is."""
    text = " ".join(text.split())
    text = "".join(f"\\x{ord(c):02x}" if 0x80 <= ord(c) <= 0x9F else c for c in text)
    return "'" + (text if len(text) <= limit else text[:limit - 1] + "…") + "'"


def _window(before: str, after: str, width: int = 24) -> tuple[str, str]:
    """The part of a text around its first change, before and after, so an example stays short."""
    blocks = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
    _, start, end, start2, end2 = next(op for op in blocks if op[0] != "equal")
    lo = max(0, start - width)
    space = before.find(" ", lo, start)
    if lo and space != -1:  # start at a word, not inside one
        lo = space + 1
    lo2 = lo + (start2 - start)
    return before[lo:end + width], after[lo2:end2 + width]


def _around(text: str, start: int, end: int, width: int = 24) -> str:
    """`text[start:end]` with up to `width` characters either side, cut at spaces, not in words."""
    lo, hi = max(0, start - width), min(len(text), end + width)
    space = text.find(" ", lo, start)
    if lo and space != -1:
        lo = space + 1
    space = text.rfind(" ", end, hi)
    if hi < len(text) and space != -1:
        hi = space
    return text[lo:hi]


def mojibake(table: "Table", indices: Sequence[int], options: CleaningOptions) -> str | None:
    """Rows whose text reads as garbled characters that `fix_mojibake` repairs, with one example."""
    count, example = 0, None
    for row in table.rows:
        for i in indices:
            repaired = fix_mojibake(row[i])
            if repaired != row[i]:
                count += 1
                example = example or (row[i], repaired)
                break
    if not count:
        return None
    if options.fix_mojibake:
        return f"Garbled characters were repaired in {_rows(count)}."
    before, after = _window(*example)
    return (f"{_rows(count)} {'has' if count == 1 else 'have'} garbled characters from a wrong "
            f"encoding (mojibake), e.g. {_quote(before)} should read {_quote(after)}; turn on "
            f"{setting('clean_fix_mojibake')} to repair them.")


def html(table: "Table", indices: Sequence[int], options: CleaningOptions) -> str | None:
    """Rows holding HTML tags or entities, while 'Strip HTML tags' is off."""
    if options.strip_html:
        return None
    count, example = 0, None
    for row in table.rows:
        for i in indices:
            found = find_html(row[i])
            if found:
                count += 1
                example = example or _around(row[i], found.start(), found.end())
                break
    if not count:
        return None
    return (f"{_rows(count)} hold{'s' if count == 1 else ''} HTML tags or entities, e.g. "
            f"{_quote(example)}; turn on {setting('clean_strip_html')} to remove the tags and "
            "decode the entities.")


def spill_columns(table: "Table", text_index: int, used: set[int]) -> list[int]:
    """Columns after the text column that the header leaves unnamed, or that are empty in nearly
    every row, yet hold something in some: where an unquoted delimiter pushed part of a text.
    Only delimited text can spill: in Excel, JSON or Parquet a sparse field is just a sparse field."""
    if getattr(table, "format", "csv") != "csv":
        return []
    rows = len(table.rows)
    filled = {i: sum(1 for row in table.rows if row[i].strip())
              for i in range(text_index + 1, len(table.columns)) if i not in used}
    return [i for i, n in filled.items() if n and (_unnamed(table, i) or n <= rows * SPARSE_SHARE)]


def rejoinable(text_index: int, spill: list[int]) -> bool:
    """The pieces can go back only when they are the columns right after the text."""
    return bool(spill) and spill == list(range(text_index + 1, text_index + 1 + len(spill)))


def spilled(table: "Table", text_index: int, used: set[int], rejoined: bool = False) -> str | None:
    """Rows with text in the spill columns, which rows and columns, and what to do about it."""
    spill = spill_columns(table, text_index, used)
    if not spill:
        return None
    hit = [n for n, row in enumerate(table.rows, start=1) if any(row[i].strip() for i in spill)]
    names = [table.columns[i] if _unnamed(table, i) else f"'{table.columns[i]}'" for i in spill]
    where = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    if rejoined and rejoinable(text_index, spill):
        return f"Text spilled into {where} was rejoined in {_rows(len(hit))}."
    unnamed = all(_unnamed(table, i) for i in spill)
    shown = ", ".join(str(n) for n in hit[:_SHOWN_ROWS]) + (
        f" and {len(hit) - _SHOWN_ROWS:,} more" if len(hit) > _SHOWN_ROWS else "")
    delimiter = _DELIMITER_WORDS.get(table.delimiter, repr(table.delimiter))
    fix = (f"turn on {setting('rejoin_spilled_text')} to put the pieces back, or put double quotes "
           if rejoinable(text_index, spill) else "put double quotes ")
    return (f"{_rows(len(hit))} {'has' if len(hit) == 1 else 'have'} text in {where}, "
            f"{'which the header leaves unnamed' if unnamed else 'empty in almost every other row'} "
            f"(row{'' if len(hit) == 1 else 's'} {shown}): an unquoted {delimiter} probably split "
            f"the text there, so '{table.columns[text_index]}' holds only its first part; {fix}"
            f"around texts that contain a {delimiter} in the file and load it again.")


def _unnamed(table: "Table", index: int) -> bool:
    # tabular names a header's empty cells column_<N>; in a file without a header every name is.
    return table.has_header and table.columns[index] == f"column_{index + 1}"


def duplicates(count: int, conflicting: int, removed: bool) -> str | None:
    """Rows that repeat an earlier text (and second text), unless they are being removed."""
    if not count or removed:
        return None
    differ = f" ({conflicting:,} of them with a different label)" if conflicting else ""
    return (f"{_rows(count)} repeat{'s' if count == 1 else ''} an earlier text{differ}, which makes "
            f"the validation score look better than it is; turn on {setting('remove_duplicates')} to "
            "keep only the first copy of each.")
