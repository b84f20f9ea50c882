"""Step 5, Predict: pick a finished run, predict one text (or pair), or add predictions to a file.

What the answer looks like follows the model's task: a probability per class (one label per row),
a bar per label with its threshold marked and the set that passed (several labels), or the
predicted number beside the training values' range (a score).

The run id comes from the page, so every handler checks it names a run this visitor may use
(`may_see`) before loading anything; the predictions file is written with formulas neutralised.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from bertstudio.errors import StudioError
from bertstudio.runs.folder import run_warning
from bertstudio.ui import render, results_text
from bertstudio.ui.results import run_choice_label
from bertstudio.ui.runs_tab import may_see, visible_runs
from bertstudio.ui.task_views import DEFAULT_TASK, get_view

if TYPE_CHECKING:
    from bertstudio.ui.session import SessionObjects
    from bertstudio.ui.task_views.base import Answer, TaskView

PREVIEW_ROWS = 20
# What the preview shows before a file is predicted (gradio would number the columns 1 2 3).
PREVIEW_HEADERS = ["your file's columns", "the model's predictions"]
# Every format the engine reads; one it cannot read is named by the engine, not refused by a toast.
FILE_TYPES = [".csv", ".tsv", ".txt", ".gz", ".xlsx", ".json", ".jsonl", ".parquet"]


@dataclass
class PredictTab:
    picker: gr.Dropdown
    refresh: gr.Button
    about: gr.Markdown
    text: gr.Textbox
    pair: gr.Textbox
    predict: gr.Button
    label: gr.Label         # one label per row: a probability per class
    label_chart: gr.Plot    # several labels: a bar per label, its threshold marked
    answer: gr.Markdown     # several labels: the set that passed; a score: the value and its range
    problem: gr.HTML
    explain: gr.Button      # shown after a prediction: explanations cost seconds, so on request
    explanation: gr.HTML    # the text's chips shaded by attribution, the words that pushed most
    upload: gr.File
    file_column: gr.Dropdown
    file_button: gr.Button
    file_problem: gr.HTML
    fast: gr.Checkbox       # files through the run's ONNX Runtime int8 export (made on first use)
    result_file: gr.File
    result_preview: gr.Dataframe
    pinned: gr.State  # the run the visitor picked themselves; None means "the latest, whatever it is"

    @property
    def answers(self) -> list[Any]:
        """What a model said, in `clear_answers` order: cleared when another model is picked."""
        return [self.label, self.label_chart, self.answer, self.problem, self.result_file, self.result_preview,
                self.file_problem, self.explanation]

    @property
    def shown(self) -> list[Any]:
        """What `predict_text` fills, in its order: the three answer views and the problem box."""
        return [self.label, self.label_chart, self.answer, self.problem]

    @property
    def described(self) -> list[Any]:
        """What `describe` fills: about, the second-text box and the three answer views."""
        return [self.about, self.pair, self.label, self.label_chart, self.answer]


def build() -> PredictTab:
    gr.Markdown("Use a trained model: type a text to see what it predicts, or upload a file to get it back "
                "with a prediction on every row.", elem_classes="tab-intro")
    with gr.Row(equal_height=False):
        picker = gr.Dropdown(label="Model (a finished run; the latest is chosen for you)", choices=[],
                             value=None, scale=5, elem_id="predict-run")
        refresh = gr.Button("Refresh list", size="md", scale=1, min_width=120, elem_classes="align-end")
    about = gr.Markdown(elem_id="predict-about")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            text = gr.Textbox(label="Text", lines=4, placeholder="Type or paste a text to classify…",
                              elem_id="predict-text")
            pair = gr.Textbox(label="Second text", lines=2, visible=False, elem_id="predict-pair")
            predict = gr.Button("Predict", variant="primary", elem_id="predict-button")
            explain = gr.Button("Explain this prediction", visible=False, size="md", elem_id="predict-explain")
            problem = gr.HTML(elem_id="predict-problem")
        with gr.Column(scale=2, min_width=280):
            answer = gr.Markdown(visible=False, elem_id="predict-answer")
            label = gr.Label(label="Prediction", num_top_classes=10, elem_id="predict-label")
            label_chart = gr.Plot(show_label=False, visible=False, elem_id="predict-label-chart")
    explanation = gr.HTML(elem_id="predict-explanation")
    gr.Markdown("### A whole file")
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            upload = gr.File(label="A file with a column of texts (CSV, TSV, Excel, JSON, Parquet)",
                             file_types=FILE_TYPES,
                             elem_id="predict-upload", height=130)
            with gr.Row(equal_height=False):
                file_column = gr.Dropdown(label="Column with the texts", choices=[], value=None, visible=False,
                                          scale=3, elem_id="predict-file-column")
                file_button = gr.Button("Predict the file", visible=False, scale=1, min_width=140, size="md",
                                        elem_id="predict-file-button", elem_classes="align-end")
            fast = gr.Checkbox(False, label="Fast CPU model (ONNX Runtime, int8)", elem_id="predict-fast",
                               info="Made from this run once (up to a minute). For models of MiniLM's size and "
                                    "up it predicts faster on a CPU (measured: 1.9x at batch 32, 3.8x one row at "
                                    "a time); it gave the model's own answer on 98 of 100 rows.")
            file_problem = gr.HTML(elem_id="predict-file-problem")
        with gr.Column(min_width=300):
            result_file = gr.File(label="Your file with predictions added (in its own format)", interactive=False,
                                  elem_id="predict-result")
    result_preview = gr.Dataframe(headers=PREVIEW_HEADERS, label="First rows with predictions", interactive=False,
                                  wrap=True, max_height=360, elem_id="predict-preview")
    return PredictTab(picker=picker, refresh=refresh, about=about, text=text, pair=pair, predict=predict,
                      label=label, label_chart=label_chart, answer=answer, problem=problem, explain=explain,
                      explanation=explanation, upload=upload, file_column=file_column,
                      file_button=file_button, file_problem=file_problem, fast=fast,
                      result_file=result_file, result_preview=result_preview, pinned=gr.State(None))


# --- handlers ------------------------------------------------------------------------------------

def choices(runs_dir: Path, private: bool, memory_value: Any, pinned: str | None = None) -> Any:
    """Runs with a usable model (finished or stopped), newest first. The latest is chosen, as the
    picker's label promises, unless the visitor picked one themselves (`pinned`) and it is still there."""
    usable = [s for s in visible_runs(runs_dir, memory_value, private)
              if s.status in ("finished", "stopped") and s.has_model]
    ids = [s.run_id for s in usable]
    value = pinned if pinned in ids else (ids[0] if ids else None)
    return gr.update(choices=[(run_choice_label(s), s.run_id) for s in usable], value=value)


