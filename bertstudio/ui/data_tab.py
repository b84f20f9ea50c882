"""Step 1, Data: load a CSV/TSV (or the example), pick the columns, see the labels and the data report."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from bertstudio.errors import StudioError
from bertstudio.ui import charts, render
from bertstudio.ui.form import (FieldControl, column_choices, column_control, make_control,
                                row_limit_control)

if TYPE_CHECKING:
    from bertstudio.data.dataset import PreparedData
    from bertstudio.hosting import HostingSettings
    from bertstudio.data.tabular import Table
    from bertstudio.ui.form import ConfigForm

SPLIT = "Hold out a share of this file"
SECOND_FILE = "Use a separate validation file"
# Spreadsheet, JSON and Parquet files are let through too, so the engine's sentence naming the
# format (and saying to save it as CSV) shows in the problem box, not Gradio's fading toast.
FILE_TYPES = [".csv", ".tsv", ".txt", ".gz", ".xlsx", ".xls", ".json", ".jsonl", ".parquet"]
PREVIEW_ROWS = 12
# The settings in the "Cleaning and row limit" accordion; the data report names the last three when
# a file needs them (mojibake, spilled text, duplicates).
CLEANING_FIELDS = ("clean_collapse_whitespace", "clean_strip_html", "clean_replace_urls", "clean_nfkc",
                   "clean_fix_mojibake", "rejoin_spilled_text", "remove_duplicates")


@dataclass
class LoadedData:
    """The visitor's files as read by the engine; kept in gr.State (never shared between visitors)."""

    path: str
    table: "Table"
    validation_path: str | None = None
    validation_table: "Table | None" = None


@dataclass
class DataTab:
    upload: gr.File
    example: gr.Button
    file_problem: gr.HTML
    facts: gr.Markdown
    preview: gr.Dataframe
    text: FieldControl
    text_pair: FieldControl
    label: FieldControl
    column_problem: gr.HTML
    label_chart: gr.Plot
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
        return [self.text, self.text_pair, self.label, self.validation_split, self.max_rows, *self.cleaning]


