"""Step 3, Hyperparameters: controls generated from TrainConfig, the schedule, cost, command (presets: presets.py)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import gradio as gr

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.ui import charts, render
from bertstudio.ui.form import FieldControl, from_log, log_value, make_control, metric_choices, metric_control
from bertstudio.ui.presets import DEFAULT_PRESET, PRESET_NAMES, leave_preset, preset_help, preset_values
from bertstudio.ui.task_views import get_view

if TYPE_CHECKING:
    from bertstudio.data.dataset import PreparedData
    from bertstudio.hosting import HostingSettings
    from bertstudio.ui.data_tab import LoadedData
    from bertstudio.ui.form import ConfigForm

# Fields this tab owns, by group, in the order they appear. The data, model, max length and
# truncation fields belong to the Data and Tokenizer tabs; the runs folder is the app's setting.
GROUPS = (
    ("Optimization", ("learning_rate", "batch_size", "gradient_accumulation_steps", "weight_decay",
                      "max_grad_norm", "precision", "embedding_updates", "weight_rare_labels")),
    ("Schedule", ("epochs", "max_steps", "warmup_ratio", "scheduler", "seed")),
    ("Adapt the model to your texts (continued pretraining)", ("adapt_epochs", "mlm_probability",
                                                                "whole_word_masking")),
    ("Evaluation and early stopping", ("eval_strategy", "eval_steps", "metric_for_best",
                                       "early_stopping_patience", "keep_best")),
    ("Run", ("run_name", "logging_steps", "report_to")),
)

@dataclass
class HyperparamsTab:
    presets: list[gr.Button]
    preset_help: gr.Markdown
    selected_preset: gr.State  # the preset the form still equals, or None once a setting is edited
    controls: list[FieldControl]
    learning_rate_box: gr.Number  # the learning rate typed exactly; the log slider is the form's control
    learning_rate_problem: gr.HTML
    max_length_mirror: gr.Slider
    schedule_chart: gr.Plot
    cost: gr.Markdown
    show_command: gr.Button
    command: gr.Code
    accelerate_command: gr.Code
    config_file: gr.File
    config_upload: gr.File
    problem: gr.HTML


CONFIG_FILE_MAX_BYTES = 1_000_000  # a config.json is a few KB; anything far bigger is not one


def build(max_epochs: int | None = None, model: str | None = None) -> HyperparamsTab:
    """`max_epochs` (a shared deployment's limit) caps the Epochs slider. The form starts with the
    default preset for `model` (the Tokenizer tab's first model), the preset shown as selected."""
    gr.Markdown("Every setting has a short explanation. Start from a preset; the chart shows the "
                "learning rate these settings produce over the whole run.", elem_classes="tab-intro")
    with gr.Row():
        presets = [gr.Button(name, size="md", elem_id=f"preset-{name.lower().replace(' ', '-')}",
                             variant="primary" if name == DEFAULT_PRESET else "secondary")
                   for name in PRESET_NAMES]
    preset_text = gr.Markdown(preset_help(model, max_epochs=max_epochs), elem_classes="preset-help",
                              elem_id="hp-preset-help")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            controls, box, box_problem, max_length_mirror = _setting_controls(
                preset_values(DEFAULT_PRESET, model, max_epochs=max_epochs), max_epochs)
        with gr.Column(scale=2, min_width=320):
            schedule_chart = gr.Plot(charts.schedule_figure([], []), show_label=False, elem_id="hp-schedule")
            cost = gr.Markdown("Load a dataset on the Data tab to count the steps.", elem_id="hp-cost")
            problem = gr.HTML(elem_id="hp-problem")
            show_command = gr.Button("Show as command", elem_id="hp-show-command", size="md")
            command = gr.Code(label="Command line", language="shell", interactive=False, visible=False,
                              elem_id="hp-command", lines=2, wrap_lines=True, show_line_numbers=False,
                              buttons=["copy"])
            accelerate_command = gr.Code(label="With Accelerate (several GPUs)", language="shell",
                                         interactive=False, visible=False, lines=2, wrap_lines=True,
                                         show_line_numbers=False, buttons=["copy"])
            config_file = gr.File(label="config.json", visible=False, interactive=False, elem_id="hp-config-file")
            config_upload = gr.File(label="Load settings from a config.json", file_types=[".json"],
                                    elem_id="hp-config-upload", height=110)
    return HyperparamsTab(presets=presets, preset_help=preset_text, selected_preset=gr.State(DEFAULT_PRESET),
                          controls=controls, learning_rate_box=box, learning_rate_problem=box_problem,
                          max_length_mirror=max_length_mirror, schedule_chart=schedule_chart, cost=cost,
                          show_command=show_command, command=command, accelerate_command=accelerate_command,
                          config_file=config_file, config_upload=config_upload, problem=problem)


# Settings whose control depends on the task: the metrics it measures, an option of one task only.
TASK_SETTINGS = {
    "metric_for_best": lambda value: metric_control(value=value),
    "weight_rare_labels": lambda value: make_control(
        "weight_rare_labels", value=value, visible=False,
        info="Several labels per row only: a label few rows carry counts more in the loss, so the "
             "model does not learn to never predict it. Try it when the rare labels' F1 stays at 0."),
}


def _setting_controls(initial: dict[str, Any], max_epochs: int | None
                      ) -> tuple[list[FieldControl], gr.Number, gr.HTML, gr.Slider]:
    """The settings by group, starting at `initial` where it names them; the learning rate gets a
    box to type it beside its log slider."""
    controls: list[FieldControl] = []
    for title, names in GROUPS:
        with gr.Accordion(title, open=title in ("Optimization", "Schedule")):
            for name in names:
                if name in TASK_SETTINGS:
                    controls.append(TASK_SETTINGS[name](initial.get(name)))
                    continue
                if name != "learning_rate":
                    controls.append(make_control(name, value=initial.get(name)))
                    continue
                with gr.Row(equal_height=False, elem_id="hp-learning-rate-row"):
                    controls.append(make_control(name, value=initial.get(name), scale=3))
                    box = gr.Number(initial.get(name, TrainConfig().learning_rate), label="Type it",
                                    info="e.g. 3e-5 or 0.0005", step=1e-6, scale=1, min_width=140,
                                    elem_id="hp-learning-rate-box")
                box_problem = gr.HTML(elem_id="hp-learning-rate-problem")
            if max_epochs is not None and "epochs" in names:
                # Set before the page's config is made, so the browser gets the capped range.
                next(c for c in controls if c.name == "epochs").component.maximum = max_epochs
            if title == "Schedule":
                meta = next(f for f in fields(TrainConfig) if f.name == "max_length").metadata
                max_length_mirror = gr.Slider(meta["min"], meta["max"], value=TrainConfig().max_length,
                                              step=meta["step"], label=meta["label"],
                                              info=meta["help"] + " (Same slider as on the Tokenizer tab.)",
                                              elem_id="hp-max-length")
    return controls, box, box_problem, max_length_mirror


def _lr_note(value: float) -> str:
    """The learning rate in plain numbers. It lives in the summary, not beside its slider: a note
    redrawn next to the slider made gradio fire the slider's change event again, once a second,
    re-running this summary for as long as the page stayed open."""
    meta = next(f for f in fields(TrainConfig) if f.name == "learning_rate").metadata
    return (f"**Learning rate:** {value:.1e} at its peak (the log-scale slider runs from {meta['min']:.0e} "
            f"to {meta['max']:.0e}).")


# --- handlers ------------------------------------------------------------------------------------

def typed_learning_rate(typed: float | None, slider_value: float) -> list[Any]:
    """The learning rate typed into its box, checked against TrainConfig's range and rounded as the
    slider keeps it (two significant digits). Outputs: the slider, the box, the box's problem, the
    selected preset, then the preset buttons; nothing moves when the value is refused or unchanged."""
    try:
        if typed is None:
            raise StudioError("Type a learning rate, such as 3e-5.")
        TrainConfig(learning_rate=float(typed)).validate()
    except StudioError as exc:
        return [gr.skip(), gr.skip(), render.problem(exc.message)] + [gr.skip()] * (1 + len(PRESET_NAMES))
    rate = from_log(log_value(float(typed)))
    if rate == from_log(slider_value):
        return [gr.skip(), rate, ""] + [gr.skip()] * (1 + len(PRESET_NAMES))
    return [log_value(rate), rate, "", *leave_preset()]


def follow_task(prepared: "PreparedData | None", chosen: str | None, metric: str | None) -> list[Any]:
    """The settings that follow the task in force (found in the data, else the one chosen):
    "Metric to watch" offers that task's metrics, keeping the one watched if the task measures
    it (else its headline, "auto"), and "Weight rare labels" shows for several labels per row
    only. Outputs: the metric, the rare-labels option. Nothing moves while no task is known."""
    task = getattr(prepared, "task", None) if prepared is not None else None
    task = getattr(task, "name", task) or (chosen if chosen not in (None, "auto") else None)
    if task is None:
        return [gr.skip(), gr.skip()]
    offered = metric_choices(task)
    keep = metric if metric in {value for _, value in offered} else "auto"
    return [gr.update(choices=offered, value=keep), gr.update(visible=get_view(task).label_sets)]


def summarize(form: "ConfigForm", loaded: "LoadedData | None", prepared: "PreparedData | None",
              mean_tokens: float | None, model_folder: str | None, *values: Any) -> tuple[Any, str, str]:
    """The schedule chart, the step count with a rough time (and GPU memory) estimate, and any problem.
    `mean_tokens` is the dataset's mean token length when the Tokenizer tab has measured it."""
    from bertstudio.ui import estimate

    try:
        config = form.build_config(loaded.path if loaded else None,
                                   loaded.validation_path if loaded else None, values)
    except StudioError as exc:
        return gr.skip(), gr.skip(), render.problem(exc.message)
    if prepared is None:
        return (charts.schedule_figure([], []), _lr_note(config.learning_rate) + "\n\n"
                "Load a dataset on the Data tab to count the steps and estimate the time.", "")
    train_rows, validation_rows = prepared.report.train_size, prepared.report.validation_size
    count = estimate.count_steps(config, train_rows)
    steps, rates = estimate.schedule_points(config, count.total_steps)
    gpu = _gpu_available()
    size = estimate.model_size(config.model, model_folder)
    parameters = size.total
    cores, load = os.cpu_count() or 1, 0.0 if gpu else estimate.busy_cores()
    seconds = estimate.estimate_seconds(size.compute, train_rows,
                                        validation_rows, config.epochs,
                                        tokens_per_row=min(config.max_length, mean_tokens or config.max_length / 2),
                                        cpu_cores=cores, gpu=gpu,
                                        precision=_resolved_precision(config.precision), cpu_load=load)
    lines = [f"**{count.total_steps:,} optimizer steps**: {count.steps_per_epoch:,} per epoch × {config.epochs} "
             f"epoch{'s' if config.epochs != 1 else ''}, {count.warmup_steps:,} of them warmup; "
             f"{train_rows:,} training rows, effective batch {config.batch_size * config.gradient_accumulation_steps}.",
             _time_guess(seconds, gpu, cores, load, parameters),
             _lr_note(config.learning_rate)]
    if gpu:
        memory = estimate.estimate_gpu_memory_gb(parameters, config.batch_size, config.max_length)
        lines.append(f"**GPU memory:** about {memory:.1f} GB.")
    return (charts.schedule_figure(rates, count.warmup_steps, steps=steps), "\n\n".join(lines), "")


def _resolved_precision(requested: str) -> str:
    from bertstudio.training.trainer import resolve_precision

    try:
        return resolve_precision(requested)
    except StudioError:  # a precision this machine cannot run; training will say so plainly
        return "no"


def _gpu_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _time_guess(seconds: float, gpu: bool, cores: int, load: float, parameters: float) -> str:
    """The time a run may take, said to be a guess: it is counted from the model's size and a
    benchmark's speed, and the machine can be slower than that (other programs, other runs)."""
    where = "this machine's GPU" if gpu else f"this machine's {cores} CPU core{'s' if cores != 1 else ''}"
    if not gpu and load >= 0.5:
        where += f", which other programs keep busy (load {load:.1f})"
    return (f"**Rough guess of the time:** {_duration_words(seconds)} on {where}, for a model of about "
            f"{_millions(parameters)} parameters. It is only a guess; once training runs, the Train tab "
            "shows the time left measured from its own steps.")


def _millions(parameters: float) -> str:
    return f"{parameters / 1e6:.0f}M" if parameters >= 10e6 else f"{parameters / 1e6:.1f}M"


def _duration_words(seconds: float) -> str:
    if seconds < 90:
        return "about a minute" if seconds > 40 else "under a minute"
    if seconds < 3600:
        return f"about {round(seconds / 60)} minutes"
    return f"about {seconds / 3600:.1f} hours"


def show_command(form: "ConfigForm", downloads: Any, loaded: "LoadedData | None",
                 *values: Any) -> tuple[Any, Any, Any, str]:
    """Outputs: command, accelerate command, config.json file, problem."""
    from bertstudio.ui.command import command_lines

    try:
        if loaded is None:
            raise StudioError("Load a dataset on the Data tab first; the command needs its file.")
        config = form.build_config(loaded.path, loaded.validation_path, values)
    except StudioError as exc:
        return gr.skip(), gr.skip(), gr.skip(), render.problem(exc.message)
    plain, accelerate = command_lines(config)
    path = downloads() / "config.json"
    path.write_text(config.to_json(), encoding="utf-8")
    return (gr.update(value=plain, visible=True), gr.update(value=accelerate, visible=True),
            gr.update(value=str(path), visible=True), "")


def load_config_file(form: "ConfigForm", loaded: "LoadedData | None", path: str | None,
                     hosting: "HostingSettings | None" = None) -> list[Any]:
    """Fill the form from an uploaded config.json; outputs: every form control, then the problem box.
    Anything that is not a config (wrong types, unknown keys, binary, huge or absurdly nested
    JSON, settings past a shared demo's limits) is refused with one sentence and changes nothing."""
    untouched = [gr.skip()] * len(form.controls)
    if not path:
        return untouched + [""]
    try:
        with open(path, "rb") as handle:
            raw = handle.read(CONFIG_FILE_MAX_BYTES + 1)
        if len(raw) > CONFIG_FILE_MAX_BYTES:
            raise StudioError("That file is far too big for a config.json; choose the config.json from a "
                              "run folder or from this tab.")
        config = TrainConfig.from_json(raw.decode("utf-8"))
        # A file without a model keeps the one picked (its default may not be offered here).
        names_model = "model" in json.loads(raw)
        if hosting is not None:
            hosting.check_config(config if names_model else config.replace(model=hosting.models[0]))
    except UnicodeDecodeError:
        return untouched + [render.problem(
            "That file is not a text JSON file; choose a config.json from a run folder or this tab.")]
    except StudioError as exc:
        return untouched + [render.problem(exc.message)]
    updates = form.updates_for(config, table=loaded.table if loaded else None)
    if not names_model:
        updates[form.controls.index(form.control("model"))] = gr.skip()
    return updates + [""]


def load_settings(form: "ConfigForm", loaded: "LoadedData | None", path: str | None,
                  hosting: "HostingSettings | None" = None) -> list[Any]:
    """`load_config_file`, and a form filled from a file no longer equals a preset. Outputs: every
    form control, the problem box, the selected preset, then the preset buttons."""
    *updates, problem = load_config_file(form, loaded, path, hosting)
    filled = any(update != gr.skip() for update in updates)
    return [*updates, problem] + (leave_preset() if filled else [gr.skip()] * (1 + len(PRESET_NAMES)))