def refresh_list(runs_dir: Path, private: bool, memory_value: Any) -> tuple[Any, None]:
    """The Refresh button: the latest run, whatever was shown or picked. Outputs: picker, pinned."""
    return choices(runs_dir, private, memory_value, None), None


def pin(run_id: str | None) -> str | None:
    """The visitor picked a run themselves (the picker's own input): it stays picked from now on."""
    return run_id


def _predictor(objects: "SessionObjects", runs_dir: Path, run_id: str | None, progress: Any = None,
               private: bool = False, memory_value: Any = None, fast: bool = False):
    """The picked run's Predictor, loaded once per visitor and kept until another run (or the
    other backend) is picked. `fast`: the run's ONNX Runtime export, made here on first use."""
    from bertstudio.predict import Predictor

    if not run_id:
        raise StudioError("There is no trained model yet; train one on the Train tab first.")
    if not may_see(runs_dir, private, memory_value, run_id):
        raise StudioError("Pick a run from the list.")
    path = str(Path(runs_dir) / run_id)
    key = f"{path}#onnx" if fast else path
    if objects.predictor_path != key:
        objects.predictor, objects.predictor_path = None, None
        if fast:
            _export_once(path, progress)
        elif progress is not None:
            progress(0.1, desc="Loading the model…")
        objects.predictor = Predictor.load(path, backend="onnx" if fast else "torch")
        objects.predictor_path = key
    return objects.predictor


