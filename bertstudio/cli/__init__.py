"""`bertstudio inspect | tokenize | train | pretrain | predict | runs | search | push | export`: the headless front door to the engine.

Bad input anywhere prints one `error: …` line and exits 2; never a traceback. A run that fails is
recorded in its run folder like any failure and prints one `error: …` line and the run folder; it
exits 2 when the user's input caused it (bad data or settings found by the trainer), else 1.

The parser and the flags built from TrainConfig are `flags.py`; each command is one module
(`inspect_cmd.py`, `tokenize_cmd.py`, `train_cmd.py`, `pretrain_cmd.py`, `predict_cmd.py`,
`runs_cmd.py`, `search_cmd.py`, `push_cmd.py`, `export_cmd.py`) whose `run` takes the parsed arguments and returns the exit code.
"""

from __future__ import annotations

import sys
from typing import Sequence

from bertstudio.cli import (export_cmd, inspect_cmd, predict_cmd, pretrain_cmd, push_cmd, runs_cmd, search_cmd,
                            tokenize_cmd, train_cmd)
from bertstudio.cli.flags import EXIT_USAGE, build_parser
from bertstudio.errors import StudioError

_COMMANDS = {"inspect": inspect_cmd.run, "tokenize": tokenize_cmd.run, "train": train_cmd.run,
             "predict": predict_cmd.run, "runs": runs_cmd.run, "search": search_cmd.run,
             "pretrain": pretrain_cmd.run, "push": push_cmd.run, "export": export_cmd.run}


def _quiet_libraries() -> None:
    """transformers reports every newly initialised head and draws its own progress bars; the
    CLI says what matters itself, so keep only real errors from it."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = _COMMANDS[args.command]
    if args.command in ("tokenize", "train", "predict", "search", "pretrain", "export"):
        _quiet_libraries()
    try:
        return handler(args)
    except StudioError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
