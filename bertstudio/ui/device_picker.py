"""The Train tab's "Train on": each GPU with its memory in use and free, all of them together, or the
CPU, and the memory the run needs there against what is free, before Start.

The devices are listed when the page loads and on "Refresh" (`bertstudio.devices`, which never
opens a CUDA context in the server); the estimate follows every change of the settings with the
Train tab's plan (`bertstudio.memory_need`). On a shared deployment the host decides the device,
so the choice is hidden there and the estimate alone is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

import gradio as gr

from bertstudio.errors import StudioError

if TYPE_CHECKING:
    from bertstudio.config import TrainConfig
    from bertstudio.devices import Cpu, Gpu
    from bertstudio.ui.form import ConfigForm

CPU, ALL_GPUS, GPU_PREFIX = "cpu", "all-gpus", "gpu:"
GB = 1000 ** 3  # as nvidia-smi and a system monitor show sizes to a person: decimal gigabytes


@dataclass
class DeviceListing:
    """What "Refresh" found: the GPUs this studio may use, and the CPU with its RAM."""

    gpus: list["Gpu"] = field(default_factory=list)
    cpu: "Cpu | None" = None


@dataclass
class DevicePicker:
    choice: gr.Radio
    refresh: gr.Button
    need: gr.HTML
    listing: gr.State


def build(choosable: bool) -> DevicePicker:
    """The picker; `choosable=False` (hosted, or runs trained in the server's own thread) shows
    the memory estimate only."""
    with gr.Row(equal_height=False, elem_id="train-devices"):
        # No value until the page has listed the devices: the listing then picks the first GPU.
        choice = gr.Radio([("CPU", CPU)], value=None, label="Train on", scale=4, visible=choosable,
                          info="Memory free now; a run takes what it needs when it starts.",
                          elem_id="train-device")
        refresh = gr.Button("Refresh", size="sm", variant="secondary", scale=0, min_width=100,
                            visible=choosable, elem_id="train-device-refresh")
    need = gr.HTML(elem_id="train-memory")
    return DevicePicker(choice=choice, refresh=refresh, need=need, listing=gr.State(None))


# --- listing ----------------------------------------------------------------------------------------

def list_now() -> DeviceListing:
    from bertstudio.devices import describe_cpu, list_devices

    return DeviceListing(gpus=list_devices(), cpu=describe_cpu())


def choices(listing: DeviceListing) -> list[tuple[str, str]]:
    """The Radio's (label, value) pairs: each GPU, all of them when there are several, the CPU."""
    options = [(f"GPU {gpu.index} · {gpu.name} · {_gb(gpu.free_bytes)} free of {_gb(gpu.total_bytes)}",
                f"{GPU_PREFIX}{gpu.index}") for gpu in listing.gpus]
    if len(listing.gpus) > 1:
        free = min(gpu.free_bytes for gpu in listing.gpus)
        options.append((f"All {len(listing.gpus)} GPUs together (one process each; {_gb(free)} free on the "
                        "fullest)", ALL_GPUS))
    cpu = listing.cpu
    label = "CPU" if cpu is None else (f"CPU · {cpu.cores} core{'s' if cpu.cores != 1 else ''} · "
                                       f"{_gb(cpu.free_bytes)} of {_gb(cpu.total_bytes)} RAM free")
    return options + [(label, CPU)]


def refreshed(current: str | None) -> tuple[DeviceListing, Any]:
    """Outputs of Refresh (and the page load): the listing, and the Radio with its choices, keeping
    the current choice where it is still there, else the first GPU, else the CPU."""
    listing = list_now()
    options = choices(listing)
    values = [value for _, value in options]
    value = current if current in values else values[0]
    return listing, gr.update(choices=options, value=value)


def chosen(value: str | None, listing: DeviceListing | None) -> tuple[list["Gpu"], bool]:
    """(the GPUs to train on, CPU only) for a Radio value; a GPU no longer listed is refused in words."""
    gpus = listing.gpus if listing is not None else []
    if not value or value == CPU:
        return [], bool(gpus)  # only where there are GPUs does "the CPU" need saying to the child
    if value == ALL_GPUS:
        return list(gpus), False
    index = value.removeprefix(GPU_PREFIX)
    picked = [gpu for gpu in gpus if str(gpu.index) == index]
    if not picked:
        raise StudioError(f"GPU {index} is not listed any more; press Refresh beside 'Train on' and pick again.")
    return picked, False


def launch_arguments(value: str | None, listing: DeviceListing | None) -> dict[str, Any]:
    """What `JobManager.submit` takes for the choice: gpus, or cpu_only; nothing for the default."""
    gpus, cpu_only = chosen(value, listing)
    if gpus:
        return {"gpus": tuple(gpu.index for gpu in gpus)}
    return {"cpu_only": True} if cpu_only else {}


# --- the estimate -------------------------------------------------------------------------------------

VERDICT_CLASSES = {"fits": "memory-fits", "tight": "memory-tight", "does not fit": "memory-short"}


def need_html(config: "TrainConfig", value: str | None, listing: DeviceListing | None) -> str:
    """One paragraph: the memory the run needs on each chosen device, by what holds it, and whether
    that fits what is free there now."""
    from bertstudio.memory_need import judge, model_shape

    try:
        gpus, _ = chosen(value, listing)
    except StudioError as exc:
        return f'<p class="memory-need memory-short">{escape(exc.message)}</p>'
    shape = model_shape(config.model)
    cpu = listing.cpu if listing is not None else None
    if gpus:
        free = min(gpu.free_bytes for gpu in gpus)
        where = (f"on each of the {len(gpus)} GPUs" if len(gpus) > 1 else f"on GPU {gpus[0].index}")
        need, verdict = judge(config, shape, free, gpu=True, gpus=len(gpus))
    elif cpu is not None:
        free, where = cpu.free_bytes, "in the CPU's RAM"
        need, verdict = judge(config, shape, free, gpu=False)
    else:
        return ""
    parts = (f"weights {_size(need.weights)}, gradients {_size(need.gradients)}, optimizer "
             f"{_size(need.optimizer)}, activations {_size(need.activations)} at {need.batch_size} rows × "
             f"{need.max_length} tokens{' in 16 bits' if need.sixteen_bit and gpus else ''}, the runtime itself {_size(need.runtime)}")
    assumed = " (this model's shape was not found here; BERT-base's is assumed)" if shape.assumed else ""
    advice = f" {escape(verdict.advice, quote=False)}" if verdict.advice else ""
    return (f'<p class="memory-need {VERDICT_CLASSES[verdict.word]}"><strong>Memory:</strong> this run needs about '
            f"<strong>{_size(need.total)}</strong> {where}{assumed}: {escape(parts, quote=False)}. "
            f"{_size(free)} is free there: <strong>{escape(verdict.word)}</strong>.{advice}</p>")


def need_for_form(form: "ConfigForm", loaded: Any, value: str | None, listing: DeviceListing | None,
                  values: Any) -> str:
    """The estimate for the form as it stands; empty while its settings cannot make a config."""
    try:
        config = form.build_config(getattr(loaded, "path", None), getattr(loaded, "validation_path", None), values)
    except StudioError:
        return ""
    return need_html(config, value, listing)


def _gb(count: int) -> str:
    return f"{count / GB:,.1f} GB"


def _size(count: float) -> str:
    return f"{count / GB:,.1f} GB" if count >= 0.95 * GB else f"{count / 1000 ** 2:,.0f} MB"


# --- wiring --------------------------------------------------------------------------------------------

def wire(picker: DevicePicker, reload: Any, loaded: Any, form: "ConfigForm") -> None:
    """List the devices once the page has loaded (`reload`) and on Refresh, and redo the estimate
    when the choice moves. The settings' own changes redo it with the Train tab's plan (wiring.py)."""
    def on_need(loaded_value, value, listing, *values):
        return need_for_form(form, loaded_value, value, listing, values)

    need = dict(fn=on_need, inputs=[loaded, picker.choice, picker.listing, *form.inputs], outputs=picker.need,
                show_progress="hidden")
    relist = dict(fn=refreshed, inputs=picker.choice, outputs=[picker.listing, picker.choice])
    reload.then(show_progress="hidden", **relist).then(**need)
    picker.refresh.click(show_progress_on=picker.need, **relist).then(**need)
    # `.input`: a person's choice; Refresh's own setting of the value is followed by `.then` above.
    picker.choice.input(trigger_mode="always_last", **need)
