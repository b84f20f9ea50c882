"""Form controls generated from TrainConfig's field metadata, and the one function that reads them back.

Each tab makes the controls for its own fields with `make_control`; the app joins them into one
`ConfigForm`, whose `build_config` is the only place the UI turns widget values into a TrainConfig.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Callable, Sequence

import gradio as gr

from bertstudio.config import TrainConfig, base_type
from bertstudio.errors import StudioError
from bertstudio.tasks.yes_no import yes_no_columns
from bertstudio.ui.task_views import DEFAULT_TASK, all_views

if TYPE_CHECKING:
    from bertstudio.data.tabular import Table

NO_COLUMN = "(none)"
ALL_ROWS = "all"
ROW_LIMITS = (ALL_ROWS, "200", "500", "1000", "2000", "5000", "10000", "20000", "50000", "100000")
SLIDER_MAX_POSITIONS = 1000  # wider ranges (seed, eval steps) get a number box instead of a slider
LOG_STEP = 0.01


def _spec(name: str):
    for spec in fields(TrainConfig):
        if spec.name == name:
            return spec
    raise KeyError(name)


def _identity(value: Any) -> Any:
    return value


@dataclass(eq=False)
class FieldControl:
    """One TrainConfig field and the component that edits it, with the conversions both ways."""

    name: str
    component: gr.components.Component
    read: Callable[[Any], Any] = _identity   # widget value -> config value
    show: Callable[[Any], Any] = _identity   # config value -> widget value


def make_control(name: str, value: Any = None, **overrides: Any) -> FieldControl:
    """The component for a field, chosen from its metadata: checkbox, radio, slider (log or linear),
    number box or text box, labelled and explained by the metadata's label and help. It starts at
    `value` (a config value) when given, else at the field's default."""
    spec = _spec(name)
    meta = spec.metadata
    kind = base_type(spec.type)
    default = spec.default if value is None else value
    common = dict(label=meta.get("label", name), info=meta.get("help"), elem_id=f"cfg-{name}")
    common.update(overrides)
    if kind is bool:
        return FieldControl(name, gr.Checkbox(value=default, **common))
    if "choices" in meta:
        # `choices` may name each value for people ((label, value) pairs); the values stay the config's.
        choices = common.pop("choices", None) or list(meta["choices"])
        return FieldControl(name, gr.Radio(choices=choices, value=default, **common))
    if meta.get("log"):
        low, high = math.log10(meta["min"]), math.log10(meta["max"])
        common["label"] = f"{common['label']} (log₁₀ scale)"
        return FieldControl(name, gr.Slider(low, high, value=log_value(default), step=LOG_STEP, **common),
                            read=from_log, show=log_value)
    if kind in (int, float) and "min" in meta:
        step = meta.get("step", 1 if kind is int else 0.01)
        to_number = int if kind is int else float
        if (meta["max"] - meta["min"]) / step > SLIDER_MAX_POSITIONS:
            if spec.default is None:
                # An optional number (empty: not set). The browser sends a cleared box as 0, which
                # gradio would refuse against the field's minimum before any handler ran, failing
                # every event the form feeds; so 0 is let through and means "not set" too.
                return FieldControl(name, gr.Number(value=default, minimum=0, maximum=meta["max"],
                                                    precision=0 if kind is int else None, **common),
                                    read=lambda v, f=to_number: f(v) if v else None)
            return FieldControl(name, gr.Number(value=default, minimum=meta["min"], maximum=meta["max"],
                                                precision=0 if kind is int else None, **common),
                                read=lambda v, f=to_number: None if v is None else f(v))
        return FieldControl(name, gr.Slider(meta["min"], meta["max"], value=default, step=step, **common),
                            read=lambda v, f=to_number: f(v))
    return FieldControl(name, gr.Textbox(value=default or "", **common),
                        read=lambda v: (v or "").strip() or None, show=lambda v: v or "")


def log_value(value: float) -> float:
    return round(math.log10(value), 4)


def from_log(value: float) -> float:
    """Slider position back to a learning rate, rounded to two significant digits (3e-05, not 3.02e-05)."""
    return float(f"{10 ** float(value):.2g}")