def _export_once(path: str, progress: Any) -> None:
    """The fast CPU model: the run's int8 ONNX export, written into the run folder the first time."""
    from bertstudio.export.onnx_backend import EXPORT_FILE, ONNX_DIR, read_export

    folder = Path(path) / ONNX_DIR
    if (folder / EXPORT_FILE).is_file() and read_export(folder).get("int8"):
        return
    from bertstudio.export.onnx_export import export_run

    if progress is not None:
        progress(0.05, desc="Making the fast CPU model from this run (once; a minute or so)…")
    export_run(path, int8=True)


def task_name(predictor: Any) -> str:
    """The task the loaded model was trained for; a model saved before tasks is single-label."""
    task = getattr(predictor, "task", None)  # the engine's Task, or its name
    name = task if isinstance(task, str) else getattr(task, "name", None)
    return name or getattr(predictor.config, "bertstudio_task", None) or DEFAULT_TASK


def _views(view: "TaskView", label: Any = None, answer: "Answer | None" = None) -> list[Any]:
    """The three answer views with only the task's own shown: Label (one label per row), the
    bars and the set (several labels), the value (a score). `label`: the Label's own update
    (its caption too); `answer`'s None parts leave a view's value as it is."""
    shown = view.answer_views
    chart = None if answer is None else answer.chart
    text = None if answer is None else answer.text
    if label is None and answer is not None and answer.label is not None:
        label = {"value": answer.label}
    return [gr.update(visible="label" in shown, **(label or {})),
            gr.update(visible="chart" in shown, **({} if chart is None else {"value": chart})),
            gr.update(visible="text" in shown, **({} if text is None else {"value": text}))]


def describe(objects: "SessionObjects", runs_dir: Path, run_id: str | None, private: bool = False,
             memory_value: Any = None) -> list[Any]:
    """What the picked model expects and what its labels mean; shows the second-text box for pair
    models and the answer views of its task, emptied (they held another model's answer).
    Outputs: `PredictTab.described`."""
    hidden = gr.update(visible=False)
    empty = _views(get_view(DEFAULT_TASK), {"value": None, "label": "Prediction"}, get_view(DEFAULT_TASK).waiting())
    if not run_id:
        return ["No finished run yet: train a model on the Train tab, then come back.", hidden, *empty]
    try:
        predictor = _predictor(objects, runs_dir, run_id, None, private, memory_value)
    except StudioError as exc:
        return [render.problem(exc.message), hidden, *empty]
    data = _data_record(runs_dir, run_id)
    view = get_view(task_name(predictor))
    label_column = (data.get("columns") or {}).get("label")
    pair = predictor.text_pair_column
    about = (f"{view.meaning(predictor.labels, label_column, data)} · reads column "
             f"**{render.md_escape(predictor.text_column or 'text')}**"
             + (f" and **{render.md_escape(pair)}**" if pair else "") + f" · max length {predictor.max_length}")
    warning = run_warning(Path(runs_dir) / run_id)
    if warning:  # its answers would look like answers: say first that they mean nothing
        about = results_text.warning_markdown(warning) + "\n\n" + about
    caption = render.shorten(f"Prediction: the value of column '{label_column}'") if label_column else "Prediction"
    views = _views(view, {"value": None, "label": caption}, view.waiting())
    return [about, gr.update(visible=bool(pair)), *views]


def clear_answers() -> tuple[Any, ...]:
    """Another model was picked: what the previous one said no longer applies. Outputs: `answers`."""
    return None, None, "", "", None, None, "", ""


