"""Task names to their implementations: `get_task("multi_label")`, and `TASKS` for every known task.

Each task module is imported on first use, so naming a task costs nothing until it is needed
(and config validation, which asks for a task's metrics, loads only that one module).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from bertstudio.errors import StudioError

if TYPE_CHECKING:
    from bertstudio.tasks.base import Task

# name -> (module, class): one line per kind of target
_IMPLEMENTATIONS: dict[str, tuple[str, str]] = {
    "single_label": ("bertstudio.tasks.single_label", "SingleLabel"),
    "multi_label": ("bertstudio.tasks.multi_label", "MultiLabel"),
    "regression": ("bertstudio.tasks.regression", "RegressionTask"),
    "masked_lm": ("bertstudio.tasks.masked_lm", "MaskedLM"),  # continued pretraining
}
DEFAULT_TASK = "single_label"  # what a saved model without `bertstudio_task` is

_loaded: dict[str, "Task"] = {}


def get_task(name: str) -> "Task":
    """The task called `name` ("single_label", "multi_label", "regression"); StudioError otherwise."""
    task = _loaded.get(name)
    if task is not None:
        return task
    if name not in _IMPLEMENTATIONS:
        known = ", ".join(_IMPLEMENTATIONS)
        hint = " ('auto' is decided from the data first)" if name == "auto" else ""
        raise StudioError(f"There is no task called '{name}'{hint}; choose one of: {known}.")
    module_name, class_name = _IMPLEMENTATIONS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise StudioError(f"The '{name}' task is not installed in this copy of BERT Studio "
                          f"(module {module_name} is missing); reinstall BERT Studio.") from exc
    return _loaded.setdefault(name, getattr(module, class_name)())


def task_of_model(model_config) -> "Task":
    """The task a saved model was trained for; models saved before tasks existed are single-label."""
    return get_task(getattr(model_config, "bertstudio_task", None) or DEFAULT_TASK)


def watched_metric(task: "Task", requested: str) -> str:
    """The metric that picks the best evaluation: `requested`, or the task's headline for "auto".
    A config written before the task was known (e.g. "macro_f1" for data that turned out to be
    regression) is told plainly, before any training."""
    if requested == "auto":
        return task.headline
    if requested not in task.metrics:
        raise StudioError(f"'Metric to watch' is '{requested}', which the {task.name} task does not "
                          f"measure; choose one of: {', '.join(('auto',) + tuple(task.metrics))}.")
    return requested


class _Tasks(Mapping):
    """name -> task instance, loading each on first access."""

    def __getitem__(self, name: str) -> "Task":
        if name not in _IMPLEMENTATIONS:
            raise KeyError(name)
        return get_task(name)

    def __iter__(self) -> Iterator[str]:
        return iter(_IMPLEMENTATIONS)

    def __len__(self) -> int:
        return len(_IMPLEMENTATIONS)


TASKS: Mapping[str, "Task"] = _Tasks()

