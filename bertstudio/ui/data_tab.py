"""Step 1, Data: load a file (or the example), pick the columns and the task, see the labels and the data report.

The task (one label per row, several, or a number) is detected from the label column and can be
switched; the charts and the task's own controls (the separator between tags, yes/no label
columns) follow the task in force: the one chosen, or else the one detected.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from bertstudio.errors import StudioError
from bertstudio.tasks.yes_no import yes_no_columns
from bertstudio.ui import charts, render, task_charts
from bertstudio.ui.data_view import NO_TASK_YET, REPORT_WAITING, LoadedData, prepare_view
from bertstudio.ui.form import (FieldControl, column_choices, column_control, label_columns_control, make_control,
                                row_limit_control, separator_control, sheet_control, task_control)

if TYPE_CHECKING:
    from bertstudio.hosting import HostingSettings
    from bertstudio.ui.relays import Relays
    from bertstudio.data.tabular import Table
    from bertstudio.ui.form import ConfigForm

SPLIT = "Hold out a share of this file"
SECOND_FILE = "Use a separate validation file"
# Every format the engine reads; an old .xls is let through too, so the engine's sentence naming
# it (and saying to save it as .xlsx or CSV) shows in the problem box, not Gradio's fading toast.
FILE_TYPES = [".csv", ".tsv", ".txt", ".gz", ".xlsx", ".xls", ".json", ".jsonl", ".parquet"]
PREVIEW_ROWS = 12
# The settings in the "Cleaning and row limit" accordion; the data report names the last three when
# a file needs them (mojibake, spilled text, duplicates).
CLEANING_FIELDS = ("clean_collapse_whitespace", "clean_strip_html", "clean_replace_urls", "clean_nfkc",
                   "clean_fix_mojibake", "rejoin_spilled_text", "remove_duplicates")


@dataclass
class DataTab:
    upload: gr.File
    sheet: FieldControl         # an Excel workbook's sheet, shown when it has several
    example: gr.Button
    file_problem: gr.HTML
    facts: gr.Markdown
    preview: gr.Dataframe
    text: FieldControl
    text_pair: FieldControl
    label: FieldControl
    task_note: gr.Markdown      # the task detected (or chosen) and the one-line reason
    task: FieldControl
    separator: FieldControl
    label_columns: FieldControl
    column_problem: gr.HTML
    label_chart: gr.Plot        # class balance, label frequency or the value histogram
    per_row_chart: gr.Plot      # labels per row, for several labels per row only
    report: gr.Markdown
    validation_mode: gr.Radio
    validation_split: FieldControl
    validation_upload: gr.File
    validation_problem: gr.HTML
    max_rows: FieldControl
    cleaning: list[FieldControl]
    loaded: gr.State
    prepared: gr.State

    @property
    def controls(self) -> list[FieldControl]:
        return [self.sheet, self.text, self.text_pair, self.label, self.task, self.separator,
                self.label_columns, self.validation_split, self.max_rows, *self.cleaning]


def build() -> DataTab:
    gr.Markdown("Drop a file with one text per row and a column of labels (CSV, TSV, Excel, JSON Lines "
                "or Parquet): one class per row, several tags per row, or a score. Or try the example: "
                "390 short customer messages labelled *question*, *complaint* or *praise*.",
                elem_classes="tab-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            upload = gr.File(label="Training data (CSV, TSV, Excel, JSON, Parquet)", file_types=FILE_TYPES,
                             elem_id="data-upload", height=140)
            sheet = sheet_control()
            example = gr.Button("Use the example dataset", elem_id="data-example", size="md")
            file_problem = gr.HTML(elem_id="data-file-problem")
            facts = gr.Markdown(elem_id="data-facts")
        with gr.Column(scale=3, min_width=300):
            with gr.Group():
                with gr.Row():
                    text = column_control("text_column", info="The text to classify (suggested for you).")
                    text_pair = column_control("text_pair_column", optional=True,
                                               info="Only for sentence pairs (paraphrase, entailment).")
                    label = column_control("label_column",
                                           info="The label(s) or score of each row (suggested for you).")
            with gr.Group(elem_id="data-task-group"):
                task_note = gr.Markdown(NO_TASK_YET, elem_id="data-task", elem_classes="task-note")
                task = task_control()
                # Not in a row: a row whose controls are both hidden still takes its height.
                separator = separator_control()
                label_columns = label_columns_control()
            column_problem = gr.HTML(elem_id="data-column-problem")
            label_chart = gr.Plot(charts.label_distribution_figure({}), show_label=False,
                                  elem_id="data-label-chart")
            per_row_chart = gr.Plot(task_charts.labels_per_row_figure({}), show_label=False, visible=False,
                                    elem_id="data-per-row-chart")
    preview = gr.Dataframe(label="Preview (first rows)", interactive=False, wrap=True, max_height=320,
                           elem_id="data-preview")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            report = gr.Markdown(REPORT_WAITING, elem_id="data-report",
                                 elem_classes="report")
        with gr.Column(scale=2, min_width=300):
            validation_mode = gr.Radio([SPLIT, SECOND_FILE], value=SPLIT, label="Validation data",
                                       info="Rows the model never trains on, used to measure it.",
                                       elem_id="data-validation-mode")
            validation_split = make_control("validation_split")
            validation_upload = gr.File(label="Validation file (same columns)", file_types=FILE_TYPES,
                                        visible=False, elem_id="data-validation-upload", height=120)
            validation_problem = gr.HTML(elem_id="data-validation-problem")
            with gr.Accordion("Cleaning and row limit", open=False):
                max_rows = row_limit_control()
                cleaning = [make_control(name) for name in CLEANING_FIELDS]
    return DataTab(upload=upload, sheet=sheet, example=example, file_problem=file_problem, facts=facts, preview=preview,
                   text=text, text_pair=text_pair, label=label, task_note=task_note, task=task,
                   separator=separator, label_columns=label_columns, column_problem=column_problem,
                   label_chart=label_chart, per_row_chart=per_row_chart, report=report, validation_mode=validation_mode,
                   validation_split=validation_split, validation_upload=validation_upload,
                   validation_problem=validation_problem, max_rows=max_rows, cleaning=cleaning,
                   loaded=gr.State(None), prepared=gr.State(None))


# --- handlers: short adapters over engine calls ---------------------------------------------------

def read_upload(path: str, hosting: "HostingSettings | None" = None, uploads_dir: Path | None = None,
                sheet: str | None = None) -> tuple[str, "Table"]:
    """Read an uploaded file within the deployment's limits (size after unpacking, rows), an
    Excel file from `sheet` (else its first); with `uploads_dir`, keep a copy there that outlives
    gradio's cache, and return the copy's path."""
    from bertstudio.hosting import keep_upload
    from bertstudio.limits import MAX_TEXT_CHARS
    from bertstudio.data.tabular import DEFAULT_MAX_BYTES, read_table

    limit = hosting.max_upload_bytes if hosting is not None else None
    # Rows are counted while reading, so a file far past the limit stops being read at the limit.
    rows = hosting.max_rows if hosting is not None and hosting.hosted else None
    chars = hosting.text_limit if hosting is not None else MAX_TEXT_CHARS
    table = read_table(path, name=Path(path).name, max_bytes=limit or DEFAULT_MAX_BYTES, max_rows=rows,
                       max_text_chars=chars, sheet=sheet)
    if hosting is not None:
        hosting.check_rows(len(table), table.name)
    if uploads_dir is not None:
        try:
            path = str(keep_upload(uploads_dir, path))
        except OSError as exc:
            raise StudioError("The server could not store your file (its disk may be full); try again "
                              "later.", detail=str(exc)) from exc
    return str(path), table


def load_training_file(path: str | None, progress: gr.Progress | None = None,
                       hosting: "HostingSettings | None" = None, uploads_dir: Path | None = None,
                       sheet: str | None = None) -> tuple[Any, ...]:
    """Read the file (an Excel file from `sheet`, else its first), suggest columns; outputs:
    `LOAD_FIELDS`, in that order.

    A new file starts from "Detect automatically" with no separator and no yes/no columns picked,
    those offered being the file's own; a workbook of several sheets offers them. The problem box beside the upload is for a file that
    cannot be read. Columns that cannot be suggested are left empty for `prepare`, which explains
    that beside the pickers and replaces the sentence as soon as the user picks (said twice, one
    copy would outlive the fix)."""
    from bertstudio.data.dataset import suggest_columns, suggest_text_column

    if not path:
        return (None, "", None, gr.update(choices=[], value=None),
                gr.update(choices=column_choices(None, True), value=None),
                gr.update(choices=[], value=None), "auto", gr.update(value=None),
                gr.update(choices=[], value=[]), gr.update(choices=[], value=None, visible=False), "")
    if progress is not None:
        progress(0.2, desc="Reading the file…")
    try:
        path, table = read_upload(path, hosting, uploads_dir, sheet)
    except StudioError as exc:
        return (None, "", None, *[gr.skip()] * 7, render.problem(exc.message))
    try:
        suggested = suggest_columns(table)
        text, pair, label = suggested.text, suggested.text_pair, suggested.label
    except StudioError:
        text, pair, label = suggest_text_column(table), None, None
    preview = {"headers": list(table.columns), "data": render.preview_rows(table, PREVIEW_ROWS)}
    return (LoadedData(path=str(path), table=table), render.file_facts(table), preview,
            gr.update(choices=column_choices(table, False), value=text),
            gr.update(choices=column_choices(table, True), value=pair or column_choices(None, True)[0]),
            gr.update(choices=column_choices(table, False), value=label), "auto", gr.update(value=None),
            gr.update(choices=yes_no_columns(table), value=[]), _sheet_update(path, table, hosting), "")


# What `load_training_file` returns, by name; the middle six are form controls by config field.
LOAD_FIELDS = ("loaded", "facts", "preview", "text_column", "text_pair_column", "label_column", "task",
               "label_separator", "label_columns", "sheet", "file_problem")


def load_outputs(tab: "DataTab") -> list[Any]:
    return [tab.loaded, tab.facts, tab.preview, tab.text.component, tab.text_pair.component,
            tab.label.component, tab.task.component, tab.separator.component, tab.label_columns.component,
            tab.sheet.component, tab.file_problem]


def _sheet_update(path: str, table: "Table", hosting: "HostingSettings | None") -> Any:
    """The sheet picker: a workbook's sheets, the one read chosen; shown for several sheets only."""
    from bertstudio.data.spreadsheet import sheet_names

    if table.sheet is None:
        return gr.update(choices=[], value=None, visible=False)
    limit = hosting.max_upload_bytes if hosting is not None else None
    names = sheet_names(path, name=table.name, max_bytes=limit)
    return gr.update(choices=names, value=table.sheet, visible=len(names) > 1)


