"""What the Data tab shows of the loaded files: the data report, the task in force and why, the
task's charts and its own controls; problems beside the control that can fix them.

`prepare_view` runs the engine's `prepare_data` on the visitor's `LoadedData` and the form's
values and returns a `DataView`; data_tab.py builds the components and wires it to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gradio as gr

from bertstudio.errors import StudioError
from bertstudio.tasks.registry import get_task
from bertstudio.tasks.yes_no import yes_no_columns
from bertstudio.ui import charts, render
from bertstudio.ui.form import SEPARATORS as SEPARATOR_CHOICES, TASK_TITLES
from bertstudio.ui.task_views import DEFAULT_TASK, get_view, label_sets_view
from bertstudio.ui.task_views.base import DataFacts

if TYPE_CHECKING:
    from bertstudio.data.dataset import PreparedData
    from bertstudio.data.tabular import Table
    from bertstudio.ui.form import ConfigForm

NO_TASK_YET = "The task (one label per row, several labels, or a number) is detected once a file is loaded."
REPORT_WAITING = "The data report appears here once a file is loaded."


@dataclass
class LoadedData:
    """The visitor's files as read by the engine; kept in gr.State (never shared between visitors)."""

    path: str
    table: "Table"
    validation_path: str | None = None
    validation_table: "Table | None" = None


@dataclass
class DataView:
    """What the tab shows after a prepare, in the order of data_tab's `prepare_outputs`; gr.skip()
    leaves a component as it is."""

    prepared: Any = None
    report: str = REPORT_WAITING
    chart: Any = None
    per_row_chart: Any = field(default_factory=lambda: gr.update(visible=False))
    column_problem: str = ""
    validation_problem: str = ""
    task_note: str = NO_TASK_YET
    separator: Any = field(default_factory=lambda: gr.update(visible=False))
    label_columns: Any = field(default_factory=lambda: gr.update(visible=False))

    def outputs(self) -> list[Any]:
        chart = self.chart if self.chart is not None else charts.label_distribution_figure({})
        return [self.prepared, self.report, chart, self.per_row_chart, self.column_problem,
                self.validation_problem, self.task_note, self.separator, self.label_columns]


def prepare_view(form: "ConfigForm", loaded: LoadedData | None, *values: Any) -> DataView:
    """Run the engine's prepare_data on the current choices: the report, the task with its reason,
    the task's charts and controls. Problems go beside the control that can fix them."""
    from bertstudio.data.dataset import prepare_data

    if loaded is None:
        return DataView()
    chosen = {c.name: c.read(v) for c, v in zip(form.controls, values)}
    try:
        # The rows do not depend on the metric watched; a task just switched may not measure the
        # old one yet (the Hyperparameters tab resets it once this task is known).
        config = form.build_config(loaded.path, loaded.validation_path,
                                   form.with_values(values, metric_for_best="auto"))
        prepared: PreparedData = prepare_data(config, loaded.table, loaded.validation_table)
    except StudioError as exc:
        return _failed_view(loaded, chosen, exc.message)
    detection = prepared.detection or _detected(loaded.table, prepared)
    task, report = prepared.task, prepared.report
    view = DataView(prepared=prepared, report=render.data_report(report, get_task(task)),
                    task_note=task_note(chosen.get("task") or "auto", task, detection,
                                        len(yes_no_columns(loaded.table))))
    _task_controls(view, task, chosen, prepared.separator, loaded.table)
    _task_charts(view, task, DataFacts(report.label_counts, report.rows_kept, prepared.space.names,
                                       targets=_file_targets(prepared), stats=prepared.space.stats))
    return view


def _task_charts(view: DataView, task: str, facts: DataFacts) -> None:
    """The task's charts of the targets: class balance (one label per row), label frequency and
    labels per row (several), or the histogram of the values (a number)."""
    shown = get_view(task).data_charts(facts)
    view.chart = shown.chart
    if shown.second is not None:
        view.per_row_chart = gr.update(value=shown.second, visible=True)


def _detected(table: "Table", prepared: "PreparedData") -> Any:
    """What detection says about a file whose task was chosen, for the note beside the switch."""
    from bertstudio.tasks.detect import detect_task

    return detect_task(table, prepared.columns)


