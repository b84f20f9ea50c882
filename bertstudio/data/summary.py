"""What `bertstudio inspect` and the Data tab show about a file, never raising on untrainable data."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict
from typing import Any

from bertstudio.data.cleaning import CleaningOptions
from bertstudio.data.columns import ColumnChoice, suggest_columns
from bertstudio.data.dataset import _extract, _findings, _keys, _ordered_counts, _problems
from bertstudio.data.tabular import Table
from bertstudio.errors import StudioError
from bertstudio.tasks.base import TASK_CHOICES
from bertstudio.tasks.detect import Detection, detect_task
from bertstudio.tasks.labels import sort_labels
from bertstudio.tasks.registry import get_task

def data_summary(table: Table, columns: ColumnChoice | None = None,
                 options: CleaningOptions | None = None, task: str = "auto",
                 separator: str | None = None) -> dict[str, Any]:
    """What `inspect` shows, never raising on untrainable data: the reasons go in `problems`.

    `task` "auto" is detected from the label column; the summary then reports that task's view
    of the labels (tags and tags per row, or the range of the values)."""
    summary: dict[str, Any] = {
        "file": table.name, "encoding": table.encoding, "delimiter": table.delimiter,
        "format": table.format, "sheet": table.sheet, "has_header": table.has_header, "columns": list(table.columns),
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
        detection = _detection(table, choice, task, separator)
    except StudioError as exc:
        summary["problems"].append(exc.message)
        return summary
    summary.update(task=detection.task, task_reason=detection.reason,
                   task_alternatives=list(detection.alternatives))
    options = options or CleaningOptions()
    task = get_task(detection.task)
    try:  # the same reading of the rows as training's, so both tell the same problems
        rows = _extract(table, choice, options, False, task, detection.separator)
    except StudioError as exc:
        summary["problems"].append(exc.message)
        return summary
    label = ",".join(choice.label_columns) if choice.label_columns else choice.label
    summary.update(text_column=choice.text, text_pair_column=choice.text_pair, label_column=label)
    if choice.label_columns:
        summary["label_columns"] = list(choice.label_columns)
    summary["rows"] = len(rows.labels)
    summary["dropped"] = rows.dropped
    if detection.task == "multi_label":
        summary.update(_tag_stats(rows.labels), separator=detection.separator)
    elif detection.task == "regression":
        summary.update(_value_stats(rows.labels), value_bins=_value_bins(rows.labels))
    else:
        summary["labels"] = _ordered_counts(rows.labels, sort_labels(rows.labels))
    summary["label_counts"] = summary["labels"]  # "labels" is the name cli.py reads
    keys = _keys(rows)
    summary["duplicate_texts"] = len(keys) - len(set(keys))
    summary["problems"] = _problems(rows, table, choice, True, task)
    summary["warnings"] = _findings(table, choice, options, rows, False)
    return summary


def _detection(table: Table, choice: ColumnChoice, task: str, separator: str | None) -> Detection:
    """`auto` detected; a task the user chose kept, with the detector's view as the reason."""
    for name in (choice.label, *(choice.label_columns or ())):
        if name:
            table.column_index(name)  # a StudioError naming the columns the file has
    if task not in TASK_CHOICES:
        raise StudioError(f"There is no task called '{task}'; choose one of: "
                          f"{', '.join(TASK_CHOICES)}.")
    detected = detect_task(table, choice, separator)
    if task == "auto" or task == detected.task:
        return detected
    others = tuple(t for t in TASK_CHOICES[1:] if t != task)
    if task == "multi_label":  # the separator the task itself will split the cells with
        from bertstudio.tasks.multi_label import resolve_separator

        separator = resolve_separator(table, choice, separator or detected.separator)
    return Detection(task, f"chosen by you (auto would pick {detected.task}: {detected.reason})",
                     separator=separator if task == "multi_label" else None,
                     label_columns=choice.label_columns, alternatives=others)


def _tag_stats(kept: list[Any]) -> dict[str, Any]:
    """Rows per tag (in label-map order, as for one label per row), rows per number of tags,
    rows with none."""
    per_tag: Counter[str] = Counter(tag for tags in kept for tag in tags)
    per_row = Counter(len(tags) for tags in kept)
    return {"labels": {tag: per_tag[tag] for tag in sort_labels(per_tag)},
            "labels_per_row": {str(k): per_row[k] for k in sorted(per_row)},
            "rows_without_labels": per_row.get(0, 0)}


def _value_stats(kept: list[Any]) -> dict[str, Any]:
    numbers = [float(v) for v in kept]
    if not numbers:
        return {"labels": {}, "min": None, "max": None, "mean": None}
    return {"labels": {}, "min": min(numbers), "max": max(numbers),
            "mean": math.fsum(numbers) / len(numbers)}


def _value_bins(kept: list[Any]) -> dict[str, int]:
    """Rows per value bin ("0–0.5": 212), low to high, as the regression task counts them."""
    task = get_task("regression")
    return task.counts(kept, task.fit(kept)) if kept else {}


def _choice_dict(choice: ColumnChoice) -> dict[str, Any]:
    """The choice as JSON; `label_columns` only when set, so one-column files read as before."""
    out = asdict(choice)
    if out["label_columns"] is None:
        del out["label_columns"]
    else:
        out["label_columns"] = list(out["label_columns"])
    return out
