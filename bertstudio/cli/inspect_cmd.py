"""`bertstudio inspect FILE`: what a file holds (encoding, columns, task, labels, problems), as text or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bertstudio.cli.flags import EXIT_USAGE, TASK_FIELDS
from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError


def run(args: argparse.Namespace) -> int:
    """Read the file, check the columns and task settings given, print the summary; 2 when it has a problem."""
    from bertstudio.data.summary import data_summary
    from bertstudio.data.tabular import read_table

    table = read_table(args.file, sheet=args.sheet)
    settings = _task_settings(args)
    columns = _column_choice(table, args, settings)
    summary = data_summary(table, columns, task=settings.task, separator=settings.label_separator)
    problems = summary.get("problems", [])
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, default=str))
    else:
        _print_summary(summary)
    if problems:
        print(f"error: {problems[0]}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _task_settings(args: argparse.Namespace) -> TrainConfig:
    """--task, --label-separator and --label-columns, checked as `train` checks them."""
    given = {k: getattr(args, k) for k in TASK_FIELDS if hasattr(args, k)}
    given.update({k: getattr(args, k) for k in ("text_column", "text_pair_column", "label_column")
                  if hasattr(args, k)})
    config = TrainConfig(**given)
    validate = getattr(config, "_validate_task", None)  # only the task settings: no data or model here
    if validate is not None:
        validate()
    if config.label_separator is not None and not config.label_separator.strip():
        raise StudioError("--label-separator is empty; give the character between labels, such as ',' or '|'.")
    if config.label_columns is not None and not config.label_column_names():
        raise StudioError("--label-columns names no column; give the 0/1 columns separated by commas (A,B,C).")
    return config


def _column_choice(table, args: argparse.Namespace, settings: TrainConfig | None = None):
    """The columns the user named (checked against the file), the rest suggested; None if none named."""
    from bertstudio.data.dataset import resolve_columns

    names = ("text_column", "text_pair_column", "label_column", "label_columns")
    given = {k: getattr(args, k, None) for k in names}
    if not any(given.values()):
        return None
    return resolve_columns(table, settings or TrainConfig(**given))


_FORMAT_NAMES = {"xlsx": "Excel", "json": "JSON", "jsonl": "JSON Lines", "parquet": "Parquet"}


def _print_summary(summary: dict[str, Any]) -> None:
    delimiter = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(summary.get("delimiter"),
                                                                               summary.get("delimiter"))
    print(f"file:       {summary.get('file')}")
    if summary.get("format", "csv") == "csv":
        print(f"encoding:   {summary.get('encoding')}    delimiter: {delimiter}    "
              f"header: {'yes' if summary.get('has_header') else 'no'}")
    else:  # Excel, JSON and Parquet have no delimiter or encoding to tell
        sheet = f"    sheet: {summary['sheet']}" if summary.get("sheet") else ""
        print(f"format:     {_FORMAT_NAMES.get(summary['format'], summary['format'])}{sheet}")
    print(f"columns:    {', '.join(summary.get('columns', []))}")
    print(f"text:       {summary.get('text_column')}"
          + (f"    second text: {summary['text_pair_column']}" if summary.get("text_pair_column") else "")
          + f"    label: {summary.get('label_column')}")
    if summary.get("task"):
        print(f"task:       {summary['task']} ({summary.get('task_reason')})"
              + (f"; also possible: {', '.join(summary['task_alternatives'])} (--task)"
                 if summary.get("task_alternatives") else ""))
    print(f"rows:       {summary.get('rows')} usable of {summary.get('rows_total')}")
    for reason, count in (summary.get("dropped") or {}).items():
        print(f"  dropped:  {count} ({reason})")
    if summary.get("task") == "regression":
        if summary.get("min") is not None:
            print(f"values:     min {summary['min']:g}    max {summary['max']:g}    mean {summary['mean']:.4g}")
    else:
        print("labels:" + (f"     (rows per label; separator '{summary['separator']}')"
                           if summary.get("separator") else ""))
        for label, count in (summary.get("labels") or {}).items():
            print(f"  {label}: {count}")
    if summary.get("labels_per_row"):
        print("labels per row:")
        for n, count in summary["labels_per_row"].items():
            print(f"  {n}: {count}" + ("  (none of the labels)" if str(n) == "0" else ""))
    for note in summary.get("notes", []):
        print(f"note:       {note}")
    for warning in summary.get("warnings", []):
        print(f"warning:    {warning}")