def _data_record(runs_dir: Path, run_id: str) -> dict:
    """The run's data.json (columns, labels, file name); empty for a bare model folder."""
    from bertstudio.runs.folder import DATA_FILE, RunFolder

    record = RunFolder(Path(runs_dir) / run_id).read_json(DATA_FILE)
    return record if isinstance(record, dict) else {}


def predict_text(objects: "SessionObjects", runs_dir: Path, run_id: str | None, text: str,
                 pair: str | None, progress: Any = None, private: bool = False,
                 memory_value: Any = None, max_chars: int | None = None) -> list[Any]:
    """Outputs: `PredictTab.shown` (the task's answer view filled, the others hidden; the problem box)."""
    from bertstudio.limits import MAX_TEXT_CHARS

    if not (text or "").strip():
        return [gr.skip()] * 3 + [render.problem("Type a text to predict first.")]
    try:
        predictor = _predictor(objects, runs_dir, run_id, progress, private, memory_value)
        pairs = [pair or ""] if predictor.text_pair_column else None
        prediction = predictor.predict([text], pairs, max_text_chars=max_chars or MAX_TEXT_CHARS)[0]
    except StudioError as exc:
        return [gr.skip()] * 3 + [render.problem(exc.message)]
    view = get_view(task_name(predictor))
    data = _data_record(runs_dir, run_id) if run_id else {}
    return _views(view, None, view.answer(prediction, predictor.config, data)) + [""]


def offer_explanation() -> tuple[Any, str]:
    """After a prediction: the Explain button shown, the previous text's explanation gone.
    Outputs: explain button, explanation."""
    return gr.update(visible=True), ""


def explain_text(objects: "SessionObjects", runs_dir: Path, run_id: str | None, text: str,
                 pair: str | None, progress: Any = None, private: bool = False,
                 memory_value: Any = None, max_chars: int | None = None) -> str:
    """The Explain button: the text's pieces as chips shaded by their integrated-gradients
    attribution toward what the model predicts, and the words that pushed most. Output: explanation."""
    from bertstudio.limits import MAX_TEXT_CHARS

    if not (text or "").strip():
        return render.problem("Type a text to predict first.")
    try:
        predictor = _predictor(objects, runs_dir, run_id, progress, private, memory_value)
        from bertstudio.explain import explain

        if progress is not None:
            progress(0.3, desc="Explaining: integrated gradients, a few seconds…")
        second = (pair or "") if predictor.text_pair_column else None
        explanation = explain(predictor, text, second, max_text_chars=max_chars or MAX_TEXT_CHARS)
    except StudioError as exc:
        return render.problem(exc.message)
    return render.explanation_html(explanation)


def file_columns(objects: "SessionObjects", runs_dir: Path, run_id: str | None,
                 path: str | None, private: bool = False, memory_value: Any = None,
                 max_bytes: int | None = None, max_rows: int | None = None,
                 max_chars: int | None = None) -> tuple[Any, Any, str]:
    """The uploaded file's columns, the model's own text column preselected when the file has it.
    Outputs: column picker, predict button, problem. With a column preselected the file is predicted
    at once, so the button stays unavailable until that run ends (the wiring enables it again)."""
    hidden = gr.update(visible=False, choices=[], value=None), gr.update(visible=False)
    if not path:
        return (*hidden, "")
    try:
        predictor = _predictor(objects, runs_dir, run_id, None, private, memory_value)
        table = _read(path, max_bytes, max_rows, max_chars)
    except StudioError as exc:
        return (*hidden, render.problem(exc.message))
    wanted = predictor.text_column
    value = wanted if wanted in table.columns else (table.columns[0] if len(table.columns) == 1 else None)
    problem = "" if value else render.problem(
        f"This file has no column '{wanted}' like the training data; choose the column that holds the texts.")
    return (gr.update(visible=True, choices=list(table.columns), value=value),
            gr.update(visible=True, interactive=value is None), problem)


