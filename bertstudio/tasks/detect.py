"""`auto`: which task a label column asks for (one class, several tags, or a number), and why.

Judged on an evenly spread sample of the label cells, in this order:
- several 0/1 columns picked as labels: multi-label;
- cells holding lists of tags ("3,27", "joy;love"): multi-label. A decimal comma ("3,5" in a
  ';' file) and a class name with a comma in it ("Arts, Crafts") are told apart from tag lists;
- numbers: fractional values, or more whole numbers than a classifier takes, are a score
  (regression); fewer whole numbers (1-5 stars, class ids) are classes, with regression offered;
- anything else: one label per row.
The reason is one plain line for the Data tab and `inspect`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bertstudio.tasks.labels import MAX_LABELS
from bertstudio.tasks.multi_label import detect_separator
from bertstudio.tasks.numbers import column_is_numeric, parse_number

if TYPE_CHECKING:  # the table and columns come in; the tasks import nothing from data at run time
    from bertstudio.data.columns import ColumnChoice
    from bertstudio.data.tabular import Table

_SAMPLE_ROWS = 20_000        # enough to judge a column; keeps detection fast on big files
_MIN_NUMERIC_SHARE = 0.98    # a few "n/a" cells do not stop a score column being a score
# Up to this many whole numbers read as classes (stars, grades, class ids 0..19), as they always
# did; more is a count or a score (regression), which no classifier here would take.
_FEW_WHOLE_NUMBERS = MAX_LABELS
_MAX_TAGS = 1000             # more distinct pieces than this is text with commas, not tags
_MAX_TAG_LENGTH = 60         # a longer piece is a sentence, not a tag


@dataclass(frozen=True)
class Detection:
    """The task `auto` resolves to, the one-line reason, and what else would fit."""

    task: str
    reason: str
    separator: str | None = None                 # multi_label: between tags in one cell
    label_columns: tuple[str, ...] | None = None  # multi_label from several 0/1 columns
    alternatives: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"task": self.task, "reason": self.reason, "separator": self.separator,
                "label_columns": list(self.label_columns) if self.label_columns else None,
                "alternatives": list(self.alternatives)}


def detect_task(table: Table, choice: ColumnChoice, separator: str | None = None) -> Detection:
    """The task the chosen label column(s) hold; `separator` fixes the one between tags."""
    if choice.label_columns:
        n = len(choice.label_columns)
        return Detection("multi_label", f"{n} yes/no column{'' if n == 1 else 's'} picked as labels",
                         separator=",", label_columns=tuple(choice.label_columns))
    cells = _sample_cells(table, choice.label)
    if not cells:
        return Detection("single_label", f"column '{choice.label}' has no labels to judge")
    tags = _tag_lists(cells, separator)
    if tags is not None:
        return tags
    numbers = _numbers(cells)
    if numbers is not None:
        return numbers
    counts = Counter(cells)
    if len(counts) == len(cells) > 1:
        return Detection("single_label", f"every row holds a different value in '{choice.label}', "
                         "which looks like an id or text rather than labels")
    n = len(counts)
    return Detection("single_label", f"{n} label{'' if n == 1 else 's'}, one per row")


def _sample_cells(table: Table, column: str) -> list[str]:
    """The filled cells of `column` over an evenly spread sample of rows, trimmed."""
    index = table.column_index(column)
    step = -(-len(table.rows) // _SAMPLE_ROWS)
    rows = table.rows[::step] if step > 1 else table.rows
    return [v for v in (row[index].strip() for row in rows) if v]


# --- several labels in one cell ----------------------------------------------------------------


def _split(cell: str, separator: str) -> list[str]:
    return [p for p in (piece.strip() for piece in cell.split(separator)) if p]


def _tag_lists(cells: list[str], separator: str | None) -> Detection | None:
    """A multi-label detection when the cells are lists of tags, else None."""
    sep = separator or detect_separator(cells)
    if not sep:
        return None
    lists = [_split(cell, sep) for cell in cells]
    several = [pieces for pieces in lists if len(pieces) > 1]
    if not several:
        return None
    pieces = Counter(piece for p in lists for piece in p)
    once = sum(1 for n in pieces.values() if n == 1)
    if separator is None and (len(pieces) > _MAX_TAGS or len(pieces) * 2 > sum(pieces.values())
                              or once * 2 > len(pieces) or max(map(len, pieces)) > _MAX_TAG_LENGTH):
        return None  # the pieces hardly repeat, or are long: text with commas, not tags
    # A separator the user gave says these are tags; only a guessed one needs the checks.
    if separator is None and sep == "," and _reads_as_numbers(cells, several):
        return None
    if separator is None and _fixed_phrases(lists, several):
        return None
    share = len(several) / len(lists)
    how = "most cells hold" if share > 0.5 else f"{_percent(share)} of the cells hold"
    reason = f"{how} several labels separated by '{sep}'; {len(pieces)} distinct labels"
    return Detection("multi_label", reason, separator=sep, alternatives=("single_label",))


def _reads_as_numbers(cells: list[str], several: list[list[str]]) -> bool:
    """Comma cells that are numbers with a decimal comma or thousands ("3,5", "4,25", "1,250"),
    not lists of tag ids ("3,27"): every cell is one number, and enough of the comma cells
    could not be a list of ids (a repeated or descending id, a leading zero, three digits)."""
    if any(len(pieces) > 2 for pieces in several):
        return False
    if any(parse_number(cell) is None for cell in cells):
        return False
    tails = {pieces[1] for pieces in several}
    if len(tails) == 1 and len(several) >= 3:
        return True  # "0,5", "1,5", "2,5": half steps; tag lists do not all end in one tag
    odd = sum(1 for head, tail in several
              if (len(tail) > 1 and tail.startswith("0")) or len(tail) == 3
              or (head.isdigit() and tail.isdigit() and int(tail) <= int(head)))
    return odd * 10 >= len(several)


def _fixed_phrases(lists: list[list[str]], several: list[list[str]]) -> bool:
    """Most multi-piece cells are class names with a separator inside ("Arts, Crafts"): their
    pieces never appear alone or in another combination."""
    combos_of: dict[str, set[tuple[str, ...]]] = {}
    for pieces in lists:
        combo = tuple(pieces)
        for piece in pieces:
            combos_of.setdefault(piece, set()).add(combo)
    fixed = sum(1 for pieces in several if all(len(combos_of[p]) == 1 for p in pieces))
    return fixed * 2 > len(several)


# --- numbers -----------------------------------------------------------------------------------


def _numbers(cells: list[str]) -> Detection | None:
    """Regression for a score, single-label for a few whole numbers; None when not numbers."""
    share, decimal_comma = column_is_numeric(cells)
    if share < _MIN_NUMERIC_SHARE:
        return None
    values = [v for v in (parse_number(c, decimal_comma) for c in cells) if v is not None]
    if not values:
        return None
    distinct = set(values)
    whole = all(v == math.floor(v) for v in distinct)
    low, high = _fmt(min(values)), _fmt(max(values))
    if whole and len(distinct) <= _FEW_WHOLE_NUMBERS:
        n = len(distinct)
        if n <= 2:
            return Detection("single_label", f"{n} label{'' if n == 1 else 's'}, one per row")
        return Detection("single_label", f"the column holds {n} whole numbers from {low} to "
                         f"{high}, read as classes; choose regression if they are a scale",
                         alternatives=("regression",))
    if whole and len(distinct) == len(values):
        return Detection("single_label", f"every row holds a different whole number ({low} to "
                         f"{high}), which looks like an id rather than labels or a score")
    kind = "whole numbers" if whole else "numbers"
    reason = f"the column holds {kind} from {low} to {high} with {len(distinct)} distinct values"
    if share < 1:
        reason += f" ({len(cells) - len(values)} cells are not numbers)"
    alternatives = ("single_label",) if len(distinct) <= MAX_LABELS else ()  # fractional ones
    return Detection("regression", reason, alternatives=alternatives)


def _fmt(value: float) -> str:
    return f"{value:g}"


def _percent(share: float) -> str:
    return f"{share:.0%}" if share >= 0.01 else "under 1%"
