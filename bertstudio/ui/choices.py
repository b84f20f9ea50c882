"""A visitor's choices across a reload: remembered in their own browser, restored through the upload checks.

The browser keeps (gr.BrowserState, its own key) the server paths of the files it loaded, the
validation mode, the preset and every form setting. On load the page asks for them back. What comes
back is only a wish: a path is used only when it names a file in a folder the server itself writes
uploads to (or the example), and is then read by the same code and limits as an upload; settings
are validated as a TrainConfig (and against the hosted limits) before any widget shows them.
"""

from __future__ import annotations

import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import gradio as gr

from bertstudio.errors import StudioError
from bertstudio.ui import data_tab, render
from bertstudio.ui.session import RememberedChoices

if TYPE_CHECKING:
    from bertstudio.hosting import HostingSettings
    from bertstudio.data.tabular import Table
    from bertstudio.ui.data_tab import DataTab, LoadedData
    from bertstudio.ui.form import ConfigForm
    from bertstudio.ui.history import FollowedRun

STORAGE_KEY = "bertstudio-choices"  # apart from the owner's memory: each key has one writer
RESTORED_FOLDER = "restored"  # in the visitor's downloads folder: what the upload boxes show


def remember(form: "ConfigForm", loaded: "LoadedData | None", validation_mode: str | None,
             preset: str | None, *values: Any) -> dict[str, Any]:
    """The whole set of choices as they stand (never a merge with the stored value, so two quick
    changes cannot interleave into a mix); output: the browser's choices."""
    return RememberedChoices(
        data=loaded.path if loaded is not None else None,
        validation=loaded.validation_path if loaded is not None else None,
        validation_mode=validation_mode, preset=preset,
        settings={control.name: _storable(control, value) for control, value in zip(form.controls, values)
                  if value is None or isinstance(value, (str, bool, int, float, list))}).to_value()


def _storable(control: Any, value: Any) -> Any:
    """A widget value as the browser keeps it: a multi-select's list as its config text
    ("joy,anger"), which the control reads back the same way."""
    return control.read(value) if isinstance(value, list) else value


def upload_roots(uploads_dir: Path | None) -> list[Path]:
    """Where the server itself puts visitors' files: the kept uploads on a shared deployment
    (every upload is copied there), gradio's upload folder otherwise."""
    if uploads_dir is not None:
        return [Path(uploads_dir)]
    from gradio.utils import get_upload_folder

    return [Path(get_upload_folder())]


def allowed_file(path: str | None, roots: Sequence[Path], example: Path | None = None) -> Path | None:
    """The regular file `path` (sent by a browser) names, when it lies inside one of `roots` or is the
    example; else None. Resolved first, so neither `..` nor a link can lead outside."""
    if not path or "\x00" in path:
        return None
    try:
        real = Path(path).resolve(strict=True)
        if not stat.S_ISREG(real.stat().st_mode):
            return None
    except (OSError, RuntimeError, ValueError):
        return None
    if example is not None and real == Path(example).resolve():
        return real
    for root in roots:
        base = Path(root).resolve()
        if real != base and real.is_relative_to(base):
            return real
    return None


@dataclass
class Restored:
    """What a reload puts back, in `restore_outputs` order; gr.skip() leaves a component as it is."""

    loaded: Any = field(default_factory=gr.skip)
    facts: Any = field(default_factory=gr.skip)
    preview: Any = field(default_factory=gr.skip)
    file_problem: Any = field(default_factory=gr.skip)
    upload: Any = field(default_factory=gr.skip)
    validation_mode: Any = field(default_factory=gr.skip)
    validation_upload: Any = field(default_factory=gr.skip)
    validation_problem: Any = field(default_factory=gr.skip)
    preset: Any = field(default_factory=gr.skip)
    settings: list[Any] | None = None  # one per form control; None leaves them all

    def outputs(self, form: "ConfigForm") -> list[Any]:
        settings = self.settings if self.settings is not None else [gr.skip()] * len(form.controls)
        return [self.loaded, self.facts, self.preview, self.file_problem, self.upload, self.validation_mode,
                self.validation_upload, self.validation_problem, self.preset, *settings]


def restore_outputs(data: "DataTab", selected_preset: Any, form: "ConfigForm") -> list[Any]:
    return [data.loaded, data.facts, data.preview, data.file_problem, data.upload, data.validation_mode,
            data.validation_upload, data.validation_problem, selected_preset, *form.inputs]


