"""What `bertstudio inspect` and the Data tab show about a file, never raising on untrainable data."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bertstudio.data.cleaning import CleaningOptions
from bertstudio.data.columns import ColumnChoice, sort_labels, suggest_columns
from bertstudio.data.dataset import _extract, _findings, _keys, _ordered_counts, _problems
from bertstudio.data.tabular import Table
from bertstudio.errors import StudioError


def data_summary(table: Table, columns: ColumnChoice | None = None,
                 options: CleaningOptions | None = None) -> dict[str, Any]:
    """What `inspect` shows, never raising on untrainable data: the reasons go in `problems`."""
    summary: dict[str, Any] = {
        "file": table.name, "encoding": table.encoding, "delimiter": table.delimiter,
        "has_header": table.has_header, "columns": list(table.columns),
        "rows_total": len(table.rows), "notes": list(table.notes),
        "suggested": None, "rows": 0, "dropped": {}, "labels": {}, "label_counts": {},
        "problems": [], "warnings": [],
    }
    try:
        summary["suggested"] = _choice_dict(suggest_columns(table))
    except StudioError as exc:
        if columns is None:
            summary["problems"].append(exc.message)
            return summary
    choice = columns or ColumnChoice(**summary["suggested"])
    try:
        rows = _extract(table, choice, options or CleaningOptions())
    except StudioError as exc:
        summary["problems"].append(exc.message)
        return summary
    summary.update(text_column=choice.text, text_pair_column=choice.text_pair,
                   label_column=choice.label)
    summary["rows"] = len(rows.labels)
    summary["dropped"] = rows.dropped
    summary["label_counts"] = _ordered_counts(rows.labels, sort_labels(rows.labels))
    summary["labels"] = summary["label_counts"]  # the name cli.py reads; keys in label-map order
    keys = _keys(rows)
    summary["duplicate_texts"] = len(keys) - len(set(keys))
    summary["problems"] = _problems(rows, table, choice, split=True)
    summary["warnings"] = _findings(table, choice, options or CleaningOptions(), rows, False)
    return summary


def _choice_dict(choice: ColumnChoice) -> dict[str, Any]:
    """The choice as JSON; `label_columns` only when set, so one-column files read as before."""
    out = asdict(choice)
    if out["label_columns"] is None:
        del out["label_columns"]
    else:
        out["label_columns"] = list(out["label_columns"])
    return out