def predict_file(objects: "SessionObjects", runs_dir: Path, run_id: str | None, path: str | None,
                 text_column: str | None = None, progress: Any = None, private: bool = False,
                 memory_value: Any = None, max_bytes: int | None = None,
                 max_rows: int | None = None, max_chars: int | None = None,
                 fast: bool = False) -> tuple[Any, Any, str]:
    """Outputs: the file with predictions to download (in the upload's own format: CSV, TSV, Excel,
    JSON, JSON Lines or Parquet), a preview of its first rows, and a line saying how many rows
    were predicted at what speed (or the problem)."""
    import time

    from bertstudio.predict import write_predictions

    if not path:
        return None, None, ""
    try:
        predictor = _predictor(objects, runs_dir, run_id, progress, private, memory_value, fast)
        table = _read(path, max_bytes, max_rows, max_chars)
        started = time.perf_counter()
        header, rows = predictor.predict_table(table, text_column or None,
                                               on_batch=_rows_progress(progress, len(table)))
        seconds = time.perf_counter() - started
        # Only the file's own name is used, so no name the visitor chose can reach outside their folder.
        target = objects.downloads_dir() / output_name(table)
        write_predictions(target, header, rows, table, predictor.config)
    except StudioError as exc:
        return None, None, render.problem(exc.message)
    preview = {"headers": header, "data": [[render.shorten(str(c)) for c in row] for row in rows[:PREVIEW_ROWS]]}
    return str(target), preview, render.notice(speed_sentence(len(rows), seconds, fast))


def speed_sentence(rows: int, seconds: float, fast: bool) -> str:
    """E.g. '12,000 rows predicted in 41.0 s (293 rows/s, fast CPU model).'"""
    rate = rows / seconds if seconds > 0 else float("inf")
    model = "fast CPU model" if fast else "the model as trained"
    return f"{rows:,} row{'s' if rows != 1 else ''} predicted in {seconds:.1f} s ({rate:,.0f} rows/s, {model})."


SUFFIX_OF_FORMAT = {"xlsx": ".xlsx", "json": ".json", "jsonl": ".jsonl", "parquet": ".parquet"}


def output_name(table: Any) -> str:
    """"<stem>-predictions.<ext>" in the format the file came in (a tab-separated text as .tsv,
    any other delimited text as .csv, a gzipped one unzipped)."""
    name = Path(table.name)
    stem = name.name
    for suffix in (".gz", *FILE_TYPES, ".xls", ".xlsm", ".ndjson", ".pq"):
        stem = stem.removesuffix(suffix)
    suffix = SUFFIX_OF_FORMAT.get(getattr(table, "format", "csv"))
    if suffix is None:
        suffix = ".tsv" if table.delimiter == "\t" else ".csv"
    return f"{stem or 'data'}-predictions{suffix}"


def _rows_progress(progress: Any, total: int):
    """A callback for each batch done that moves the progress bar by rows (0 of N shown at once),
    saying the rows per second so far: a 100,000-row file tells early how long it will take."""
    import time

    if progress is None:
        return None
    started = time.perf_counter()

    def rows_done(done: int) -> None:
        elapsed = time.perf_counter() - started
        rate = f" · {done / elapsed:,.0f} rows/s" if done and elapsed > 0 else ""
        progress((done, total), desc=f"Predicting {total:,} rows{rate}…", unit="rows")

    rows_done(0)
    return rows_done


def ready() -> Any:
    """The "Predict the file" button, available again once a file's run has ended."""
    return gr.update(interactive=True)


def busy() -> Any:
    return gr.update(interactive=False)


def _read(path: str, max_bytes: int | None, max_rows: int | None = None, max_chars: int | None = None):
    """The file within the deployment's limits; rows are counted while reading, so a file far past
    `max_rows` stops being read there."""
    from bertstudio.limits import MAX_TEXT_CHARS
    from bertstudio.data.tabular import DEFAULT_MAX_BYTES, read_table

    return read_table(path, name=Path(path).name, max_bytes=max_bytes or DEFAULT_MAX_BYTES, max_rows=max_rows,
                      max_text_chars=max_chars or MAX_TEXT_CHARS)
