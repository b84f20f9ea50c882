"""The events between the tabs: which control's change runs which handler, with which inputs.

Each `wire_*` function takes the tabs' typed handles and the per-visitor `objects` lookup; the
handlers themselves live in the tab modules, so this file holds only the connections and the
reasons for their trigger modes.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from bertstudio.hosting import HostingSettings
from bertstudio.ui import (choices, data_tab, device_picker, hyperparams_tab, predict_tab, presets, render, runs_compare, runs_publish,
                           runs_tab, tokenizer_tab, train_again, train_tab)
from bertstudio.ui.app_settings import AppSettings
from bertstudio.ui.data_tab import DataTab
from bertstudio.ui.form import ConfigForm, from_log
from bertstudio.ui.hyperparams_tab import HyperparamsTab
from bertstudio.ui.predict_tab import PredictTab
from bertstudio.ui.relays import Relays
from bertstudio.ui.runs_tab import RunsTab
from bertstudio.ui.session import SessionObjects
from bertstudio.ui.tokenizer_tab import TokenizerTab
from bertstudio.ui.train_tab import TrainTab
from bertstudio.worker import JobManager

Objects = Callable[[gr.Request], SessionObjects]


def wire_tokenizer(demo: gr.Blocks, tok: TokenizerTab, data: DataTab, hp: HyperparamsTab, relays: Relays,
                   objects: Objects, limits: HostingSettings | None) -> None:
    # The model, max length and truncation controls are followed by several handlers each, so
    # through `relays` (relays.py: two direct always_last listeners can re-run each other forever).
    model_changed = relays.change(tok.model.component)
    length_changed = relays.change(tok.max_length.component)
    truncation_changed = relays.change(tok.truncation.component)

    def on_tokens(model, text, pair, max_length, truncation, request: gr.Request, progress=gr.Progress()):
        return tokenizer_tab.show_tokens(objects(request), model, text, pair, max_length, truncation, progress,
                                         limits)

    token_inputs = [tok.model.component, tok.text, tok.pair, tok.max_length.component, tok.truncation.component]
    token_outputs = [tok.chips, tok.ids, tok.model_about, tok.model_problem]
    gr.on([model_changed, tok.text.change, tok.pair.change, length_changed, truncation_changed], on_tokens,
          token_inputs, token_outputs, trigger_mode="always_last", show_progress="minimal")
    demo.load(on_tokens, token_inputs, token_outputs, show_progress="hidden")  # works with no dataset

    def on_measure(model, prepared, max_length, request: gr.Request, progress=gr.Progress()):
        return tokenizer_tab.measure_dataset(objects(request), model, prepared, max_length, progress, limits)

    gr.on([data.prepared.change, model_changed], on_measure,
          [tok.model.component, data.prepared, tok.max_length.component],
          [tok.rows, tok.length_chart, tok.length_facts, tok.apply_suggested, tok.row_rank],
          trigger_mode="always_last", api_name="measure_tokens").then(
        # The max length may have moved while the rows were measured: show the numbers for where it is now.
        tokenizer_tab.length_view, [tok.rows, tok.max_length.component],
        [tok.length_chart, tok.length_facts, tok.apply_suggested], show_progress="hidden")
    gr.on([length_changed], tokenizer_tab.length_view, [tok.rows, tok.max_length.component],
          [tok.length_chart, tok.length_facts, tok.apply_suggested], show_progress="hidden", trigger_mode="always_last")
    tok.apply_suggested.click(tokenizer_tab.suggested_length, tok.rows, tok.max_length.component)

    def on_row(rows, rank, max_length, truncation, request: gr.Request):
        return tokenizer_tab.show_row(objects(request), rows, rank, max_length, truncation)

    gr.on([tok.rows.change, tok.row_rank.change, length_changed, truncation_changed], on_row,
          [tok.rows, tok.row_rank, tok.max_length.component, tok.truncation.component], tok.row_chips,
          trigger_mode="always_last", show_progress="hidden")
    wire_masking_preview(tok, hp, relays, objects, limits)
    # One max length, two sliders: each follows the other. `.input` fires only on a person's own
    # move, so a slider set by the other never echoes back.
    gr.on([length_changed], lambda v: v, tok.max_length.component, hp.max_length_mirror, show_progress="hidden")
    hp.max_length_mirror.input(lambda v: v, hp.max_length_mirror, tok.max_length.component,
                               show_progress="hidden")


def wire_masking_preview(tok: TokenizerTab, hp: HyperparamsTab, relays: Relays, objects: Objects,
                         limits: HostingSettings | None) -> None:
    """The masking preview follows the row draw, the model, the dataset, the length settings and the
    masking settings where the Hyperparameters tab has controls for them."""
    settings = tokenizer_tab.masking_controls(hp.controls)

    def on_mask(request: gr.Request, model, rows, draw, own, max_length, truncation, *values,
                progress=gr.Progress()):
        chosen = {control.name: control.read(value) for control, value in zip(settings, values)}
        return tokenizer_tab.show_masking(objects(request), model, rows, draw, own, max_length, truncation, chosen,
                                          progress, limits)

    show = dict(fn=on_mask, inputs=[tok.model.component, tok.rows, tok.mask_draw, tok.mask_text,
                                    tok.max_length.component, tok.truncation.component,
                                    *(control.component for control in settings)],
                outputs=[tok.mask_view, tok.mask_guesses], show_progress_on=tok.mask_view)
    tok.mask_another.click(tokenizer_tab.another_row, tok.mask_draw, [tok.mask_draw, tok.mask_text],
                           show_progress="hidden").then(**show)
    tok.mask_again.click(tokenizer_tab.mask_again, tok.mask_draw, tok.mask_draw, show_progress="hidden").then(**show)
    gr.on([tok.rows.change, relays.change(tok.model.component), tok.mask_text.submit,
           tok.max_length.component.release, relays.change(tok.truncation.component),
           *(relays.change(control.component) for control in settings)],
          trigger_mode="always_last", **show)


def wire_hyperparams(hp: HyperparamsTab, data: DataTab, tok: TokenizerTab, train: TrainTab, form: ConfigForm,
                     relays: Relays, objects: Objects, limits: HostingSettings | None) -> None:
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
    picker = train.devices

    def on_plan(loaded, prepared, device, listing, *values):
        # The memory a run needs changes with the same settings as the plan: one event for both.
        return (train_tab.plan_text(form, loaded, prepared, *values),
                device_picker.need_for_form(form, loaded, device, listing, values))

    plan = dict(fn=on_plan, inputs=[data.loaded, data.prepared, picker.choice, picker.listing, *form.inputs],
                outputs=[train.plan, picker.need], show_progress="hidden")
    # Every setting is followed by the summary, the plan and the page's memory, so through `relays`:
    # several always_last listeners on one control re-ran each other once a second for as long as
    # the page stayed open (relays.py). The learning-rate slider is followed on its `.input` (a
    # person's own move); its programmatic sets (the box, presets, a loaded config.json) refresh
    # the summary with `.then`.
    learning_rate = form.control("learning_rate").component
    triggers = ([data.prepared.change, tok.rows.change, relays.input(learning_rate)]
                + [relays.change(component) for component in form.inputs if component is not learning_rate])
    gr.on(triggers, trigger_mode="always_last", **summary)
    gr.on(triggers, trigger_mode="always_last", **plan)
    # The box beside the slider follows the slider the same way: on a person's move, and after
    # every programmatic set (`.then`), never on the slider's `.change`. Typing into the box sets
    # the slider and refreshes the summary with `.then`.
    box, box_problem = hp.learning_rate_box, hp.learning_rate_problem
    box_from_slider = dict(fn=from_log, inputs=learning_rate, outputs=box, show_progress="hidden")
    # always_last: a person holding an arrow key sends one input per step; only the last one matters.
    gr.on([relays.input(learning_rate)], trigger_mode="always_last", **box_from_slider)
    gr.on([box.submit, box.blur], hyperparams_tab.typed_learning_rate, [box, learning_rate],
          [learning_rate, box, box_problem, hp.selected_preset, *hp.presets],
          show_progress="hidden").then(**summary).then(**plan)
    # A preset stays highlighted only while the form equals it: a hand edit of a setting it sets
    # leaves it, and a new model re-applies it with that model's values.
    # A preset sets only the settings presets govern, never the model: the model's change
    # re-applies the preset, and an output that is its own trigger (the model was among
    # `form.inputs` here) is how an event keeps re-firing itself.
    preset_outputs = [*(c.component for c in presets.preset_controls(form)), box, box_problem]
    governed = [c.component for c in form.controls if c.name in presets.governed_settings()]
    gr.on([relays.input(component) for component in governed], presets.leave_preset, None,
          [hp.selected_preset, *hp.presets], show_progress="hidden", trigger_mode="always_last")
    model = tok.model.component
    for button in hp.presets:
        button.click(partial(presets.choose_preset, form, button.value, max_epochs=max_epochs),
                     [model, data.prepared], [*preset_outputs, hp.selected_preset, *hp.presets]
                     ).then(**summary).then(**plan)
    # "Recommended" follows the file as well as the model: a new file re-applies it for its rows.
    governed_now = [c.component for c in presets.preset_controls(form)]
    gr.on([relays.change(model), data.prepared.change], partial(presets.follow_model, form, max_epochs=max_epochs),
          [hp.selected_preset, model, data.prepared, *governed_now], [*preset_outputs, hp.preset_help],
          show_progress="hidden", trigger_mode="always_last").then(**summary).then(**plan)

    # The metrics offered and the multi-label option follow the task in force: detected with the
    # data (`prepared`), or chosen while the data cannot be prepared. Neither output is a trigger.
    gr.on([data.prepared.change, relays.input(data.task.component)], hyperparams_tab.follow_task,
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


def tick_handler(jobs: JobManager, objects: Objects, limits: HostingSettings | None) -> Callable:
    """The Train tab's refresh of the followed run: on its timer, and right after a resume."""
    def on_tick(followed, memory_value, request: gr.Request):
        # hosting too: the gate each tick redraws must count as Start does (sign-in, per account).
        return train_tab.tick(jobs, objects(request).downloads_dir, followed, memory_value,
                              train_tab.request_address(request, limits), hosting=limits)

    return on_tick


