"""What `bertstudio inspect` and the Data tab show about a file, never raising on untrainable data."""

from __future__ import annotations

import inspect
import math
from collections import Counter
from dataclasses import asdict
from typing import Any

from bertstudio.data.cleaning import CleaningOptions, clean_texts
from bertstudio.data.columns import ColumnChoice, sort_labels, suggest_columns
from bertstudio.data.dataset import _Rows, _extract, _findings, _keys, _ordered_counts, _problems
from bertstudio.data.tabular import Table
from bertstudio.errors import StudioError
from bertstudio.tasks.base import TASK_CHOICES, Dropped
from bertstudio.tasks.detect import Detection, detect_task
from bertstudio.tasks.numbers import column_is_numeric, parse_number
from bertstudio.tasks.registry import get_task

_YES = frozenset({"1", "1.0", "true", "yes", "y", "t"})  # a 0/1 label column's "has this tag"


def data_summary(table: Table, columns: ColumnChoice | None = None,
                 options: CleaningOptions | None = None, task: str = "auto",
                 separator: str | None = None) -> dict[str, Any]:
    """What `inspect` shows, never raising on untrainable data: the reasons go in `problems`.

    `task` "auto" is detected from the label column; the summary then reports that task's view
    of the labels (tags and tags per row, or the range of the values)."""
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
        detection = _detection(table, choice, task, separator)
    except StudioError as exc:
        summary["problems"].append(exc.message)
        return summary
    summary.update(task=detection.task, task_reason=detection.reason,
                   task_alternatives=list(detection.alternatives))
    if detection.task != "single_label":
        return _other_task(summary, table, choice, detection, options or CleaningOptions())
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
    return Detection(task, f"chosen by you (auto would pick {detected.task}: {detected.reason})",
                     separator=separator or detected.separator or
                     ("," if task == "multi_label" else None),
                     label_columns=choice.label_columns, alternatives=others)


def _other_task(summary: dict[str, Any], table: Table, choice: ColumnChoice, detection: Detection,
                options: CleaningOptions) -> dict[str, Any]:
    """The summary for multi-label and regression labels: the task reads the targets."""
    label = choice.label if not choice.label_columns else ",".join(choice.label_columns)
    summary.update(text_column=choice.text, text_pair_column=choice.text_pair, label_column=label)
    if choice.label_columns:
        summary["label_columns"] = list(choice.label_columns)
    try:
        values = _targets(table, choice, detection)
        texts, pairs = _texts(table, choice, options)
    except StudioError as exc:
        summary["problems"].append(exc.message)
        return summary
    dropped: Counter[str] = Counter()
    kept: list[Any] = []
    kept_keys: list[Any] = []
    kept_texts: list[str] = []
    unusable: list[Dropped] = []  # rows with a text whose target is not usable, for `problems`
    kept_pairs: list[str] | None = None if pairs is None else []
    for i, value in enumerate(values):
        reason = ("empty text" if not texts[i] else
                  "empty second text" if pairs is not None and not pairs[i] else
                  value.reason if isinstance(value, Dropped) else None)
        if reason:
            dropped[reason] += 1
            if isinstance(value, Dropped) and texts[i] and (pairs is None or pairs[i]):
                unusable.append(value)
        else:
            kept.append(value)
            kept_keys.append(texts[i] if pairs is None else (texts[i], pairs[i]))
            kept_texts.append(texts[i])
            if kept_pairs is not None:
                kept_pairs.append(pairs[i])
    summary["rows"] = len(kept)
    summary["dropped"] = dict(dropped)
    summary["duplicate_texts"] = len(kept_keys) - len(set(kept_keys))
    if detection.task == "multi_label":
        summary.update(_tag_stats(kept), separator=detection.separator)
    else:
        summary.update(_value_stats(kept), value_bins=_value_bins(kept))
    summary["label_counts"] = summary["labels"]
    summary["problems"] = _task_problems(detection.task, kept, unusable, label, table.name)
    # The file's own findings (mojibake, HTML, spilled text, duplicates) are the same whatever
    # the labels are; a target's text stands in for the label when telling conflicting copies.
    rows = _Rows(kept_texts, kept_pairs, [repr(v) for v in kept], dict(dropped), len(values))
    summary["warnings"] = _findings(table, choice, options, rows, False)
    return summary


def _texts(table: Table, choice: ColumnChoice,
           options: CleaningOptions) -> tuple[list[str], list[str] | None]:
    # With 0/1 columns `label` only names the first of them (as resolve_columns sets it).
    used = [choice.text, choice.text_pair, *(choice.label_columns or (choice.label,))]
    named = [c for c in used if c]
    if len(set(named)) < len(named):
        raise StudioError("The same column is chosen twice; pick different columns for the text, "
                          "the second text and the labels.")
    texts = clean_texts(table.column(choice.text), options)
    pairs = clean_texts(table.column(choice.text_pair), options) if choice.text_pair else None
    return texts, pairs


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
    """Rows per value bin ("0–0.5": 212), low to high, as the regression task counts them for
    the report; {} while that task is not installed."""
    try:
        task = get_task("regression")
    except StudioError:
        return {}
    return task.counts(kept, task.fit(kept)) if kept else {}


def _targets(table: Table, choice: ColumnChoice, detection: Detection) -> list[Any]:
    """Each row's target as the task reads it; a small reader of our own while the task module
    is not installed, so `inspect` works either way."""
    try:
        task = get_task(detection.task)
    except StudioError:
        task = None
    if task is not None:
        return task.read_targets(table, choice, detection.separator)
    if detection.task == "regression":
        cells = table.column(choice.label)
        _, comma = column_is_numeric(cells)
        return [Dropped("empty label") if not c.strip() else
                parse_number(c, comma) if parse_number(c, comma) is not None else
                Dropped("not a number") for c in cells]
    if choice.label_columns:
        columns = [table.column(c) for c in choice.label_columns]
        return [tuple(name for name, cells in zip(choice.label_columns, columns)
                      if cells[i].strip().lower() in _YES) for i in range(len(table.rows))]
    sep = detection.separator or ","
    return [tuple(sorted({p.strip() for p in cell.split(sep) if p.strip()}))
            for cell in table.column(choice.label)]


def _task_problems(name: str, kept: list[Any], unusable: list[Dropped], column: str,
                   source: str) -> list[str]:
    """The task's own sentences about why these rows cannot train (it reads the unusable
    targets too: "the column holds words, not numbers")."""
    problems: list[str] = []
    try:
        task = get_task(name)
    except StudioError:
        task = None
    if task is not None:
        values = kept + unusable
        if "source" in inspect.signature(task.problems).parameters:
            problems = task.problems(values, column, True, source=source)
        else:
            problems = task.problems(values, column, True)
    if not kept and not problems:
        return [f"'{source}' has no rows with both a text and a label in column '{column}'; "
                "choose other columns or fill them in."]
    return problems


def _choice_dict(choice: ColumnChoice) -> dict[str, Any]:
    """The choice as JSON; `label_columns` only when set, so one-column files read as before."""
    out = asdict(choice)
    if out["label_columns"] is None:
        del out["label_columns"]
    else:
        out["label_columns"] = list(out["label_columns"])
    return out
