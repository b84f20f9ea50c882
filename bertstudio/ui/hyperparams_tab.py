"""Step 3, Hyperparameters: controls generated from TrainConfig, presets, the schedule, cost, command."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import gradio as gr

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.ui import charts, render
from bertstudio.ui.form import FieldControl, make_control

if TYPE_CHECKING:
    from bertstudio.dataset import PreparedData
    from bertstudio.hosting import HostingSettings
    from bertstudio.ui.data_tab import LoadedData
    from bertstudio.ui.form import ConfigForm

# Fields this tab owns, by group, in the order they appear. The data, model, max length and
# truncation fields belong to the Data and Tokenizer tabs; the runs folder is the app's setting.
GROUPS = (
    ("Optimization", ("learning_rate", "batch_size", "gradient_accumulation_steps", "weight_decay",
                      "max_grad_norm", "precision")),
    ("Schedule", ("epochs", "warmup_ratio", "scheduler", "seed")),
    ("Evaluation and early stopping", ("eval_strategy", "eval_steps", "metric_for_best",
                                       "early_stopping_patience", "keep_best")),
    ("Run", ("run_name", "logging_steps")),
)

# Presets change only the settings they name; everything else stays as the user left it.
PRESETS: dict[str, dict[str, Any]] = {
    "Quick try": dict(epochs=1, learning_rate=5e-5, batch_size=16, warmup_ratio=0.1, scheduler="linear",
                      eval_strategy="epoch", early_stopping_patience=0, gradient_accumulation_steps=1),
    "Recommended": dict(epochs=3, learning_rate=3e-5, batch_size=32, warmup_ratio=0.1, weight_decay=0.01,
                        scheduler="linear", eval_strategy="epoch", early_stopping_patience=0,
                        gradient_accumulation_steps=1, keep_best=True),
    "Small dataset": dict(epochs=8, learning_rate=3e-5, batch_size=16, warmup_ratio=0.1, weight_decay=0.01,
                          scheduler="linear", eval_strategy="epoch", early_stopping_patience=2,
                          metric_for_best="macro_f1", keep_best=True, gradient_accumulation_steps=1),
}
PRESET_HELP = {
    "Quick try": "one epoch, to check that everything works",
    "Recommended": "BERT paper's settings: 3 epochs, learning rate 3e-5",
    "Small dataset": "a few hundred rows: more epochs, smaller batches, stop when it stops improving",
}


@dataclass
class HyperparamsTab:
    presets: list[gr.Button]
    controls: list[FieldControl]
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


def build(max_epochs: int | None = None) -> HyperparamsTab:
    """`max_epochs` (a shared deployment's limit) caps the Epochs slider."""
    gr.Markdown("Every setting has a short explanation. Start from a preset; the chart shows the "
                "learning rate these settings produce over the whole run.", elem_classes="tab-intro")
    with gr.Row():
        presets = [gr.Button(name, size="md", elem_id=f"preset-{name.lower().replace(' ', '-')}",
                             variant="primary" if name == "Recommended" else "secondary")
                   for name in PRESETS]
    gr.Markdown(" · ".join(f"**{name}**: {text}" for name, text in PRESET_HELP.items()),
                elem_classes="preset-help")
    controls: list[FieldControl] = []
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            for title, names in GROUPS:
                with gr.Accordion(title, open=title in ("Optimization", "Schedule")):
                    for name in names:
                        controls.append(make_control(name))
                        if name == "epochs" and max_epochs is not None:
                            # Set before the page's config is made, so the browser gets the capped range.
                            controls[-1].component.maximum = max_epochs
                    if title == "Schedule":
                        meta = next(f for f in fields(TrainConfig) if f.name == "max_length").metadata
                        max_length_mirror = gr.Slider(meta["min"], meta["max"], value=TrainConfig().max_length,
                                                      step=meta["step"], label=meta["label"],
                                                      info=meta["help"] + " (Same slider as on the Tokenizer tab.)",
                                                      elem_id="hp-max-length")
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
    return HyperparamsTab(presets=presets, controls=controls,
                          max_length_mirror=max_length_mirror, schedule_chart=schedule_chart, cost=cost,
                          show_command=show_command, command=command, accelerate_command=accelerate_command,
                          config_file=config_file, config_upload=config_upload, problem=problem)


def _lr_note(value: float) -> str:
    """The learning rate in plain numbers. It lives in the summary, not beside its slider: a note
    redrawn next to the slider made gradio fire the slider's change event again, once a second,
    re-running this summary for as long as the page stayed open."""
    meta = next(f for f in fields(TrainConfig) if f.name == "learning_rate").metadata
    return (f"**Learning rate:** {value:.1e} at its peak (the log-scale slider runs from {meta['min']:.0e} "
            f"to {meta['max']:.0e}).")


# --- handlers ------------------------------------------------------------------------------------

def apply_preset(form: "ConfigForm", name: str, max_epochs: int | None = None) -> list[Any]:
    """Widget values for the preset's settings (epochs within `max_epochs`); the other controls are
    left untouched."""
    preset = dict(PRESETS[name])
    if max_epochs is not None:
        preset["epochs"] = min(preset["epochs"], max_epochs)
    return form.updates_for(TrainConfig().replace(**preset), names=set(preset))


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
    seconds = estimate.estimate_seconds(size.compute, train_rows,
                                        validation_rows, config.epochs,
                                        tokens_per_row=min(config.max_length, mean_tokens or config.max_length / 2),
                                        cpu_cores=os.cpu_count() or 1, gpu=gpu,
                                        precision=_resolved_precision(config.precision))
    lines = [f"**{count.total_steps:,} optimizer steps**: {count.steps_per_epoch:,} per epoch × {config.epochs} "
             f"epoch{'s' if config.epochs != 1 else ''}, {count.warmup_steps:,} of them warmup; "
             f"{train_rows:,} training rows, effective batch {config.batch_size * config.gradient_accumulation_steps}.",
             f"**Rough time:** {_duration_words(seconds)} on this machine's {'GPU' if gpu else 'CPU'} "
             f"(a model of about {parameters / 1e6:.0f}M parameters).",
             _lr_note(config.learning_rate)]
    if gpu:
        memory = estimate.estimate_gpu_memory_gb(parameters, config.batch_size, config.max_length)
        lines.append(f"**GPU memory:** about {memory:.1f} GB.")
    return (charts.schedule_figure(rates, count.warmup_steps, steps=steps), "\n\n".join(lines), "")


def _resolved_precision(requested: str) -> str:
    from bertstudio.trainer import resolve_precision

    try:
        return resolve_precision(requested)
    except StudioError:  # a precision this machine cannot run; training will say so plainly
        return "no"


def _gpu_available() -> bool:
    import torch

    return torch.cuda.is_available()


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