def wire_train(train: TrainTab, data: DataTab, form: ConfigForm, jobs: JobManager, memory: gr.BrowserState,
               objects: Objects, limits: HostingSettings | None) -> None:
    choose_device = train.devices.choice.visible  # hidden where the host or the launcher decides

    def on_start(request: gr.Request, loaded, memory_value, device, listing, *values):
        return train_tab.start(form, jobs, loaded, memory_value, *values, hosting=limits,
                               address=train_tab.request_address(request, limits),
                               device=device if choose_device else None, listing=listing)

    train.start.click(on_start, [data.loaded, memory, train.devices.choice, train.devices.listing, *form.inputs],
                      [train.followed, memory, train.problem, *train.view, *train.gate])
    train.stop.click(partial(train_tab.stop, jobs), [train.followed, memory], train.problem)

    on_tick = tick_handler(jobs, objects, limits)
    train.timer.tick(on_tick, [train.followed, memory], [*train.view, *train.gate], show_progress="hidden")


def wire_choices(reload: Any, remembered: gr.BrowserState, data: DataTab, hp: HyperparamsTab, train: TrainTab,
                 form: ConfigForm, relays: Relays, settings: AppSettings, example: Path, objects: Objects) -> None:
    """Remember the visitor's choices in their browser on every change, and put them back on a
    reload, after the followed run is picked up (`reload`), so the Train tab can name that run."""
    limits, uploads_dir = settings.limits, settings.uploads_dir
    learning_rate = form.control("learning_rate").component
    inputs = [data.loaded, data.validation_mode, hp.selected_preset, *form.inputs]
    # The learning-rate slider on `.input` only, like the summary; its programmatic sets come with
    # other settings, or from the box beside it. Every control through `relays` (relays.py).
    triggers = ([data.loaded.change, relays.change(data.validation_mode), hp.selected_preset.change,
                 relays.input(learning_rate), hp.learning_rate_box.submit, hp.learning_rate_box.blur]
                + [relays.change(component) for component in form.inputs if component is not learning_rate])
    gr.on(triggers, partial(choices.remember, form), inputs, remembered, trigger_mode="always_last",
          show_progress="hidden", queue=False)

    def on_restore(value, current, request: gr.Request):
        return choices.restore(form, value, roots=choices.upload_roots(uploads_dir), example=example, hosting=limits,
                               uploads_dir=uploads_dir, downloads=objects(request).downloads_dir, current=current)

    reload.then(on_restore, [remembered, data.loaded], choices.restore_outputs(data, hp.selected_preset, form),
                show_progress_on=data.facts).then(
        from_log, learning_rate, hp.learning_rate_box, show_progress="hidden").then(
        presets.preset_buttons, hp.selected_preset, hp.presets, show_progress="hidden").then(
        partial(data_tab.prepare, form), [data.loaded, *form.inputs], data_tab.prepare_outputs(data)).then(
        partial(choices.plan_after_reload, form), [data.loaded, data.prepared, train.followed, *form.inputs],
        train.plan, show_progress="hidden")


