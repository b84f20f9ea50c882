"""`bertstudio runs`: the runs in a runs folder with status, model, data and each task's headline score."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bertstudio.errors import StudioError
from bertstudio.tasks.base import PRETRAINING_TASK

LEARNED_NOTHING_MARK = "(!) learned nothing"  # the run's card and the studio say why


def run(args: argparse.Namespace) -> int:
    """List the runs, newest first, as tab-separated lines or JSON."""
    from bertstudio.runs.folder import list_runs

    if args.output_dir is None and not Path("runs").exists():  # nothing trained here yet: not a mistake
        print("[]" if args.json else "no runs in runs (train one with 'bertstudio train')")
        return 0
    args.output_dir = args.output_dir or "runs"
    folder = Path(args.output_dir).expanduser()
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise StudioError(f"'{args.output_dir}' {what}; pass the folder your runs are in (the --output-dir "
                          "they were trained with).")
    summaries = list_runs(folder)
    if args.json:
        print(json.dumps([{"run_id": s.run_id, "path": s.path, "status": s.status, "model": s.model,
                           "data": s.data, "task": _run_task(s), "accuracy": s.metrics.get("accuracy"),
                           "macro_f1": s.metrics.get("macro_f1"), **_headline(s),
                           **({"perplexity": _perplexity(s)} if _run_task(s) == PRETRAINING_TASK else {}),
                           "learned_nothing": _learned_nothing(s), "damage": s.damage}
                          for s in summaries]))
        return 0
    if not summaries:
        print(f"no runs in {Path(args.output_dir)}")
    for s in summaries:
        accuracy = s.metrics.get("accuracy")
        if _run_task(s) == "single_label":  # as it always read
            score = 'accuracy %.4f' % accuracy if isinstance(accuracy, float) else '-'
        elif _run_task(s) == PRETRAINING_TASK:  # its loss reads better as perplexity (lower is better)
            perplexity = _perplexity(s)
            score = f"{PRETRAINING_TASK}\t" + (f"perplexity {perplexity:.2f}" if perplexity is not None else "-")
        else:
            top = _headline(s)
            score = (f"{top['headline']} {top['headline_value']:.4f}"
                     if isinstance(top["headline_value"], (int, float)) else "-")
            score = f"{_run_task(s)}\t{score}"
        print(f"{s.run_id}\t{s.status}\t{s.model}\t{s.data}\t{score}"
              + (f"\t{LEARNED_NOTHING_MARK}" if _learned_nothing(s) else "")
              + (f"\t{s.damage}" if s.damage else ""))
    return 0


def _learned_nothing(record) -> bool:
    """The trainer's verdict in metrics.json: the model answers as a constant would."""
    return record.warning is not None or (isinstance(record.metrics, dict)
                                          and bool(record.metrics.get("learned_nothing")))


def _perplexity(record) -> float | None:
    value = record.metrics.get("perplexity") if isinstance(record.metrics, dict) else None
    return value if isinstance(value, (int, float)) else None


def _run_task(record) -> str:
    """The task a run trained: data.json says; runs from before tasks existed are single-label."""
    task = record.data_record.get("task") if isinstance(record.data_record, dict) else None
    return task if isinstance(task, str) and task else "single_label"


def _headline(record) -> dict[str, Any]:
    """The run's task's headline metric, by name and value (None when not measured or unknown)."""
    from bertstudio.tasks.registry import get_task

    try:
        name = get_task(_run_task(record)).headline
    except StudioError:  # a task this copy does not know: listed, not refused
        return {"headline": None, "headline_value": None}
    value = record.metrics.get(name) if isinstance(record.metrics, dict) else None
    return {"headline": name, "headline_value": value if isinstance(value, (int, float)) else None}