def _failed_view(loaded: LoadedData, chosen: dict[str, Any], message: str) -> DataView:
    """The problem beside the control that can fix it, and what the label column holds so far."""
    from bertstudio.data.columns import ColumnChoice
    from bertstudio.data.summary import data_summary
    from bertstudio.tasks.detect import Detection, detect_task

    text, label, several = chosen.get("text_column"), chosen.get("label_column"), chosen.get("label_columns")
    chosen_task = chosen.get("task") or "auto"
    view = DataView(report="The data report appears once the problem is fixed.",
                    task_note="The task is detected once the columns can be read.")
    summary: dict[str, Any] = {}
    label_columns = tuple(several.split(",")) if several else None
    named = [c for c in (text, label, *(label_columns or ())) if c]
    if text and len(named) > 1 and len(set(named)) == len(named) and set(named) <= set(loaded.table.columns):
        choice = ColumnChoice(text=text, label=label, label_columns=label_columns)
        summary = data_summary(loaded.table, choice, task=chosen_task, separator=chosen.get("label_separator"))
    task = summary.get("task") or (chosen_task if chosen_task != "auto" else DEFAULT_TASK)
    if summary.get("task_reason"):
        # A task chosen is said so, beside what detection would pick (the summary words it for `inspect`).
        detection = (detect_task(loaded.table, choice, chosen.get("label_separator")) if chosen_task != "auto"
                     else Detection(task, summary["task_reason"],
                                    alternatives=tuple(summary.get("task_alternatives", ()))))
        view.task_note = task_note(chosen_task, task, detection, len(yes_no_columns(loaded.table)))
    per_row = {int(k): v for k, v in (summary.get("labels_per_row") or {}).items()}
    _task_charts(view, task, DataFacts(summary.get("label_counts") or {}, summary.get("rows") or 0,
                                       [label or "the value"], per_row=per_row))
    # Only sentences about the validation file itself go beside it; "each label needs 2 rows
    # ... or give a separate validation file" is about the chosen label column.
    about_validation = message.startswith(("The validation file", "No validation file"))
    view.column_problem = "" if about_validation else render.problem(message)
    view.validation_problem = render.problem(message) if about_validation else ""
    _task_controls(view, task, chosen, summary.get("separator"), loaded.table)
    return view


def _task_controls(view: DataView, task: str, chosen: dict[str, Any], found: str | None, table: "Table") -> None:
    """Several labels per row shows the separator (the one found preselected when none is
    chosen) and the yes/no columns, when the file has any; other tasks hide both."""
    several = get_view(task).label_sets
    from_columns = bool(chosen.get("label_columns"))
    preselect = (several and not from_columns and chosen.get("label_separator") is None
                 and found in {value for value, _ in SEPARATOR_CHOICES})
    view.separator = gr.update(visible=several and not from_columns, **({"value": found} if preselect else {}))
    view.label_columns = gr.update(visible=several and (from_columns or bool(yes_no_columns(table))))


def task_note(chosen: str, task: str, detection: Any, yes_no: int) -> str:
    """One line: the task in force, why (the detection's reason), and what else would fit."""
    title = TASK_TITLES.get(task, task)
    detected = getattr(detection, "task", None)
    reason = render.md_escape(detection.reason) if detection is not None else ""
    if chosen == "auto":
        line = f"**Detected: {title}**" + (f" — {reason}." if reason else ".")
    else:
        line = f"**Task: {title}** (your choice)."
        if detected == task and reason:
            line = f"**Task: {title}** (your choice) — {reason}."
        elif detected is not None:
            line += f" Detection would say {TASK_TITLES.get(detected, detected)}: {reason}."
    others = [TASK_TITLES.get(name, name) for name in getattr(detection, "alternatives", ()) if name != task]
    if chosen == "auto" and others:
        line += f" It could also be *{' or '.join(others)}*: switch below if so."
    sets = label_sets_view()
    if sets is not None and not get_view(task).label_sets and yes_no >= 2:
        line += f" The file has {yes_no} yes/no columns: choose *{sets.title}* to use them as one label each."
    return line


def _file_targets(prepared: "PreparedData") -> list[Any]:
    """The kept rows' encoded targets from the training file: both sides of a split, or the
    training rows alone when validation comes from a file of its own."""
    values = list(prepared.train.labels)
    if prepared.report.validation_source == "split":
        values += list(prepared.validation.labels)
    return values