def wire_predict(predict: PredictTab, page: gr.Tab, settings: AppSettings, memory: gr.BrowserState,
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
          api_name="predict_text", show_progress_on=[predict.label, predict.label_chart, predict.answer]).then(
        predict_tab.offer_explanation, None, [predict.explain, predict.explanation], show_progress="hidden")

    def on_explain(run_id, text, pair, memory_value, request: gr.Request, progress=gr.Progress()):
        return predict_tab.explain_text(objects(request), runs_dir, run_id, text, pair, progress, private,
                                        memory_value, max_chars)

    predict.explain.click(on_explain, [predict.picker, predict.text, predict.pair, memory], predict.explanation,
                          show_progress_on=predict.explanation)

    def on_columns(run_id, path, memory_value, request: gr.Request):
        return predict_tab.file_columns(objects(request), runs_dir, run_id, path, private, memory_value, max_bytes,
                                        max_rows, max_chars)

    def on_file(run_id, path, column, memory_value, fast, request: gr.Request, progress=gr.Progress()):
        if path and not column:
            return gr.skip(), gr.skip(), gr.skip()  # the picker explains what is missing
        return predict_tab.predict_file(objects(request), runs_dir, run_id, path, column, progress, private,
                                        memory_value, max_bytes, max_rows, max_chars, fast=bool(fast))

    # One run per file at a time: an upload with the column found predicts at once and keeps the
    # button unavailable until it ends; a click makes it unavailable first. One progress bar, on
    # the result, advancing with the rows done.
    run_file = dict(fn=on_file, inputs=[predict.picker, predict.upload, predict.file_column, memory, predict.fast],
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


def wire_runs(runs: RunsTab, page: gr.Tab, train: TrainTab, settings: AppSettings, jobs: JobManager,
              memory: gr.BrowserState, objects: Objects, *, data: DataTab | None = None,
              hp: HyperparamsTab | None = None, form: ConfigForm | None = None) -> None:
    runs_dir, private, limits = Path(settings.runs_dir), settings.private_runs, settings.limits
    refresh = partial(runs_tab.refresh, runs_dir, private, jobs=jobs)
    picks = runs.compare.picks
    compare_choices = dict(fn=partial(runs_compare.choices, runs_dir, private), inputs=[memory, picks],
                           outputs=picks, show_progress="hidden")
    page.select(refresh, [memory, runs.picker], [runs.table, runs.picker], show_progress="hidden").then(
        **compare_choices)
    runs.refresh.click(refresh, [memory, runs.picker], [runs.table, runs.picker], show_progress="hidden",
                       api_name="refresh_runs").then(**compare_choices)
    # A click anywhere in a row opens its run: the row's last cell is the run's id, the picker's value.
    def on_row(evt: gr.SelectData):
        return runs_tab.run_of_row(evt.row_value)

    runs.table.select(on_row, None, runs.picker, show_progress="hidden")

    def on_open(memory_value, run_id, request: gr.Request):
        return runs_tab.open_run(runs_dir, private, objects(request).downloads_dir, memory_value, run_id, jobs)

    def on_publish_view(memory_value, run_id, profile: gr.OAuthProfile | None):
        return runs_publish.view(runs_dir, private, limits is not None, memory_value, run_id, profile is not None)

    publish = runs.publish
    runs.picker.change(on_open, [memory, runs.picker], runs.detail_outputs).then(
        on_publish_view, [memory, runs.picker], [publish.group, publish.repo, publish.result], show_progress="hidden")
    runs.delete.click(runs_tab.ask_delete, runs.picker, [runs.confirm, runs.problem])
    runs.confirm.click(partial(runs_tab.delete, runs_dir, private), [memory, runs.picker],
                       [runs.problem, runs.confirm, runs.detail, memory]).then(
        refresh, [memory, runs.picker], [runs.table, runs.picker]).then(**compare_choices)
    runs.stop.click(partial(runs_tab.stop_run, jobs), [memory, runs.picker], [runs.problem, runs.stop]).then(
        refresh, [memory, runs.picker], [runs.table, runs.picker])

    def on_resume(memory_value, run_id, request: gr.Request):
        return runs_tab.resume(jobs, runs_dir, private, memory_value, run_id,
                               train_tab.request_address(request, limits))

    on_tick = tick_handler(jobs, objects, limits)
    # The resumed run is followed on the Train tab like a new one: its timer starts ticking.
    runs.resume.click(on_resume, [memory, runs.picker], [runs.problem, runs.resume, memory, train.followed]).then(
        on_tick, [train.followed, memory], [*train.view, *train.gate], show_progress="hidden").then(
        refresh, [memory, runs.picker], [runs.table, runs.picker])

    section = runs.compare
    show = dict(fn=partial(runs_compare.show, runs_dir, private), inputs=[memory, picks, section.only_differences],
                outputs=section.outputs, show_progress_on=section.loss_chart)
    section.button.click(**show)
    section.only_differences.input(**show)

    # The token is the signed-in visitor's own; without one, push_run reads the environment's (a
    # personal install), and a hosted deployment refuses (its server's token is not the visitor's).
    def on_publish(memory_value, run_id, repo, private_repo, token: gr.OAuthToken | None):
        return runs_publish.publish(runs_dir, private, limits is not None, memory_value, run_id, repo, private_repo,
                                    token.token if token is not None else None)

    publish.button.click(on_publish, [memory, runs.picker, publish.repo, publish.private], publish.result,
                         show_progress_on=publish.result)
    if data is not None and hp is not None and form is not None:
        wire_train_again(runs, data, hp, form, settings, memory)


def wire_train_again(runs: RunsTab, data: DataTab, hp: HyperparamsTab, form: ConfigForm,
                     settings: AppSettings, memory: gr.BrowserState) -> None:
    """Train again: the form filled from the opened run (as an uploaded config.json would fill it),
    the learning-rate box after the slider, then the Data tab prepared for the new columns or task."""
    runs_dir, private, limits = Path(settings.runs_dir), settings.private_runs, settings.limits

    def on_again(memory_value, run_id, loaded, *values):
        if not runs_tab.may_see(runs_dir, private, memory_value, run_id):
            untouched = [gr.skip()] * (len(form.controls) + 2 + len(hp.presets))
            return untouched + [render.problem("Pick one of your runs first; press Refresh if it is gone.")]
        return train_again.fill_from_run(form, runs_dir / run_id, loaded, values, limits)

    runs.train_again.click(on_again, [memory, runs.picker, data.loaded, *form.inputs],
                           [*form.inputs, hp.problem, hp.selected_preset, *hp.presets, runs.problem]).then(
        from_log, form.control("learning_rate").component, hp.learning_rate_box, show_progress="hidden").then(
        partial(data_tab.prepare, form), [data.loaded, *form.inputs], data_tab.prepare_outputs(data),
        show_progress="hidden")