def choose_sheet(loaded: LoadedData | None, sheet: str | None, hosting: "HostingSettings | None" = None
                 ) -> tuple[Any, ...]:
    """Another sheet of the loaded workbook: read again from it (the kept copy, so not kept twice),
    as a fresh file; outputs: `LOAD_FIELDS`."""
    if loaded is None:
        return tuple([gr.skip()] * len(LOAD_FIELDS))
    return load_training_file(loaded.path, None, hosting, None, sheet=sheet or None)


def load_validation_file(loaded: LoadedData | None, path: str | None, hosting: "HostingSettings | None" = None,
                         uploads_dir: Path | None = None) -> tuple[Any, str]:
    """Attach (or detach) a separate validation file; outputs: loaded, validation problem."""
    if loaded is None:
        return None, render.problem("Load the training file first, then the validation file.") if path else ""
    if not path:
        return replace(loaded, validation_path=None, validation_table=None), ""
    try:
        path, table = read_upload(path, hosting, uploads_dir, _same_sheet(path, loaded.table.sheet, hosting))
    except StudioError as exc:
        return replace(loaded, validation_path=None, validation_table=None), render.problem(exc.message)
    return replace(loaded, validation_path=str(path), validation_table=table), ""


def _same_sheet(path: str, sheet: str | None, hosting: "HostingSettings | None") -> str | None:
    """The training sheet's name, when the validation workbook has a sheet of that name (as the
    engine reads it), else None: its first sheet, or a file with no sheets at all."""
    from bertstudio.data.spreadsheet import sheet_names

    if sheet is None:
        return None
    try:
        names = sheet_names(path, max_bytes=hosting.max_upload_bytes if hosting is not None else None)
    except StudioError:  # read_upload says what is wrong with the file
        return None
    return sheet if sheet in names else None