def column_control(name: str, optional: bool = False, **overrides: Any) -> FieldControl:
    """A column picker: a dropdown filled from the file's header (plus "(none)" when optional)."""
    meta = _spec(name).metadata
    settings = dict(label=meta.get("label", name), info=meta.get("help"), elem_id=f"cfg-{name}", interactive=True)
    settings.update(overrides)
    component = gr.Dropdown(choices=[NO_COLUMN] if optional else [], value=NO_COLUMN if optional else None,
                            **settings)
    return FieldControl(name, component, read=lambda v: None if v in (None, "", NO_COLUMN) else v,
                        show=lambda v: v or (NO_COLUMN if optional else None))


def row_limit_control(**overrides: Any) -> FieldControl:
    meta = _spec("max_rows").metadata
    component = gr.Dropdown(choices=[("All rows", ALL_ROWS)] + [(f"{int(v):,} rows", v) for v in ROW_LIMITS[1:]],
                            value=ALL_ROWS, label=meta["label"], info=meta["help"], elem_id="cfg-max_rows",
                            **overrides)
    return FieldControl("max_rows", component,
                        read=lambda v: None if v in (None, "", ALL_ROWS) else int(v),
                        show=lambda v: ALL_ROWS if v is None else str(v))


# --- the task's own controls (Data tab) --------------------------------------------------------

TASK_TITLES = {"auto": "Detect automatically", **{name: view.title for name, view in all_views().items()}}
SEPARATORS = ((",", "comma ,"), (";", "semicolon ;"), ("|", "bar |"))


def task_control(**overrides: Any) -> FieldControl:
    """The task switch: "Detect automatically" first, then each task by its plain name."""
    from bertstudio.tasks.base import TASK_CHOICES

    settings = dict(label="What each row's label is", info=None)
    settings.update(overrides)
    return make_control("task", choices=[(TASK_TITLES.get(name, name), name) for name in TASK_CHOICES],
                        **settings)


def sheet_control(**overrides: Any) -> FieldControl:
    """An Excel workbook's sheet, picked from its sheets; hidden for other files (and one sheet)."""
    settings = dict(label="Sheet", info="The workbook's sheet that holds the table.", elem_id="cfg-sheet",
                    visible=False, interactive=True)
    settings.update(overrides)
    component = gr.Dropdown(choices=[], value=None, **settings)
    return FieldControl("sheet", component, read=lambda v: v or None, show=lambda v: v or None)


def separator_control(**overrides: Any) -> FieldControl:
    """The character between tags in one cell; nothing chosen means "find it in the file". A value
    the radio does not offer (a config.json naming a tab) is shown as nothing chosen."""
    settings = dict(label="Labels in a cell are separated by",
                    info="The character between the labels in one cell; the one found in the file is "
                         "picked for you.", elem_id="cfg-label_separator", visible=False)
    settings.update(overrides)
    offered = {value for value, _ in SEPARATORS}
    component = gr.Radio(choices=[(words, value) for value, words in SEPARATORS], value=None, **settings)
    return FieldControl("label_separator", component, read=lambda v: v or None,
                        show=lambda v: v if v in offered else None)


def label_columns_control(**overrides: Any) -> FieldControl:
    """A pick of several yes/no columns, one per label, from the columns the file offers as such."""
    settings = dict(label="Or one yes/no column per label",
                    info="Pick the 0/1 columns that are labels (only columns holding 0/1, yes/no or "
                         "true/false are offered). Empty: the labels come from the label column.",
                    elem_id="cfg-label_columns", visible=False)
    settings.update(overrides)
    component = gr.Dropdown(choices=[], value=[], multiselect=True, interactive=True, **settings)
    return FieldControl("label_columns", component, read=read_label_columns, show=show_label_columns)


def read_label_columns(value: Any) -> str | None:
    """The picked columns as the config keeps them ("joy,anger"); a stored string reads the same."""
    names = value.split(",") if isinstance(value, str) else list(value or [])
    names = [str(name).strip() for name in names if str(name).strip()]
    return ",".join(names) or None


