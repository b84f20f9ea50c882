"""`bertstudio pretrain`: continued masked-LM pretraining on the texts of a file (and extra files),
as an ordinary run: the same progress, Ctrl-C, resume and run folder as `train`, whose `model/`
`bertstudio train --model runs/<id>` then fine-tunes."""

from __future__ import annotations

import argparse

from bertstudio.cli import train_cmd
from bertstudio.tasks.base import PRETRAINING_TASK


def run(args: argparse.Namespace) -> int:
    """Pretrain (or resume a pretraining run); exit codes and the last line as `train`'s."""
    args.task = PRETRAINING_TASK
    if getattr(args, "unlabeled_data", None):
        args.unlabeled_data = list(args.unlabeled_data)
    return train_cmd.run(args)
