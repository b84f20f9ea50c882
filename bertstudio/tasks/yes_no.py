"""Yes/no cells: the one set of spellings a 0/1 label column may hold, for training and the Data tab alike.

Training reads such a column as one tag (multi_label.py); the Data tab offers as label columns
exactly the columns training can read, so a column offered is never refused later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from bertstudio.tasks.labels import normalize_label

if TYPE_CHECKING:
    from bertstudio.data.tabular import Table

# Compared after `normalize_label` and casefold, so "1.0", " 01 ", "Yes" and "TRUE" count too.
YES = frozenset({"1", "yes", "y", "true", "t"})
NO = frozenset({"0", "no", "n", "false", "f"})
SAMPLE_ROWS = 5000  # rows looked at to offer a column: enough to judge, quick on a big file


def _spelling(cell: str) -> str:
    return normalize_label(cell).casefold()


def read_flag(cell: str) -> bool | None:
    """True for a yes, False for a no or an empty cell, None for anything else."""
    flag = _spelling(cell)
    if flag in YES:
        return True
    if flag in NO or not flag:
        return False
    return None


def is_yes_no_column(cells: Iterable[str]) -> bool:
    """Whether some cell is filled and every filled cell is a yes or a no."""
    spellings = {_spelling(cell) for cell in set(cells)} - {""}  # few distinct cells: spell each once
    return bool(spellings) and spellings <= YES | NO


def yes_no_columns(table: "Table", sample: int = SAMPLE_ROWS) -> list[str]:
    """The table's yes/no columns, in file order, judged on its first `sample` rows."""
    rows = table.rows[:sample]
    return [name for index, name in enumerate(table.columns)
            if is_yes_no_column(row[index] if index < len(row) else "" for row in rows)]
