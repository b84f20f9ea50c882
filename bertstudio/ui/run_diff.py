"""How runs differ: which runs share a file, the settings that tell them apart, settings side by side.

Pure functions over `TrainConfig.to_dict()` dictionaries, no gradio and no plotly, so the Runs
table's "differs" column and the comparison's settings table are tested as data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from bertstudio.config import field_specs

# Settings that never change what a run learns, or that name the run itself: two runs differing
# only in these are the same experiment, so they are not shown as differences.
NOT_COMPARED = ("output_dir", "run_name", "logging_steps")
# Paths are compared by file name: the same file uploaded twice lands in two upload folders.
PATH_SETTINGS = ("data", "validation_data", "unlabeled_data")
# The short words of the Runs table's "differs" column ("lr 1e-4 · 10 epochs"); a setting not
# named here reads as its form label in lower case, then its value.
SHORT_NAMES = {"learning_rate": "lr", "batch_size": "batch", "max_length": "max len", "weight_decay": "wd",
               "warmup_ratio": "warmup", "gradient_accumulation_steps": "accum", "max_grad_norm": "clip",
               "early_stopping_patience": "patience", "validation_split": "val share", "max_rows": "rows",
               "adapt_epochs": "adapt epochs", "mlm_probability": "masked share", "scheduler": "schedule"}
NO_DIFFERENCE = "—"


def compared_names() -> list[str]:
    """Every setting a comparison looks at, in the form's order."""
    return [spec.name for spec in field_specs() if spec.name not in NOT_COMPARED]


def setting_text(name: str, value: Any) -> str:
    """A setting's value as people read it: file names for paths, "yes"/"no", "1e-4" for small numbers."""
    if value is None or value == "":
        return "—"
    if name in PATH_SETTINGS:
        return Path(str(value)).name
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _short_float(value)
    if name == "model":
        return Path(str(value)).name or str(value)
    return str(value)


def _short_float(value: float) -> str:
    """0.0001 as "1e-4", 0.001 as "1e-3", 0.1 as "0.1": learning rates read as people type them."""
    if value != 0 and abs(value) < 0.01:
        mantissa, exponent = f"{value:.1e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return f"{value:g}"


def differing(configs: Sequence[dict[str, Any]]) -> list[str]:
    """The settings whose values are not the same in every one of `configs`, in the form's order."""
    if len(configs) < 2:
        return []
    return [name for name in compared_names()
            if len({setting_text(name, config.get(name)) for config in configs}) > 1]


def short_difference(name: str, value: Any) -> str:
    """One setting as the "differs" column words it: "lr 1e-4", "10 epochs", "bert-tiny"."""
    text = setting_text(name, value)
    if name == "epochs":
        return f"{text} epoch{'' if text == '1' else 's'}"
    if name == "model":
        return text
    if name in SHORT_NAMES:
        return f"{SHORT_NAMES[name]} {text}"
    label = next((spec.metadata.get("label", name) for spec in field_specs() if spec.name == name), name)
    return f"{label.lower()} {text}"


def data_key(config: dict[str, Any] | None, data_name: str | None) -> str | None:
    """Which file a run trained on, by name: runs with the same key are told apart by their settings."""
    if data_name:
        return data_name
    path = (config or {}).get("data")
    return Path(str(path)).name if path else None


def differences_by_run(runs: Iterable[tuple[str, str | None, dict[str, Any] | None]]) -> dict[str, str]:
    """For (run id, data key, config) triples: each run's settings that differ from the other runs of
    the same file, as one short cell ("lr 1e-4 · 10 epochs"); "—" for a run alone with its file, for
    a run without a config, and for runs of one file that share every setting."""
    groups: dict[str | None, list[tuple[str, dict[str, Any]]]] = {}
    cells: dict[str, str] = {}
    for run_id, key, config in runs:
        cells[run_id] = NO_DIFFERENCE
        if config is not None and key is not None:
            groups.setdefault(key, []).append((run_id, config))
    for members in groups.values():
        names = differing([config for _, config in members])
        for run_id, config in members:
            words = [short_difference(name, config.get(name)) for name in names]
            cells[run_id] = " · ".join(words) or NO_DIFFERENCE
    return cells


def settings_side_by_side(configs: Sequence[dict[str, Any]], only_differences: bool = False
                          ) -> tuple[list[list[str]], list[bool]]:
    """Rows of [setting label, value in run 1, value in run 2, ...] with, for each row, whether the
    values differ; `only_differences` keeps only those rows."""
    labels = {spec.name: spec.metadata.get("label", spec.name) for spec in field_specs()}
    rows, differs = [], []
    for name in compared_names():
        values = [setting_text(name, config.get(name)) for config in configs]
        different = len(set(values)) > 1
        if only_differences and not different:
            continue
        rows.append([labels[name], *values])
        differs.append(different)
    return rows, differs
