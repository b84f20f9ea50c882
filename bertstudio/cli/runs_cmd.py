"""`bertstudio runs`: the runs in a runs folder with status, model, data and each task's headline score."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bertstudio.errors import StudioError
from bertstudio.runs.summary import headline, learned_nothing, perplexity, run_summary, run_task
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
        print(json.dumps([run_summary(s) for s in summaries]))
        return 0
    if not summaries:
        print(f"no runs in {Path(args.output_dir)}")
    for s in summaries:
        accuracy = s.metrics.get("accuracy")
        if run_task(s) == "single_label":  # as it always read
            score = 'accuracy %.4f' % accuracy if isinstance(accuracy, float) else '-'
        elif run_task(s) == PRETRAINING_TASK:  # its loss reads better as perplexity (lower is better)
            value = perplexity(s)
            score = f"{PRETRAINING_TASK}\t" + (f"perplexity {value:.2f}" if value is not None else "-")
        else:
            top = headline(s)
            score = (f"{top['headline']} {top['headline_value']:.4f}"
                     if isinstance(top["headline_value"], (int, float)) else "-")
            score = f"{run_task(s)}\t{score}"
        print(f"{s.run_id}\t{s.status}\t{s.model}\t{s.data}\t{score}"
              + (f"\t{LEARNED_NOTHING_MARK}" if learned_nothing(s) else "")
              + (f"\t{s.damage}" if s.damage else ""))
    return 0
