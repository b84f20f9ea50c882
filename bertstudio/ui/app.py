"""The studio page: header, the six tabs in order, the wiring between them, theme and styles.

Per-visitor objects live in a `SessionRegistry` keyed by gradio's session hash and are dropped on
unload; the only object shared by visitors is the `JobManager`, because the device is shared.
In hosted mode (`AppSettings.hosting`) a banner states the limits, the controls offer only what
the limits allow, and the handlers check them again on the server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from bertstudio.hosting import UPLOADS_DIR, HostingSettings, browser_secret
from bertstudio.ui import choices, data_tab, hyperparams_tab, predict_tab, render, runs_tab, tokenizer_tab, train_tab
from bertstudio.ui.data_tab import DataTab
from bertstudio.ui.form import ConfigForm, from_log
from bertstudio.ui.hyperparams_tab import HyperparamsTab
from bertstudio.ui.predict_tab import PredictTab
from bertstudio.ui.refusals import quiet_refusals
from bertstudio.ui.runs_tab import RunsTab
from bertstudio.ui.tokenizer_tab import TokenizerTab
from bertstudio.ui.train_tab import TrainTab
from bertstudio.ui.session import SessionObjects, SessionRegistry
from bertstudio.worker import JobManager

TITLE = "BERT Studio"
STORAGE_KEY = "bertstudio-memory"


@dataclass(frozen=True)
class AppSettings:
    runs_dir: Path
    private_runs: bool = False        # a shared deployment: each browser sees only its own runs
    default_model: str = "bundled"    # works offline
    example_data: Path | None = None
    hosting: HostingSettings = field(default_factory=HostingSettings)  # limits; all off unless hosted
    downloads_root: Path | None = None  # parent of the visitors' download folders (system temp if None)

    @property
    def limits(self) -> HostingSettings | None:
        """The hosted limits when they apply, else None (handlers then check nothing)."""
        return self.hosting if self.hosting.hosted else None

    @property
    def uploads_dir(self) -> Path | None:
        """Where hosted uploads are kept so that an interrupted run can be resumed after a restart."""
        return Path(self.runs_dir) / UPLOADS_DIR if self.hosting.hosted else None


def theme() -> gr.themes.Base:
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="amber", neutral_hue="slate",
                          font=("ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"))


CSS = """
.gradio-container { margin: 0 auto !important; }
#studio-header h1 { margin-bottom: 0.1em; }
#studio-header p { margin-top: 0; color: var(--body-text-color-subdued); }
.tab-intro p { color: var(--body-text-color-subdued); margin: 0.2em 0 0.6em; }
.preset-help p { font-size: 0.9em; color: var(--body-text-color-subdued); margin-top: -0.3em; }
.problem { background: #fef2f2; border: 1px solid #fecaca; color: #991b1b; border-radius: 8px;
           padding: 0.55em 0.8em; margin: 0.3em 0; line-height: 1.4; }
