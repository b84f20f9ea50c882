"""'Train again with these settings': the Hyperparameters form filled from a run's config.json.

The filling itself is the Hyperparameters tab's `load_settings` (the same checks as an uploaded
config.json, hosted limits included); this module says what it changed, and whether the run's
training file is still there to load on the Data tab.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import gradio as gr

from bertstudio.ui import hyperparams_tab, render
from bertstudio.ui.run_diff import setting_text, short_difference

if TYPE_CHECKING:
    from bertstudio.config import TrainConfig
    from bertstudio.hosting import HostingSettings
    from bertstudio.ui.data_view import LoadedData
    from bertstudio.ui.form import ConfigForm


# Form controls a run's settings leave as they are: what names the run, not what it learns.
KEPT = ("run_name",)


def applied_settings(form: "ConfigForm", config: "TrainConfig", updates: Sequence[Any],
                     values: Sequence[Any]) -> tuple[list[str], list[str]]:
    """The settings the fill changed ("lr 1e-4", "10 epochs") and the columns it could not set
    (the loaded file lacks them), from the form's updates against its current `values`."""
    changed, missing = [], []
    for control, update, value in zip(form.controls, updates, values):
        wanted = getattr(config, control.name)
        if update == gr.skip():
            if control.name.endswith("_column") and wanted is not None:
                missing.append(f"{control.name.replace('_', ' ')} '{wanted}'")
            continue
        try:
            current = control.read(value)
        except (TypeError, ValueError):
            current = None
        if setting_text(control.name, current) != setting_text(control.name, wanted):
            changed.append(short_difference(control.name, wanted))
    return changed, missing


def same_file(path: Path, loaded: "LoadedData | None") -> bool:
    """Whether the Data tab holds the run's training file: the same path, or the same bytes (the
    same file uploaded again lands in a new upload folder)."""
    if loaded is None:
        return False
    if Path(loaded.path).resolve() == path.resolve():
        return True
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest() == loaded.table.sha256
    except OSError:
        return False


def data_sentence(config: "TrainConfig", loaded: "LoadedData | None") -> str:
    """Where the run's training file stands: loaded now, still on disk, or to be loaded again."""
    if not config.data:
        return ""
    path = Path(config.data)
    if same_file(path, loaded):
        return f" Its training file, {path.name}, is the one loaded on the Data tab."
    if path.is_file():
        return (f" Its training file, {path.name}, is still there, but the Data tab has "
                f"{Path(loaded.path).name if loaded else 'no file'} loaded: load {path.name} there to train on "
                "the same rows.")
    return f" Its training file, {path.name}, is no longer there: load {path.name} on the Data tab before Start."


def fill_from_run(form: "ConfigForm", run_dir: Path, loaded: "LoadedData | None", values: Sequence[Any],
                  hosting: "HostingSettings | None" = None) -> list[Any]:
    """Outputs: every form control, the Hyperparameters problem box, the selected preset and the
    preset buttons (as `load_settings`), then the Runs tab's notice of what was applied."""
    from bertstudio.runs.folder import CONFIG_FILE, read_run
    from bertstudio.ui.presets import PRESET_NAMES

    record = read_run(run_dir)
    if record is None or record.config is None or record.damage:
        untouched = [gr.skip()] * (len(form.controls) + 2 + len(PRESET_NAMES))
        return untouched + [render.problem("This run has no readable settings; press Refresh.")]
    outputs = hyperparams_tab.load_settings(form, loaded, str(run_dir / CONFIG_FILE), hosting)
    if outputs[len(form.controls)]:  # refused (past a hosted limit, say): the same sentence here
        return outputs + [outputs[len(form.controls)]]
    # The name stays what the form has: it tells the new run apart from this one in the Runs
    # table, where two runs of one name read as one.
    names = [i for i, control in enumerate(form.controls) if control.name in KEPT]
    for i in names:
        outputs[i] = gr.skip()
    changed, missing = applied_settings(form, record.config, outputs[:len(form.controls)], values)
    said = (f"Applied {len(changed)} setting{'s' if len(changed) != 1 else ''} from this run: {', '.join(changed)}."
            if changed else "The form already had every setting of this run.")
    if missing:
        said += f" Not applied (the loaded file has no such column): {', '.join(missing)}."
    said += data_sentence(record.config, loaded) + " Then press Start on the Train tab."
    return outputs + [render.notice(said)]
