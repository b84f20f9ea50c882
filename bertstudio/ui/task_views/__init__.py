"""What each kind of target looks like in the UI, one module per task, found by `get_view(name)`.

The engine's task seam (`bertstudio/tasks/`) says how a task trains and predicts; this one says
how the tabs show it. The tab modules ask the view instead of testing a task's name, so showing
a new kind of target is one module here plus its line in `_VIEWS`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bertstudio.ui.task_views.base import TaskView

# task name -> (module, class): the same names as `bertstudio.tasks.registry`
_VIEWS: dict[str, tuple[str, str]] = {
    "single_label": ("bertstudio.ui.task_views.single_label", "SingleLabelView"),
    "multi_label": ("bertstudio.ui.task_views.multi_label", "MultiLabelView"),
    "regression": ("bertstudio.ui.task_views.regression", "RegressionView"),
    "masked_lm": ("bertstudio.ui.task_views.masked_lm", "MaskedLMView"),  # continued pretraining
}
DEFAULT_TASK = "single_label"  # a run, model or file from before tasks existed
NAMES = tuple(_VIEWS)

_loaded: dict[str, "TaskView"] = {}


def get_view(task: str | None) -> "TaskView":
    """The view of the task called `task`; no task, or one this copy does not know (a newer
    run), reads as one label per row, as everything did before tasks existed."""
    name = task if task in _VIEWS else DEFAULT_TASK
    view = _loaded.get(name)
    if view is None:
        module_name, class_name = _VIEWS[name]
        view = _loaded.setdefault(name, getattr(importlib.import_module(module_name), class_name)())
    return view


def all_views() -> dict[str, "TaskView"]:
    """Every task's view by name, in `_VIEWS` order (the order the task switch offers them)."""
    return {name: get_view(name) for name in _VIEWS}


def label_sets_view() -> "TaskView | None":
    """The view whose rows carry a set of labels, which yes/no columns can feed."""
    return next((view for view in all_views().values() if view.label_sets), None)