def restore(form: "ConfigForm", value: Any, *, roots: Sequence[Path], example: Path | None,
            hosting: "HostingSettings | None", uploads_dir: Path | None,
            downloads: Callable[[], Path], current: "LoadedData | None" = None) -> list[Any]:
    """On page load: the remembered file (read like a fresh upload), columns and settings.
    Outputs: `restore_outputs`. A file that is gone, or a path the server never gave out, is not
    read; the visitor is asked to choose the file again. A page that already holds a file
    (`current`: the visitor uploaded one before the restore got its turn) keeps it and everything
    else as it stands: what was chosen on this page is newer than what was remembered."""
    memory = RememberedChoices.from_value(value)
    page = Restored()
    if memory.empty or current is not None:
        return page.outputs(form)
    loaded, columns = None, {}
    if memory.data:
        path = allowed_file(memory.data, roots, example)
        if path is None:
            page.file_problem = render.notice("The file you chose before is no longer here; choose it again.")
        else:
            own = example is not None and path == Path(example).resolve()
            read = dict(zip(data_tab.LOAD_FIELDS, data_tab.load_training_file(
                str(path), None, hosting, None if own else uploads_dir, sheet=_sheet(path, memory))))
            loaded, page.facts, page.preview, page.file_problem = (
                read.pop(name) for name in ("loaded", "facts", "preview", "file_problem"))
            columns = read  # the form controls a fresh file sets (columns, task and its details)
    if loaded is not None:
        page.upload = _shown(Path(loaded.path), uploads_dir, downloads)
        if memory.validation_mode == data_tab.SECOND_FILE:
            loaded = _restore_validation(page, loaded, memory, roots, hosting, uploads_dir, downloads)
    page.loaded = loaded
    page.settings = _settings(form, memory, hosting, loaded.table if loaded is not None else None, columns)
    if page.settings is not None and memory.validation_mode == data_tab.SECOND_FILE and loaded is not None:
        at = form.controls.index(form.control("validation_split"))
        page.settings[at] = gr.update(visible=False)
    if page.settings is not None and memory.preset is not None:
        page.preset = memory.preset  # else a restored model re-applies the default preset over them
    elif page.settings is not None:
        page.preset = None
    return page.outputs(form)


def _sheet(path: Path, memory: RememberedChoices) -> str | None:
    """The remembered Excel sheet, when the restored file is a workbook that has it."""
    from bertstudio.data.spreadsheet import sheet_names

    wanted = memory.settings.get("sheet")
    if not isinstance(wanted, str):
        return None
    try:
        return wanted if wanted in sheet_names(path) else None
    except StudioError:  # the read that follows says what is wrong with the file
        return None


def _restore_validation(page: Restored, loaded: "LoadedData", memory: RememberedChoices,
                        roots: Sequence[Path], hosting: "HostingSettings | None", uploads_dir: Path | None,
                        downloads: Callable[[], Path]) -> "LoadedData":
    """The separate validation file, through the same checks as the training file."""
    page.validation_mode = data_tab.SECOND_FILE
    path = allowed_file(memory.validation, roots)
    if path is None:
        page.validation_upload = gr.update(visible=True, value=None)
        page.validation_problem = render.notice(
            "The validation file you chose before is no longer here; choose it again.") if memory.validation else ""
        return loaded
    loaded, page.validation_problem = data_tab.load_validation_file(loaded, str(path), hosting, uploads_dir)
    shown = _shown(Path(loaded.validation_path), uploads_dir, downloads) if loaded.validation_path else None
    page.validation_upload = gr.update(visible=True, value=shown)
    return loaded


def _settings(form: "ConfigForm", memory: RememberedChoices, hosting: "HostingSettings | None",
              table: "Table | None", columns: dict[str, Any]) -> list[Any] | None:
    """Widget values for the remembered settings, or None when they do not make a valid config
    (or break the hosted limits): then the defaults stay. Columns are set only to columns the
    restored file has, with the file's columns as their choices."""
    from bertstudio.config import TrainConfig

    names = {control.name for control in form.controls} & set(memory.settings)
    raw = TrainConfig().to_dict()
    try:
        for name in names:
            raw[name] = form.control(name).read(memory.settings[name])
        config = TrainConfig.from_dict(raw)
        if hosting is not None:
            hosting.check_config(config)
    except (StudioError, TypeError, ValueError, OverflowError):
        config = None
    updates = (form.updates_for(config, names, table) if config is not None
               else [gr.skip()] * len(form.controls))
    for at, control in enumerate(form.controls):
        loaded_column = columns.get(control.name)
        if isinstance(loaded_column, dict):  # the file was read: its columns, the remembered pick if it fits
            remembered = updates[at]
            if isinstance(remembered, dict) and remembered.get("__type__") == "update":
                loaded_column = {**loaded_column, **remembered}  # a skip adds nothing
            else:
                loaded_column = {**loaded_column, "value": remembered}
            updates[at] = loaded_column
    return updates if config is not None or columns else None


def _shown(path: Path, uploads_dir: Path | None, downloads: Callable[[], Path]) -> str:
    """What an upload box can show for `path`. A kept upload lives in the runs folder, which is
    never served, so the box gets a copy in the visitor's own downloads folder instead."""
    if uploads_dir is None or not path.resolve().is_relative_to(Path(uploads_dir).resolve()):
        return str(path)
    target = downloads() / RESTORED_FOLDER / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return str(target)


def plan_after_reload(form: "ConfigForm", loaded: "LoadedData | None", prepared: Any,
                      followed: "FollowedRun | None", *values: Any) -> Any:
    """The Train tab's plan once a reload has settled: what Start would do with the restored file,
    or, with no file but a run this page follows, that run, never a bare "load a dataset"."""
    from bertstudio.ui import train_tab

    if loaded is not None:
        return train_tab.plan_text(form, loaded, prepared, *values)
    if followed is None:
        return gr.skip()
    return (f"This page follows run **{render.md_escape(followed.run_id)}**, which keeps its own data and "
            "settings. To start another run, choose a file on the Data tab.")