def show_label_columns(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def metric_choices(task: str | None) -> list[tuple[str, str]]:
    """"Metric to watch" for `task`: auto (its headline, named) then the task's own metrics; for
    no known task ("auto" before detection), every task's metrics, so any remembered one fits."""
    from bertstudio.config import METRIC_CHOICES
    from bertstudio.tasks.registry import get_task
    from bertstudio.tasks.wording import metric_name

    if task in (None, "auto"):
        return [(_metric_words(name), name) for name in METRIC_CHOICES]
    known = get_task(task)
    auto = f"auto: the task's main one ({metric_name(known.headline)})"
    return [(auto, "auto")] + [(_metric_words(name), name) for name in known.metrics]


def _metric_words(name: str) -> str:
    from bertstudio.tasks.metrics import LOWER_IS_BETTER
    from bertstudio.tasks.wording import metric_name

    if name == "auto":
        return "auto: the task's main one"
    return metric_name(name) + (" (lower is better)" if name in LOWER_IS_BETTER else "")


def metric_control(task: str | None = DEFAULT_TASK, **overrides: Any) -> FieldControl:
    """"Metric to watch" offering the task's own metrics (today's task until a file says otherwise)."""
    return make_control("metric_for_best", choices=metric_choices(task), **overrides)


def column_choices(table: "Table | None", optional: bool) -> list[str]:
    columns = list(table.columns) if table is not None else []
    return ([NO_COLUMN] if optional else []) + columns


@dataclass
class ConfigForm:
    """Every control that feeds the config, from all tabs, in one list; `inputs` is their order."""

    controls: list[FieldControl]
    output_dir: str
    _by_name: dict[str, FieldControl] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {control.name: control for control in self.controls}
        unknown = set(self._by_name) - {f.name for f in fields(TrainConfig)}
        if unknown:
            raise ValueError(f"controls for unknown config fields: {sorted(unknown)}")

    @property
    def inputs(self) -> list[gr.components.Component]:
        return [control.component for control in self.controls]

    def control(self, name: str) -> FieldControl:
        return self._by_name[name]

    def value_of(self, name: str, values: Sequence[Any]) -> Any:
        """One field's config value from a full list of widget values (for previews before a build)."""
        control = self._by_name[name]
        position = next(i for i, c in enumerate(self.controls) if c is control)
        return control.read(values[position])

    def with_values(self, values: Sequence[Any], **settings: Any) -> list[Any]:
        """`values` with the named fields' controls showing the given config values instead."""
        out = list(values)
        for name, value in settings.items():
            control = self._by_name[name]
            out[self.controls.index(control)] = control.show(value)
        return out

    def build_config(self, data_path: str | None, validation_path: str | None,
                     values: Sequence[Any]) -> TrainConfig:
        """THE place the UI makes a TrainConfig: widget values in `inputs` order, plus the loaded
        files and the app's runs folder; validated, so a bad value raises StudioError by name."""
        if len(values) != len(self.controls):
            raise ValueError(f"expected {len(self.controls)} form values, got {len(values)}")
        raw = TrainConfig().to_dict()
        for control, value in zip(self.controls, values):
            try:
                raw[control.name] = control.read(value)
            except (TypeError, ValueError) as exc:
                label = _spec(control.name).metadata.get("label", control.name)
                raise StudioError(f"'{label}' has an unreadable value ({value!r}); set it again.") from exc
        raw.update(data=data_path, validation_data=validation_path, output_dir=self.output_dir)
        return TrainConfig.from_dict(raw)

    def updates_for(self, config: TrainConfig, names: set[str] | None = None,
                    table: "Table | None" = None) -> list[Any]:
        """Widget values that show `config` (only `names`, the rest untouched), in `inputs` order.
        Column pickers are only set to columns the loaded file really has."""
        updates: list[Any] = []
        for control in self.controls:
            value = getattr(config, control.name)
            if names is not None and control.name not in names:
                updates.append(gr.skip())
            elif control.name.endswith("_column") and not _column_fits(control.name, value, table):
                updates.append(gr.skip())
            elif control.name == "sheet":
                updates.append(gr.skip())  # the sheet follows the file read (a new sheet is a new table)
            elif control.name == "label_columns":
                updates.append(_label_columns_update(value, table))
            elif control.name == "metric_for_best" and value != "auto":
                # A radio refuses a value outside its choices: offer the config's task's metrics.
                updates.append(gr.update(choices=metric_choices(config.task), value=value))
            else:
                updates.append(control.show(value))
        return updates


def _label_columns_update(value: str | None, table: "Table | None") -> Any:
    """Label columns are shown only when the file has every one of them, with its yes/no columns
    as the choices (a multi-select refuses a value outside its choices)."""
    names = show_label_columns(value)
    if not names:
        return gr.update(value=[])
    if table is None or not set(names) <= set(table.columns):
        return gr.skip()
    return gr.update(choices=sorted(set(yes_no_columns(table)) | set(names), key=list(table.columns).index),
                     value=names)


def _column_fits(name: str, value: str | None, table: "Table | None") -> bool:
    """A column setting can be shown when it names a real column, or clears the optional pair."""
    if value is None:
        return name == "text_pair_column"
    return table is not None and value in table.columns
