"""The command line's arguments: every command's parser, one `train` flag per TrainConfig field built
from its metadata (help, type, choices, range), the flags read back into a TrainConfig, and the exit
codes a mistake or a failed run gives.

The flags come from the same field metadata as the UI's controls, so `--help` cannot drift from them.
"""

from __future__ import annotations

import argparse
import sys

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
        help_text = meta.get("help", "").replace("%", "%%")  # argparse formats help with %
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
TASK_FIELDS = ("task", "label_separator", "label_columns")
_METAVARS = {"label_separator": "SEP", "label_columns": "A,B,C", "sheet": "NAME"}


def _add_task_flags(parser: argparse.ArgumentParser) -> None:
    specs = {spec.name: spec for spec in field_specs()}
    for name in TASK_FIELDS:
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
    train.add_argument("--run-id", default=None,
                       help="the run folder's name inside --output-dir, for a caller that fixes it in advance "
                            "(the studio does, so a page can follow the run before it starts) [a new one]")
    train.add_argument("--recommended-settings", action=argparse.BooleanOptionalAction, default=True,
                       help="start the learning rate, epochs and early stopping you do not give from the "
                            "settings measured for your file's size and your model's (see the README); "
                            "--no-recommended-settings: the built-in defaults. Never applied with --config "
                            "or --resume [default on]")
    _add_config_flags(train)

    pretrain = commands.add_parser(
        "pretrain", help="adapt a model to your texts (continued masked-LM pretraining); prints the run folder",
        description="Masked-language-model training on the texts of --data (labels not needed; the rows that "
                    "fine-tuning with the same seed and validation share holds out are left out) and of any "
                    "--unlabeled-data files. Fine-tune the result with: bertstudio train --model RUN_DIR.")
    pretrain.add_argument("--data", default=argparse.SUPPRESS, help="the CSV/TSV whose texts to read (or set it in --config)")
    pretrain.add_argument("--model", default=argparse.SUPPRESS, help="hub id, local folder, run folder, or 'bundled'")
    pretrain.add_argument("--unlabeled-data", nargs="+", metavar="FILE", default=argparse.SUPPRESS,
                          help="more files of texts to read (their text column: --text-column, else the one that looks like text)")
    pretrain.add_argument("--validation-data", default=argparse.SUPPRESS,
                          help="the validation file fine-tuning will use (its texts are never read)")
    _add_column_flags(pretrain)
    pretrain.add_argument("--config", help="a config.json to start from; flags override it")
    pretrain.add_argument("--resume", metavar="RUN_DIR", help="carry on an interrupted pretraining run")
    _add_config_flags(pretrain)

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
    predict.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                         help="torch: the run's PyTorch model; onnx: its ONNX export through ONNX Runtime "
                              "(the int8 model where one was exported; `bertstudio export` writes it) "
                              "[default torch]")
    predict.add_argument("--explain", action="store_true",
                         help="for each --text, the words that pushed the prediction most, with their signed "
                              "shares (integrated gradients; seconds per text; needs pip install -e \".[explain]\")")
    predict.add_argument("--explain-label", metavar="LABEL",
                         help="with --explain: the class or tag to explain instead of the predicted one")
    predict.add_argument("--json", action="store_true")

    listing = commands.add_parser("runs", help="list the runs in a runs folder")
    listing.add_argument("--output-dir", default=None, help="the folder the runs were trained into [default runs]")
    listing.add_argument("--json", action="store_true")

    search = commands.add_parser(
        "search", help="find good settings: trials of train, the weak ones stopped early; prints the best "
        "trial's run folder as the last line",
        description="Search the settings that have a search range (learning rate, batch size, weight decay, "
        "epochs, warmup share) for the best validation metric; a setting given as a flag is fixed, not searched.")
    search.add_argument("--data", required=True, help="training CSV/TSV")
    search.add_argument("--model", required=True, help="hub id, local folder, or 'bundled'")
    search.add_argument("--validation-data", default=argparse.SUPPRESS, help="optional validation CSV/TSV")
    _add_column_flags(search)
    search.add_argument("--trials", type=int, default=None,
                        help="how many trials at most [default 20, or as many as --time-budget allows]")
    search.add_argument("--time-budget", type=float, default=None, metavar="MINUTES",
                        help="start no trial after this many minutes, and stop the running one")
    search.add_argument("--search-seed", action="store_true",
                        help="search the seed too (a lucky seed rarely carries over to new data)")
    _add_config_flags(search)

    from bertstudio.cli import export_cmd, push_cmd  # their flags live beside them: they have no config

    push_cmd.add_parser(commands)
    export_cmd.add_parser(commands)
    return parser


def given_settings(args: argparse.Namespace) -> set[str]:
    """The TrainConfig settings named on the command line (flags default to absent, not to a value)."""
    names = {spec.name for spec in field_specs()}
    return {name for name in vars(args) if name in names}


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
