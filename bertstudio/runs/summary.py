"""A run as one JSON-ready summary: its task, that task's headline score, and whether it learned
nothing; what `bertstudio runs --json` prints and the studio's API returns."""

from __future__ import annotations

from typing import Any

from bertstudio.errors import StudioError
from bertstudio.tasks.base import PRETRAINING_TASK


def run_summary(record) -> dict[str, Any]:
    """`record` (a `RunRecord`) as plain values."""
    return {"run_id": record.run_id, "path": record.path, "status": record.status, "model": record.model,
            "data": record.data, "task": run_task(record), "accuracy": record.metrics.get("accuracy"),
            "macro_f1": record.metrics.get("macro_f1"), **headline(record),
            **({"perplexity": perplexity(record)} if run_task(record) == PRETRAINING_TASK else {}),
            "learned_nothing": learned_nothing(record), "damage": record.damage}


def learned_nothing(record) -> bool:
    """The trainer's verdict in metrics.json: the model answers as a constant would."""
    return record.warning is not None or (isinstance(record.metrics, dict)
                                          and bool(record.metrics.get("learned_nothing")))


def perplexity(record) -> float | None:
    value = record.metrics.get("perplexity") if isinstance(record.metrics, dict) else None
    return value if isinstance(value, (int, float)) else None


def run_task(record) -> str:
    """The task a run trained: data.json says; runs from before tasks existed are single-label."""
    task = record.data_record.get("task") if isinstance(record.data_record, dict) else None
    return task if isinstance(task, str) and task else "single_label"


def headline(record) -> dict[str, Any]:
    """The run's task's headline metric, by name and value (None when not measured or unknown)."""
    from bertstudio.tasks.registry import get_task

    try:
        name = get_task(run_task(record)).headline
    except StudioError:  # a task this copy does not know: listed, not refused
        return {"headline": None, "headline_value": None}
    value = record.metrics.get(name) if isinstance(record.metrics, dict) else None
    return {"headline": name, "headline_value": value if isinstance(value, (int, float)) else None}