def build() -> DataTab:
    gr.Markdown("Drop a CSV or TSV file with one text per row and a column of labels, or try the "
                "example: 390 short customer messages labelled *question*, *complaint* or *praise*.",
                elem_classes="tab-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            upload = gr.File(label="Training data (CSV or TSV)", file_types=FILE_TYPES, elem_id="data-upload",
                             height=140)
            example = gr.Button("Use the example dataset", elem_id="data-example", size="md")
            file_problem = gr.HTML(elem_id="data-file-problem")
            facts = gr.Markdown(elem_id="data-facts")
        with gr.Column(scale=3, min_width=300):
            with gr.Group():
                with gr.Row():
                    text = column_control("text_column", info="The text to classify (suggested for you).")
                    text_pair = column_control("text_pair_column", optional=True,
                                               info="Only for sentence pairs (paraphrase, entailment).")
                    label = column_control("label_column", info="The class of each row (suggested for you).")
            column_problem = gr.HTML(elem_id="data-column-problem")
            label_chart = gr.Plot(charts.label_distribution_figure({}), show_label=False,
                                  elem_id="data-label-chart")
    preview = gr.Dataframe(label="Preview (first rows)", interactive=False, wrap=True, max_height=320,
                           elem_id="data-preview")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            report = gr.Markdown("The data report appears here once a file is loaded.", elem_id="data-report",
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
    return DataTab(upload=upload, example=example, file_problem=file_problem, facts=facts, preview=preview,
                   text=text, text_pair=text_pair, label=label, column_problem=column_problem,
                   label_chart=label_chart, report=report, validation_mode=validation_mode,
                   validation_split=validation_split, validation_upload=validation_upload,
                   validation_problem=validation_problem, max_rows=max_rows, cleaning=cleaning,
                   loaded=gr.State(None), prepared=gr.State(None))


# --- handlers: short adapters over engine calls ---------------------------------------------------

def read_upload(path: str, hosting: "HostingSettings | None" = None, uploads_dir: Path | None = None
                ) -> tuple[str, "Table"]:
    """Read an uploaded file within the deployment's limits (size after unpacking, rows); with
    `uploads_dir`, keep a copy there that outlives gradio's cache, and return the copy's path."""
    from bertstudio.hosting import keep_upload
    from bertstudio.limits import MAX_TEXT_CHARS
    from bertstudio.data.tabular import DEFAULT_MAX_BYTES, read_table

    limit = hosting.max_upload_bytes if hosting is not None else None
    # Rows are counted while reading, so a file far past the limit stops being read at the limit.
    rows = hosting.max_rows if hosting is not None and hosting.hosted else None
    chars = hosting.text_limit if hosting is not None else MAX_TEXT_CHARS
    table = read_table(path, name=Path(path).name, max_bytes=limit or DEFAULT_MAX_BYTES, max_rows=rows,
                       max_text_chars=chars)
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
                       hosting: "HostingSettings | None" = None, uploads_dir: Path | None = None) -> tuple[Any, ...]:
    """Read the file, suggest columns; outputs: loaded, facts, preview, text, pair, label, problem.

    The problem box beside the upload is for a file that cannot be read. Columns that cannot be
    suggested are left empty for `prepare`, which explains that beside the pickers and replaces
    the sentence as soon as the user picks (said twice, one copy would outlive the fix)."""
    from bertstudio.data.dataset import suggest_columns, suggest_text_column

    if not path:
        return (None, "", None, gr.update(choices=[], value=None),
                gr.update(choices=column_choices(None, True), value=None),
                gr.update(choices=[], value=None), "")
    if progress is not None:
        progress(0.2, desc="Reading the file…")
    try:
        path, table = read_upload(path, hosting, uploads_dir)
    except StudioError as exc:
        return (None, "", None, gr.skip(), gr.skip(), gr.skip(), render.problem(exc.message))
    try:
        suggested = suggest_columns(table)
        text, pair, label = suggested.text, suggested.text_pair, suggested.label
    except StudioError:
        text, pair, label = suggest_text_column(table), None, None
    preview = {"headers": list(table.columns), "data": render.preview_rows(table, PREVIEW_ROWS)}
    return (LoadedData(path=str(path), table=table), render.file_facts(table), preview,
            gr.update(choices=column_choices(table, False), value=text),
            gr.update(choices=column_choices(table, True), value=pair or column_choices(None, True)[0]),
            gr.update(choices=column_choices(table, False), value=label), "")


def load_validation_file(loaded: LoadedData | None, path: str | None, hosting: "HostingSettings | None" = None,
                         uploads_dir: Path | None = None) -> tuple[Any, str]:
    """Attach (or detach) a separate validation file; outputs: loaded, validation problem."""
    if loaded is None:
        return None, render.problem("Load the training file first, then the validation file.") if path else ""
    if not path:
        return replace(loaded, validation_path=None, validation_table=None), ""
    try:
        path, table = read_upload(path, hosting, uploads_dir)
    except StudioError as exc:
        return replace(loaded, validation_path=None, validation_table=None), render.problem(exc.message)
    return replace(loaded, validation_path=str(path), validation_table=table), ""


def switch_validation_mode(loaded: LoadedData | None, mode: str) -> tuple[Any, Any, Any]:
    """Outputs: loaded (validation dropped when going back to a split), upload, split slider."""
    use_file = mode == SECOND_FILE
    if use_file:
        return loaded, gr.update(visible=True), gr.update(visible=False)
    if loaded is not None:
        loaded = replace(loaded, validation_path=None, validation_table=None)
    return loaded, gr.update(visible=False, value=None), gr.update(visible=True)


