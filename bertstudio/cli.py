"""`bertstudio inspect | tokenize | train | predict | runs`: the headless front door to the engine.

Bad input anywhere prints one `error: …` line and exits 2; never a traceback. A run that fails is
recorded in its run folder like any failure and prints one `error: …` line and the run folder; it
exits 2 when the user's input caused it (bad data or settings found by the trainer), else 1.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

from bertstudio.config import TRUNCATION_CHOICES, TrainConfig, base_type, field_specs
from bertstudio.errors import StudioError

EXIT_USAGE = 2
EXIT_FAILED = 1


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one `error:` line like every other mistake."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _range_help(name: str) -> str:
    """A TrainConfig field's help with its range, for flags outside the training group."""
    meta = next(spec.metadata for spec in field_specs() if spec.name == name)
    return f"{meta.get('help', '')} [{meta['min']:g}..{meta['max']:g}]"


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, from its metadata: help, type, choices and range."""
    handled = {"data", "model", "text_column", "text_pair_column", "label_column", "validation_data"}
    group = parser.add_argument_group("training settings (defaults come from --config, else the built-in defaults)")
    for spec in field_specs():
        if spec.name in handled or spec.metadata.get("cli") is False:
            continue
        meta = spec.metadata
        kind = base_type(spec.type)
        help_text = meta.get("help", "")
        if "min" in meta and kind is not bool:
            help_text += f" [{meta['min']:g}..{meta['max']:g}, default {spec.default}]"
        else:
            help_text += f" [default {spec.default}]"
        if kind is bool:
            group.add_argument(_flag(spec.name), dest=spec.name, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=help_text)
        else:
            metavar = None if meta.get("choices") else _METAVARS.get(spec.name, kind.__name__.upper())
            group.add_argument(_flag(spec.name), dest=spec.name, type=kind, choices=meta.get("choices"),
                               default=argparse.SUPPRESS, help=help_text, metavar=metavar)


def _add_sheet_flag(parser: argparse.ArgumentParser) -> None:
    """`--sheet` for a command that reads a file itself (`train` gets it from TrainConfig)."""
    parser.add_argument("--sheet", metavar="NAME",
                        help="Excel files only: the name of the sheet that holds the table [default: the first sheet]")


def _add_column_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-column", default=argparse.SUPPRESS, help="column holding the text")
    parser.add_argument("--text-pair-column", default=argparse.SUPPRESS,
                        help="optional second text column (sentence pairs)")
    parser.add_argument("--label-column", default=argparse.SUPPRESS, help="column holding the label")


# What each row's label is; `train` gets these from TrainConfig's fields like its other
# settings, `inspect` (which has no training settings) from this list, with the same help.
_TASK_FIELDS = ("task", "label_separator", "label_columns")
_METAVARS = {"label_separator": "SEP", "label_columns": "A,B,C", "sheet": "NAME"}


def _add_task_flags(parser: argparse.ArgumentParser) -> None:
    specs = {spec.name: spec for spec in field_specs()}
    for name in _TASK_FIELDS:
        meta = specs[name].metadata
        parser.add_argument(_flag(name), dest=name, default=argparse.SUPPRESS,
                            choices=meta.get("choices"), help=meta.get("help", ""),
                            metavar=_METAVARS.get(name))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bertstudio", description="Fine-tune BERT-family text classifiers on your own CSV.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    inspect = commands.add_parser("inspect", help="check a CSV/TSV: encoding, columns, labels, problems")
    inspect.add_argument("file")
    _add_sheet_flag(inspect)
    _add_column_flags(inspect)
    _add_task_flags(inspect)
    inspect.add_argument("--json", action="store_true", help="print one JSON object")

    tokenize = commands.add_parser("tokenize", help="show the WordPiece pieces, ids and truncation")
    tokenize.add_argument("--model", required=True, help="hub id, local folder, or 'bundled'")
    tokenize.add_argument("--text", required=True)
    tokenize.add_argument("--text-pair")
    tokenize.add_argument("--max-length", type=int, default=128, help=_range_help("max_length"))
    tokenize.add_argument("--truncation", choices=TRUNCATION_CHOICES, default="start")
    tokenize.add_argument("--json", action="store_true")

    train = commands.add_parser("train", help="fine-tune a model; prints the run folder as the last line")
    train.add_argument("--data", default=argparse.SUPPRESS, help="training CSV/TSV (or set it in --config)")
    train.add_argument("--model", default=argparse.SUPPRESS, help="hub id, local folder, or 'bundled'")
    train.add_argument("--validation-data", default=argparse.SUPPRESS, help="optional validation CSV/TSV")
    _add_column_flags(train)
    train.add_argument("--config", help="a config.json (e.g. from a run folder) to start from; flags override it")
    train.add_argument("--resume", metavar="RUN_DIR",
                       help="carry on an interrupted run from its last checkpoint, with its own settings")
    _add_config_flags(train)

    predict = commands.add_parser("predict", help="predict labels with a run or a saved model folder")
    predict.add_argument("--model", required=True, help="run folder or saved model folder")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", action="append", help="a text to classify (repeatable)")
    source.add_argument("--data", help="CSV/TSV to classify")
    predict.add_argument("--text-pair", action="append", help="second text, one per --text")
    predict.add_argument("--output", help="where to write the file with predictions (with --data): "
                         ".csv, .tsv, .xlsx, .json, .jsonl or .parquet, by its name; any other name gets CSV")
    _add_sheet_flag(predict)
    predict.add_argument("--text-column")
    predict.add_argument("--text-pair-column")
    predict.add_argument("--json", action="store_true")

    listing = commands.add_parser("runs", help="list the runs in a runs folder")
    listing.add_argument("--output-dir", default=None, help="the folder the runs were trained into [default runs]")
    listing.add_argument("--json", action="store_true")
    return parser


def _quiet_libraries() -> None:
    """transformers reports every newly initialised head and draws its own progress bars; the
    CLI says what matters itself, so keep only real errors from it."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"inspect": _inspect, "tokenize": _tokenize, "train": _train, "predict": _predict,
               "runs": _runs}[args.command]
    if args.command in ("tokenize", "train", "predict"):
        _quiet_libraries()
    try:
        return handler(args)
    except StudioError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