def switch_validation_mode(loaded: LoadedData | None, mode: str) -> tuple[Any, Any, Any]:
    """Outputs: loaded (validation dropped when going back to a split), upload, split slider."""
    use_file = mode == SECOND_FILE
    if use_file:
        return loaded, gr.update(visible=True), gr.update(visible=False)
    if loaded is not None:
        loaded = replace(loaded, validation_path=None, validation_table=None)
    return loaded, gr.update(visible=False, value=None), gr.update(visible=True)


def prepare_outputs(tab: "DataTab") -> list[Any]:
    return [tab.prepared, tab.report, tab.label_chart, tab.per_row_chart, tab.column_problem,
            tab.validation_problem, tab.task_note, tab.separator.component, tab.label_columns.component]


def prepare(form: "ConfigForm", loaded: LoadedData | None, *values: Any) -> list[Any]:
    """Outputs: `prepare_outputs` (see `prepare_view`)."""
    return prepare_view(form, loaded, *values).outputs()


def example_path() -> Path:
    return Path(__file__).resolve().parents[2] / "assets" / "sample_reviews.csv"


def wire(tab: DataTab, form: "ConfigForm", relays: "Relays", example: Path, hosting: "HostingSettings | None" = None,
         uploads_dir: Path | None = None) -> None:
    """Connect the tab's events; every path that changes the data ends in `prepare`. The settings
    are followed through `relays` (relays.py): other tabs follow the same controls."""
    from functools import partial

    def load(path, progress=gr.Progress()):
        return load_training_file(path, progress, hosting, uploads_dir)

    loads = load_outputs(tab)
    run_prepare = dict(fn=partial(prepare, form), inputs=[tab.loaded, *form.inputs], outputs=prepare_outputs(tab))

    # Named, so a script (bench/visitors.py) can take the same steps as the page.
    tab.upload.upload(load, tab.upload, loads, api_name="load_data").then(**run_prepare, api_name="prepare_data")
    tab.upload.clear(load, tab.upload, loads).then(**run_prepare)
    # The example is read from where it ships, not from the upload's temporary copy, so the
    # config and "Show as command" name a path that lasts.
    tab.example.click(lambda: str(example), None, tab.upload).then(
        lambda progress=gr.Progress(): load_training_file(str(example), progress, hosting), None, loads).then(
        **run_prepare)
    tab.validation_upload.change(partial(load_validation_file, hosting=hosting, uploads_dir=uploads_dir),
                                 [tab.loaded, tab.validation_upload],
                                 [tab.loaded, tab.validation_problem]).then(**run_prepare)
    gr.on([relays.change(tab.validation_mode)], switch_validation_mode, [tab.loaded, tab.validation_mode],
          [tab.loaded, tab.validation_upload, tab.validation_split.component]).then(**run_prepare)
    # Another sheet is another table: read as a fresh file (columns suggested again), then prepared.
    gr.on([relays.input(tab.sheet.component)], partial(choose_sheet, hosting=hosting),
          [tab.loaded, tab.sheet.component], loads, trigger_mode="always_last").then(**run_prepare)
    # Another label column: its separator is found again, not carried over from the last column.
    gr.on([relays.input(tab.label.component)], lambda: None, None, tab.separator.component,
          show_progress="hidden", trigger_mode="always_last").then(**run_prepare)
    for control in tab.controls:
        if control in (tab.label, tab.sheet):
            continue
        # .input fires on the user's own changes only, so filling the pickers after a load (or
        # prepare preselecting the separator it found) does not start a second, overlapping
        # prepare; always_last, so sliding the validation share prepares once, where it stops.
        gr.on([relays.input(control.component)], **run_prepare, trigger_mode="always_last")