.notice { background: #eef2ff; border: 1px solid #c7d2fe; color: #3730a3; border-radius: 8px; padding: 0.55em 0.8em; }
.report ul { margin-top: 0.3em; }
#data-task { padding: 0.5em 0.8em; line-height: 1.45; }
#data-column-problem:not(:has(.problem)) { display: none; }  /* no empty band between the task and its chart */
.hosted-banner { background: #fffbeb; border: 1px solid #fcd34d; color: #78350f; border-radius: 10px;
                 padding: 0.6em 0.9em; margin: 0.2em 0 0.6em; line-height: 1.45; font-size: 0.95em; }
.hosted-banner ul { display: inline; margin: 0; padding: 0; }
.hosted-banner li { display: inline; }
.hosted-banner * { color: inherit !important; }  /* gradio's prose rule colours every element inside */
.hosted-banner li + li::before { content: " · "; }
.run-state { border-radius: 10px; padding: 0.7em 0.9em; border: 1px solid var(--border-color-primary);
             background: var(--block-background-fill); line-height: 1.5; }
.run-state.waiting { background: #fffbeb; border-color: #fde68a; color: #92400e; }
.run-state.failed { background: #fef2f2; border-color: #fecaca; color: #991b1b; }
.run-state.finished { border-color: #a7f3d0; }
.run-state .bar { height: 10px; background: #e0e7ff; border-radius: 999px; overflow: hidden; margin-bottom: 0.45em; }
.run-state .fill { height: 100%; background: #4f46e5; transition: width 0.5s; }
.run-state.finished .fill { background: #059669; }
.tok-view { font-size: 14px; }
.tok-summary { color: var(--body-text-color-subdued); margin-bottom: 0.45em; }
.tok-line { display: flex; flex-wrap: wrap; gap: 6px 8px; align-items: center; line-height: 1; max-height: 420px; overflow-y: auto; }
.tok-word { display: inline-flex; gap: 1px; }
.tok { display: inline-block; padding: 5px 7px; border-radius: 6px; background: #e0e7ff; color: #1e1b4b;
       font-family: ui-monospace, Consolas, monospace; font-size: 13px; border: 1px solid #c7d2fe; cursor: default; }
.tok-word .tok + .tok { border-top-left-radius: 0; border-bottom-left-radius: 0; }
.tok-word .tok:has(+ .tok) { border-top-right-radius: 0; border-bottom-right-radius: 0; }
.tok-cont { background: #c7d2fe; }
.tok-special { background: #334155; color: #f8fafc; border-color: #334155; font-weight: 600; }
.tok-b { background: #fef3c7; border-color: #fde68a; color: #78350f; }
.tok-b.tok-cont { background: #fde68a; }
.tok-unk { background: #fee2e2; border: 2px solid #dc2626; color: #991b1b; font-weight: 700; }
.tok-dropped { opacity: 0.45; text-decoration: line-through; background: #f1f5f9; border-style: dashed; color: #64748b; }
.tok-cut { color: #dc2626; font-weight: 700; font-size: 13px; padding: 0 2px; border-left: 2px dashed #dc2626; padding-left: 6px; }
.tok-legend { margin-top: 0.8em; font-size: 12px; color: var(--body-text-color-subdued); display: flex;
              flex-wrap: wrap; gap: 6px; align-items: center; }
.tok-legend .tok { font-size: 11px; padding: 2px 5px; }
.tok-row-title { font-weight: 600; margin: 0.3em 0 0.5em; }
/* The tab bar wraps (Tabs' overflow_behavior="wrap") so all six steps stay in sight on a phone. */
#studio-tabs { width: 100%; max-width: calc(100vw - 24px); }
.tab-container:not(.visually-hidden) { min-width: 0 !important; flex-wrap: wrap; }
/* The page is a flex item of gradio's app element, so by default it grew to its widest content (a
   table's header row) and the whole page scrolled sideways; at most the screen wide, tables
   scroll inside their own box instead. */
.gradio-container, .gradio-container > main { min-width: 0 !important; max-width: min(1280px, 100vw) !important; }
.table-wrap { max-width: calc(100vw - 28px); overflow-x: auto; }
.align-end { align-self: flex-end; }
#cfg-learning_rate .tab-like-container, #cfg-learning_rate .min_value, #cfg-learning_rate .max_value { display: none; }
@media (max-width: 700px) {
  .gradio-container { padding: 0 6px !important; }
  .row { flex-wrap: wrap !important; }
  .row > .column, .row > .block, .row > .form { min-width: 100% !important; flex-basis: 100% !important; }
  .tok { font-size: 12px; }
  body, .gradio-container { overflow-x: hidden; }
}
"""

HEADER = f"""# {TITLE}
Fine-tune a BERT model on your own file (CSV, Excel, JSON or Parquet) to give each text
one label, several tags or a score. Step by step: **1 Data** (your file and its columns) →
**2 Tokenizer** (how the model reads your texts) → **3 Hyperparameters** → **4 Train** (live charts) →
**5 Predict** → **6 Runs**."""


def build_app(settings: AppSettings, jobs: JobManager) -> gr.Blocks:
    """The whole page. Nothing heavy happens here: models load when a handler first needs one."""
    registry: SessionRegistry[SessionObjects] = SessionRegistry(
        partial(SessionObjects, downloads_root=settings.downloads_root))
    runs_dir = Path(settings.runs_dir)
    example = settings.example_data or data_tab.example_path()
    limits = settings.limits
    # Gradio's cache holds the uploads and the copies of every download; hosted, it is emptied of
    # files older than the time to live, checked every hour (or sooner for a short TTL).
    delete_cache = (int(min(3600, limits.ttl_seconds)) or 1, int(limits.ttl_seconds)) if limits else None

    def objects(request: gr.Request) -> SessionObjects:
        return registry.get(request.session_hash)

    with gr.Blocks(title=TITLE, fill_width=False, delete_cache=delete_cache) as demo:
        gr.Markdown(HEADER, elem_id="studio-header")
        if limits is not None:
            gr.HTML(render.hosted_banner(limits.facts()), elem_id="hosted-banner")
        # The same key across restarts: a browser keeps its owner token, and so its runs.
        memory = gr.BrowserState({}, storage_key=STORAGE_KEY, secret=browser_secret(runs_dir))
        # The visitor's file, columns and settings, in their own browser (see ui/choices.py).
        remembered = gr.BrowserState({}, storage_key=choices.STORAGE_KEY, secret=browser_secret(runs_dir))
        with gr.Tabs(elem_id="studio-tabs", overflow_behavior="wrap"):  # all six steps in sight on a phone
            with gr.Tab("1 · Data", id="data", elem_id="tab-data"):
                data = data_tab.build()
            with gr.Tab("2 · Tokenizer", id="tokenizer", elem_id="tab-tokenizer"):
                tok = tokenizer_tab.build(settings.default_model, limits.models if limits else None)
            with gr.Tab("3 · Hyperparameters", id="hyperparameters", elem_id="tab-hyperparameters"):
                hp = hyperparams_tab.build(limits.max_epochs if limits else None, model=tok.model.component.value)
            with gr.Tab("4 · Train", id="train", elem_id="tab-train"):
                train = train_tab.build()
            with gr.Tab("5 · Predict", id="predict", elem_id="tab-predict") as predict_page:
                predict = predict_tab.build()
            with gr.Tab("6 · Runs", id="runs", elem_id="tab-runs") as runs_page:
                runs = runs_tab.build()

        form = config_form(data, tok, hp, runs_dir)
        data_tab.wire(data, form, example, limits, settings.uploads_dir)
        _wire_tokenizer(demo, tok, data, hp, objects, limits)
        _wire_hyperparams(hp, data, tok, train, form, objects, limits)
        _wire_train(train, data, form, jobs, memory, objects, runs_dir, limits)
        _wire_predict(predict, predict_page, settings, memory, objects)
        _wire_runs(runs, runs_page, train, settings, jobs, memory, objects)

        def on_load(memory_value, request: gr.Request):
            return train_tab.reattach(jobs, runs_dir, objects(request).downloads_dir, memory_value,
                                      settings.private_runs, train_tab.request_address(request, limits))

        reload = demo.load(on_load, [memory], [train.followed, memory, *train.view, *train.gate],
                           show_progress="hidden")
        _wire_choices(reload, remembered, data, hp, train, form, settings, example, objects)

        def on_unload(request: gr.Request):
            registry.drop(request.session_hash)

        demo.unload(on_unload)
    return quiet_refusals(demo)  # a stale or forged value: one log line, not a traceback


def config_form(data: DataTab, tok: TokenizerTab, hp: HyperparamsTab, runs_dir: Path) -> ConfigForm:
    """The one form over all tabs: every TrainConfig field the user sets, each with one control."""
    return ConfigForm(controls=[*data.controls, *tok.controls, *hp.controls], output_dir=str(runs_dir))


Objects = Callable[[gr.Request], SessionObjects]


def _wire_tokenizer(demo: gr.Blocks, tok: TokenizerTab, data: DataTab, hp: HyperparamsTab,
                    objects: Objects, limits: HostingSettings | None) -> None:
    def on_tokens(model, text, pair, max_length, truncation, request: gr.Request, progress=gr.Progress()):
        return tokenizer_tab.show_tokens(objects(request), model, text, pair, max_length, truncation, progress,
                                         limits)

    token_inputs = [tok.model.component, tok.text, tok.pair, tok.max_length.component, tok.truncation.component]
    token_outputs = [tok.chips, tok.ids, tok.model_about, tok.model_problem]
    gr.on([tok.model.component.change, tok.text.change, tok.pair.change, tok.max_length.component.change,
           tok.truncation.component.change], on_tokens, token_inputs, token_outputs,
          trigger_mode="always_last", show_progress="minimal")
    demo.load(on_tokens, token_inputs, token_outputs, show_progress="hidden")  # works with no dataset

    def on_measure(model, prepared, max_length, request: gr.Request, progress=gr.Progress()):
        return tokenizer_tab.measure_dataset(objects(request), model, prepared, max_length, progress, limits)

    gr.on([data.prepared.change, tok.model.component.change], on_measure,
          [tok.model.component, data.prepared, tok.max_length.component],
          [tok.rows, tok.length_chart, tok.length_facts, tok.apply_suggested, tok.row_rank],
          trigger_mode="always_last", api_name="measure_tokens").then(
        # The max length may have moved while the rows were measured: show the numbers for where it is now.
        tokenizer_tab.length_view, [tok.rows, tok.max_length.component],
        [tok.length_chart, tok.length_facts, tok.apply_suggested], show_progress="hidden")
    tok.max_length.component.change(tokenizer_tab.length_view, [tok.rows, tok.max_length.component],
                                    [tok.length_chart, tok.length_facts, tok.apply_suggested],
                                    show_progress="hidden", trigger_mode="always_last")
    tok.apply_suggested.click(tokenizer_tab.suggested_length, tok.rows, tok.max_length.component)

    def on_row(rows, rank, max_length, truncation, request: gr.Request):
        return tokenizer_tab.show_row(objects(request), rows, rank, max_length, truncation)

    gr.on([tok.rows.change, tok.row_rank.change, tok.max_length.component.change, tok.truncation.component.change],
          on_row, [tok.rows, tok.row_rank, tok.max_length.component, tok.truncation.component], tok.row_chips,
          trigger_mode="always_last", show_progress="hidden")
    # One max length, two sliders: each follows the other. `.input` fires only on a person's own
    # move, so a slider set by the other never echoes back.
    tok.max_length.component.change(lambda v: v, tok.max_length.component, hp.max_length_mirror,
                                    show_progress="hidden")
    hp.max_length_mirror.input(lambda v: v, hp.max_length_mirror, tok.max_length.component,
                               show_progress="hidden")


def _wire_hyperparams(hp: HyperparamsTab, data: DataTab, tok: TokenizerTab, train: TrainTab, form: ConfigForm,
                      objects: Objects, limits: HostingSettings | None) -> None:
    max_epochs = limits.max_epochs if limits else None

    def on_summary(loaded, prepared, rows, *values):
        from bertstudio.errors import StudioError
        from bertstudio.models import resolve_model

        try:
            folder = resolve_model(form.value_of("model", values))
        except StudioError:
            folder = None
        mean = rows.stats.mean if rows is not None else None
        return hyperparams_tab.summarize(form, loaded, prepared, mean, folder, *values)

    summary = dict(fn=on_summary, inputs=[data.loaded, data.prepared, tok.rows, *form.inputs],
                   outputs=[hp.schedule_chart, hp.cost, hp.problem], show_progress="hidden")
    plan = dict(fn=partial(train_tab.plan_text, form), inputs=[data.loaded, data.prepared, *form.inputs],
                outputs=train.plan, show_progress="hidden")
    # The learning-rate slider is followed on `.input` (a person's own move), never `.change`: once
    # moved, gradio 6 re-fired its change event after every redraw of the summary, so the summary
    # re-ran once a second for as long as the page stayed open. Its programmatic sets (presets, a
    # loaded config.json) refresh the summary with `.then` instead.
    learning_rate = form.control("learning_rate").component
    triggers = ([data.prepared.change, tok.rows.change, learning_rate.input]
                + [component.change for component in form.inputs if component is not learning_rate])
    gr.on(triggers, trigger_mode="always_last", **summary)
    gr.on(triggers, trigger_mode="always_last", **plan)
    # The box beside the slider follows the slider the same way: on a person's move, and after
    # every programmatic set (`.then`), never on the slider's `.change`. Typing into the box sets
    # the slider and refreshes the summary with `.then`.
    box, box_problem = hp.learning_rate_box, hp.learning_rate_problem
    box_from_slider = dict(fn=from_log, inputs=learning_rate, outputs=box, show_progress="hidden")
    # always_last: a person holding an arrow key sends one input per step; only the last one matters.
    learning_rate.input(trigger_mode="always_last", **box_from_slider)
    gr.on([box.submit, box.blur], hyperparams_tab.typed_learning_rate, [box, learning_rate],
          [learning_rate, box, box_problem, hp.selected_preset, *hp.presets],
          show_progress="hidden").then(**summary).then(**plan)
    # A preset stays highlighted only while the form equals it: a hand edit of a setting it sets
    # leaves it, and a new model re-applies it with that model's values.
    # A preset sets only the settings presets govern, never the model: the model's change
    # re-applies the preset, and an output that is its own trigger (the model was among
    # `form.inputs` here) is how an event keeps re-firing itself.
    preset_outputs = [*(c.component for c in hyperparams_tab.preset_controls(form)), box, box_problem]
    governed = [c.component for c in form.controls if c.name in hyperparams_tab.governed_settings()]
    gr.on([component.input for component in governed], hyperparams_tab.leave_preset, None,
          [hp.selected_preset, *hp.presets], show_progress="hidden", trigger_mode="always_last")
    model = tok.model.component
    for button in hp.presets:
        button.click(partial(hyperparams_tab.choose_preset, form, button.value, max_epochs=max_epochs), model,
                     [*preset_outputs, hp.selected_preset, *hp.presets]).then(**summary).then(**plan)
    model.change(partial(hyperparams_tab.follow_model, form, max_epochs=max_epochs), [hp.selected_preset, model],
                 [*preset_outputs, hp.preset_help], show_progress="hidden").then(**summary).then(**plan)

    # The metrics offered and the multi-label option follow the task in force: detected with the
    # data (`prepared`), or chosen while the data cannot be prepared. Neither output is a trigger.
    gr.on([data.prepared.change, data.task.component.input], hyperparams_tab.follow_task,
          [data.prepared, data.task.component, form.control("metric_for_best").component],
          [form.control("metric_for_best").component, form.control("weight_rare_labels").component],
          show_progress="hidden", trigger_mode="always_last")

    def on_command(request: gr.Request, loaded, *values):
        return hyperparams_tab.show_command(form, objects(request).downloads_dir, loaded, *values)

    hp.show_command.click(on_command, [data.loaded, *form.inputs],
                          [hp.command, hp.accelerate_command, hp.config_file, hp.problem])
    # The preset is left in the same update that fills the form, before the model's change event
    # (a file naming a model) could re-apply it over the file's values.
    hp.config_upload.upload(partial(hyperparams_tab.load_settings, form, hosting=limits),
                            [data.loaded, hp.config_upload],
                            [*form.inputs, hp.problem, hp.selected_preset, *hp.presets]).then(
        **box_from_slider).then(
        # The file may name other columns or another task: the Data tab prepares them (its
        # controls follow a person's input only, and this set them by program).
        partial(data_tab.prepare, form), [data.loaded, *form.inputs], data_tab.prepare_outputs(data),
        show_progress="hidden").then(**summary).then(**plan)


def _wire_train(train: TrainTab, data: DataTab, form: ConfigForm, jobs: JobManager, memory: gr.BrowserState,
                objects: Objects, runs_dir: Path, limits: HostingSettings | None) -> None:
    def on_start(request: gr.Request, loaded, memory_value, *values):
        return train_tab.start(form, jobs, loaded, memory_value, *values, hosting=limits,
                               address=train_tab.request_address(request, limits))

    train.start.click(on_start, [data.loaded, memory, *form.inputs],
                      [train.followed, memory, train.problem, *train.view, *train.gate])
    train.stop.click(partial(train_tab.stop, jobs), [train.followed, memory], train.problem)

    def on_tick(followed, memory_value, request: gr.Request):
        return train_tab.tick(jobs, objects(request).downloads_dir, followed, memory_value,
                              train_tab.request_address(request, limits))

    train.timer.tick(on_tick, [train.followed, memory], [*train.view, *train.gate], show_progress="hidden")


def _wire_choices(reload: Any, remembered: gr.BrowserState, data: DataTab, hp: HyperparamsTab, train: TrainTab,
                  form: ConfigForm, settings: AppSettings, example: Path, objects: Objects) -> None:
    """Remember the visitor's choices in their browser on every change, and put them back on a
    reload, after the followed run is picked up (`reload`), so the Train tab can name that run."""
    limits, uploads_dir = settings.limits, settings.uploads_dir
    learning_rate = form.control("learning_rate").component
    inputs = [data.loaded, data.validation_mode, hp.selected_preset, *form.inputs]
    # The learning-rate slider on `.input` only, like the summary (its `.change` re-fires on
    # redraws); its programmatic sets come with other settings, or from the box beside it.
    triggers = ([data.loaded.change, data.validation_mode.change, hp.selected_preset.change, learning_rate.input,
                 hp.learning_rate_box.submit, hp.learning_rate_box.blur]
                + [component.change for component in form.inputs if component is not learning_rate])
    gr.on(triggers, partial(choices.remember, form), inputs, remembered, trigger_mode="always_last",
          show_progress="hidden", queue=False)

    def on_restore(value, current, request: gr.Request):
        return choices.restore(form, value, roots=choices.upload_roots(uploads_dir), example=example, hosting=limits,
                               uploads_dir=uploads_dir, downloads=objects(request).downloads_dir, current=current)

    reload.then(on_restore, [remembered, data.loaded], choices.restore_outputs(data, hp.selected_preset, form),
                show_progress_on=data.facts).then(
        from_log, learning_rate, hp.learning_rate_box, show_progress="hidden").then(
        hyperparams_tab.preset_buttons, hp.selected_preset, hp.presets, show_progress="hidden").then(
        partial(data_tab.prepare, form), [data.loaded, *form.inputs], data_tab.prepare_outputs(data)).then(
        partial(choices.plan_after_reload, form), [data.loaded, data.prepared, train.followed, *form.inputs],
        train.plan, show_progress="hidden")


def _wire_predict(predict: PredictTab, page: gr.Tab, settings: AppSettings, memory: gr.BrowserState,
                  objects: Objects) -> None:
    runs_dir, private, limits = Path(settings.runs_dir), settings.private_runs, settings.limits
    max_bytes = limits.max_upload_bytes if limits else None
    max_rows = limits.max_rows if limits else None
    max_chars = limits.max_text_chars if limits else None
    # Opening the tab keeps a run the visitor picked themselves, else shows the latest; Refresh
    # always shows the latest, as the picker's label says.
    page.select(partial(predict_tab.choices, runs_dir, private), [memory, predict.pinned], predict.picker,
                show_progress="hidden")
    predict.refresh.click(partial(predict_tab.refresh_list, runs_dir, private), memory,
                          [predict.picker, predict.pinned], show_progress="hidden", api_name="predict_runs")
    predict.picker.input(predict_tab.pin, predict.picker, predict.pinned, show_progress="hidden")

    def on_pick(run_id, memory_value, request: gr.Request, progress=gr.Progress()):
        return predict_tab.describe(objects(request), runs_dir, run_id, private, memory_value)

    predict.picker.change(predict_tab.clear_answers, None, predict.answers, show_progress="hidden").then(
        on_pick, [predict.picker, memory], predict.described, show_progress_on=predict.about)

    def on_text(run_id, text, pair, memory_value, request: gr.Request, progress=gr.Progress()):
        return predict_tab.predict_text(objects(request), runs_dir, run_id, text, pair, progress, private,
                                        memory_value, max_chars)

    gr.on([predict.predict.click, predict.text.submit], on_text,
          [predict.picker, predict.text, predict.pair, memory], predict.shown,
          api_name="predict_text", show_progress_on=[predict.label, predict.label_chart, predict.answer])

    def on_columns(run_id, path, memory_value, request: gr.Request):
        return predict_tab.file_columns(objects(request), runs_dir, run_id, path, private, memory_value, max_bytes,
                                        max_rows, max_chars)

    def on_file(run_id, path, column, memory_value, request: gr.Request, progress=gr.Progress()):
        if path and not column:
            return gr.skip(), gr.skip(), gr.skip()  # the picker explains what is missing
        return predict_tab.predict_file(objects(request), runs_dir, run_id, path, column, progress, private,
                                        memory_value, max_bytes, max_rows, max_chars)

    # One run per file at a time: an upload with the column found predicts at once and keeps the
    # button unavailable until it ends; a click makes it unavailable first. One progress bar, on
    # the result, advancing with the rows done.
    run_file = dict(fn=on_file, inputs=[predict.picker, predict.upload, predict.file_column, memory],
                    outputs=[predict.result_file, predict.result_preview, predict.file_problem],
                    show_progress_on=predict.result_file)
    column_outputs = [predict.file_column, predict.file_button, predict.file_problem]
    predict.upload.upload(on_columns, [predict.picker, predict.upload, memory], column_outputs,
                          show_progress_on=predict.file_column).then(**run_file).then(
        predict_tab.ready, None, predict.file_button, show_progress="hidden")
    predict.upload.clear(on_columns, [predict.picker, predict.upload, memory], column_outputs,
                         show_progress="hidden")
    predict.file_button.click(predict_tab.busy, None, predict.file_button, show_progress="hidden").then(
        **run_file).then(predict_tab.ready, None, predict.file_button, show_progress="hidden")


def _wire_runs(runs: RunsTab, page: gr.Tab, train: TrainTab, settings: AppSettings, jobs: JobManager,
               memory: gr.BrowserState, objects: Objects) -> None:
    runs_dir, private, limits = Path(settings.runs_dir), settings.private_runs, settings.limits
    refresh = partial(runs_tab.refresh, runs_dir, private, jobs=jobs)
    page.select(refresh, [memory, runs.picker], [runs.table, runs.picker], show_progress="hidden")
    runs.refresh.click(refresh, [memory, runs.picker], [runs.table, runs.picker], show_progress="hidden",
                       api_name="list_runs")

    def on_open(memory_value, run_id, request: gr.Request):
        return runs_tab.open_run(runs_dir, private, objects(request).downloads_dir, memory_value, run_id, jobs)

    runs.picker.change(on_open, [memory, runs.picker], runs.detail_outputs)
    runs.delete.click(runs_tab.ask_delete, runs.picker, [runs.confirm, runs.problem])
    runs.confirm.click(partial(runs_tab.delete, runs_dir, private), [memory, runs.picker],
                       [runs.problem, runs.confirm, runs.detail, memory]).then(
        refresh, [memory, runs.picker], [runs.table, runs.picker])
    runs.stop.click(partial(runs_tab.stop_run, jobs), [memory, runs.picker], [runs.problem, runs.stop]).then(
        refresh, [memory, runs.picker], [runs.table, runs.picker])

    def on_tick(followed, memory_value, request: gr.Request):
        return train_tab.tick(jobs, objects(request).downloads_dir, followed, memory_value,
                              train_tab.request_address(request, limits))

    def on_resume(memory_value, run_id, request: gr.Request):
        return runs_tab.resume(jobs, runs_dir, private, memory_value, run_id,
                               train_tab.request_address(request, limits))

    # The resumed run is followed on the Train tab like a new one: its timer starts ticking.
    runs.resume.click(on_resume, [memory, runs.picker], [runs.problem, runs.resume, memory, train.followed]).then(
        on_tick, [train.followed, memory], [*train.view, *train.gate], show_progress="hidden").then(
        refresh, [memory, runs.picker], [runs.table, runs.picker])


def launch_options() -> dict:
    """Arguments for `Blocks.launch` that gradio 6 takes there rather than in `gr.Blocks()`."""
    return {"theme": theme(), "css": CSS}


def default_runs_dir() -> Path:
    return Path(os.environ.get("BERTSTUDIO_RUNS_DIR") or "runs")