# --- inspect ------------------------------------------------------------------------------------


def _inspect(args: argparse.Namespace) -> int:
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
    given = {k: getattr(args, k) for k in _TASK_FIELDS if hasattr(args, k)}
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


# --- tokenize -----------------------------------------------------------------------------------


def _tokenize(args: argparse.Namespace) -> int:
    from bertstudio.models import load_tokenizer
    from bertstudio.text.token_preview import preview

    # The bounds training accepts: a preview of a length no run can use would mislead.
    TrainConfig(model=args.model, max_length=args.max_length, truncation=args.truncation).validate()
    tokenizer = load_tokenizer(args.model)
    result = preview(tokenizer, args.text, args.text_pair, max_length=args.max_length,
                     truncation=args.truncation)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    kept = [p for p in result.tokens if p.kept]
    dropped = [p for p in result.tokens if not p.kept]
    print("pieces:  " + " ".join(p.text for p in kept))
    print("ids:     " + " ".join(str(p.id) for p in kept))
    if args.text_pair is not None:
        print("segment: " + " ".join(str(p.segment) for p in kept))
    print(f"length:  {result.kept_length} of {result.length} tokens kept (max length {args.max_length}, "
          f"truncation {args.truncation})")
    if dropped:
        print("dropped: " + " ".join(p.text for p in dropped)
              + (f" … and {result.hidden_count:,} more" if result.hidden_count else ""))
    if result.unknown_count:
        print(f"unknown: {result.unknown_count} piece(s) became [UNK]")
    return 0


# --- train --------------------------------------------------------------------------------------


def config_from_args(args: argparse.Namespace, base: TrainConfig | None = None) -> TrainConfig:
    """Built-in defaults < `base` (the run being resumed) or the --config file < flags given on
    the command line."""
    if base is None:
        base = TrainConfig.load(args.config) if getattr(args, "config", None) else TrainConfig()
    names = {spec.name for spec in field_specs()}
    overrides = {k: v for k, v in vars(args).items() if k in names}
    config = TrainConfig.from_dict({**base.to_dict(), **overrides})
    if not config.data:
        raise StudioError("No training data given; pass --data FILE (a CSV or TSV).")
    return config


def _train(args: argparse.Namespace) -> int:
    from bertstudio.events import CallbackSink
    from bertstudio.training.progress import ConsoleProgress
    from bertstudio.training.trainer import StopControl, train

    resume_from = getattr(args, "resume", None)
    base = None
    if resume_from:
        from bertstudio.runs.folder import run_to_resume

        if getattr(args, "config", None):  # two sources of settings: say which one counts
            raise StudioError("--resume carries on with the run's own settings, so it takes no --config; "
                              "leave --config out (flags such as --epochs still change a setting).")
        # Not a run, damaged, finished or running: one plain sentence. Its typed config is the
        # base, read once with the rest of the run (not config.json parsed a second time).
        base = run_to_resume(resume_from).config
    config = config_from_args(args, base)
    stop = StopControl()
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum, frame):  # first Ctrl-C: finish the step and keep the model
        print("\nstopping after this step (Ctrl-C again to abort)…", file=sys.stderr)
        stop.request()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, on_interrupt)
    progress = ConsoleProgress(sys.stderr)
    try:
        result = train(config, sink=CallbackSink(progress.handle), stop=stop, resume_from=resume_from)
    finally:
        signal.signal(signal.SIGINT, previous)
        progress.close()
    failed_code = EXIT_USAGE if result.mistake else EXIT_FAILED
    if not _is_main_process():
        return 0 if result.status != "failed" else failed_code
    if result.status == "failed":
        print(f"error: {result.message}", file=sys.stderr)
        print(result.run_dir)
        return failed_code
    print(result.run_dir)
    return 0