def prepare(form: "ConfigForm", loaded: LoadedData | None, *values: Any) -> tuple[Any, ...]:
    """Run the engine's prepare_data on the current choices; outputs: prepared, report, chart,
    column problem, validation problem. Problems go beside the control that can fix them."""
    from bertstudio.data.dataset import ColumnChoice, prepare_data
    from bertstudio.data.summary import data_summary

    if loaded is None:
        return (None, "The data report appears here once a file is loaded.",
                charts.label_distribution_figure({}), "", "")
    try:
        config = form.build_config(loaded.path, loaded.validation_path, values)
        prepared: PreparedData = prepare_data(config, loaded.table, loaded.validation_table)
    except StudioError as exc:
        counts: dict[str, int] = {}
        chosen = {c.name: c.read(v) for c, v in zip(form.controls, values)}
        text, label = chosen.get("text_column"), chosen.get("label_column")
        if text and label and text != label and {text, label} <= set(loaded.table.columns):
            counts = data_summary(loaded.table, ColumnChoice(text=text, label=label)).get("label_counts") or {}
        # Only sentences about the validation file itself go beside it; "each label needs 2 rows
        # ... or give a separate validation file" is about the chosen label column.
        about_validation = exc.message.startswith(("The validation file", "No validation file"))
        return (None, "The data report appears once the problem is fixed.",
                charts.label_distribution_figure(counts),
                "" if about_validation else render.problem(exc.message),
                render.problem(exc.message) if about_validation else "")
    title = f"Rows per label ({len(prepared.labels)} labels)"
    return (prepared, render.data_report(prepared.report),
            charts.label_distribution_figure(prepared.report.label_counts, title), "", "")


def example_path() -> Path:
    return Path(__file__).resolve().parents[2] / "assets" / "sample_reviews.csv"


def wire(tab: DataTab, form: "ConfigForm", example: Path, hosting: "HostingSettings | None" = None,
         uploads_dir: Path | None = None) -> None:
    """Connect the tab's events; every path that changes the data ends in `prepare`."""
    from functools import partial

    def load(path, progress=gr.Progress()):
        return load_training_file(path, progress, hosting, uploads_dir)

    load_outputs = [tab.loaded, tab.facts, tab.preview, tab.text.component, tab.text_pair.component,
                    tab.label.component, tab.file_problem]
    prepare_inputs = [tab.loaded, *form.inputs]
    prepare_outputs = [tab.prepared, tab.report, tab.label_chart, tab.column_problem, tab.validation_problem]
    run_prepare = partial(prepare, form)

    # Named, so a script (bench/visitors.py) can take the same steps as the page.
    tab.upload.upload(load, tab.upload, load_outputs, api_name="load_data").then(
        run_prepare, prepare_inputs, prepare_outputs, api_name="prepare_data")
    tab.upload.clear(load, tab.upload, load_outputs).then(run_prepare, prepare_inputs, prepare_outputs)
    # The example is read from where it ships, not from the upload's temporary copy, so the
    # config and "Show as command" name a path that lasts.
    tab.example.click(lambda: str(example), None, tab.upload).then(
        lambda progress=gr.Progress(): load_training_file(str(example), progress, hosting), None, load_outputs).then(
        run_prepare, prepare_inputs, prepare_outputs)
    tab.validation_upload.change(partial(load_validation_file, hosting=hosting, uploads_dir=uploads_dir),
                                 [tab.loaded, tab.validation_upload],
                                 [tab.loaded, tab.validation_problem]).then(
        run_prepare, prepare_inputs, prepare_outputs)
    tab.validation_mode.change(switch_validation_mode, [tab.loaded, tab.validation_mode],
                               [tab.loaded, tab.validation_upload, tab.validation_split.component]).then(run_prepare, prepare_inputs, prepare_outputs)
    for control in tab.controls:
        # .input fires on the user's own changes only, so filling the pickers after a load
        # does not start a second, overlapping prepare.
        control.component.input(run_prepare, prepare_inputs, prepare_outputs)