def _is_main_process() -> bool:
    from accelerate.state import PartialState

    return PartialState().is_main_process


# --- predict ------------------------------------------------------------------------------------


def _predict(args: argparse.Namespace) -> int:
    from bertstudio.predict import Predictor

    if args.data and not args.output:
        raise StudioError("Predicting a file needs --output FILE for the file with predictions.")
    if args.sheet is not None and not args.data:
        raise StudioError("--sheet picks a sheet of the --data file; leave it out when predicting --text.")
    if args.text_pair and len(args.text_pair) != len(args.text or []):
        raise StudioError("Give one --text-pair for every --text, or none.")
    if args.data:
        _check_output_file(args.output)  # before the model loads: a typo costs no wait
    predictor = Predictor.load(args.model)
    if args.data:
        try:
            path = _predict_file(predictor, args)
        except OSError as exc:  # reading the data raises StudioError; an OSError here is the write
            raise StudioError(_unwritten(args.output, exc)) from exc
        if args.json:
            print(json.dumps({"output": str(path)}))
        else:
            print(path)
        return 0
    predictions = predictor.predict(args.text, args.text_pair)
    if args.json:
        print(json.dumps([{"text": t, **p.to_dict()} for t, p in zip(args.text, predictions)], ensure_ascii=False))
        return 0
    for text, prediction in zip(args.text, predictions):
        print(_prediction_line(text, prediction))
    return 0


def _prediction_line(text: str, prediction) -> str:
    """One text's prediction as a tab-separated line: what it is, how sure, the text, the rest."""
    others = ", ".join(f"{label} {prob:.3f}" for label, prob in prediction.probabilities.items())
    if prediction.value is not None:  # regression: the number in the user's units
        return f"{prediction.value:.4g}\t{text}"
    if prediction.labels is not None:  # multi-label: the tags (maybe none), every tag's probability
        tags = ", ".join(prediction.labels) or "(none of the labels)"
        return f"{tags}\t{text}\t({others})"
    return f"{prediction.label}\t{prediction.confidence:.3f}\t{text}\t({others})"


def _predict_file(predictor, args: argparse.Namespace) -> Path:
    """The file's rows with the task's columns, written in the format --output's name asks for
    (`write_predictions` decides, for the CLI as for every other caller)."""
    return predictor.predict_csv(args.data, args.output, args.text_column, args.text_pair_column,
                                 sheet=args.sheet)


def _check_output_file(output: str) -> None:
    """--output must name a file in a folder that exists and takes files. A missing folder is
    refused, not made: a typo would otherwise leave folders behind and the CSV where nobody looks."""
    target = Path(output).expanduser()
    folder = target.parent
    if target.is_dir():
        raise StudioError(f"--output '{output}' is a folder; name a file in it, such as "
                          f"{target / 'predictions.csv'}.")
    if not folder.exists():
        raise StudioError(f"The folder '{folder}' does not exist; create it first (mkdir -p {folder}), "
                          "or choose an --output in a folder that exists.")
    if not folder.is_dir():
        raise StudioError(f"'{folder}' is a file, not a folder; choose an --output in a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StudioError(f"You may not write to the folder '{folder}'; choose an --output somewhere "
                          "you may write.")


def _unwritten(output: str, exc: OSError) -> str:
    from bertstudio.atomic import disk_is_full

    folder = Path(output).expanduser().parent
    if disk_is_full(exc, folder):
        return f"The disk holding '{folder}' is full; free some space or choose another --output."
    reason = (exc.strerror or str(exc)).lower()
    return f"Could not write the predictions into the folder '{folder}' ({reason}); choose another --output."


# --- runs ---------------------------------------------------------------------------------------


def _runs(args: argparse.Namespace) -> int:
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
                           "macro_f1": s.metrics.get("macro_f1"), **_headline(s), "damage": s.damage}
                          for s in summaries]))
        return 0
    if not summaries:
        print(f"no runs in {Path(args.output_dir)}")
    for s in summaries:
        accuracy = s.metrics.get("accuracy")
        if _run_task(s) == "single_label":  # as it always read
            score = 'accuracy %.4f' % accuracy if isinstance(accuracy, float) else '-'
        else:
            top = _headline(s)
            score = (f"{top['headline']} {top['headline_value']:.4f}"
                     if isinstance(top["headline_value"], (int, float)) else "-")
            score = f"{_run_task(s)}\t{score}"
        print(f"{s.run_id}\t{s.status}\t{s.model}\t{s.data}\t{score}"
              + (f"\t{s.damage}" if s.damage else ""))
    return 0


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


if __name__ == "__main__":
    raise SystemExit(main())
