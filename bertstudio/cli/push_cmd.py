"""`bertstudio push runs/<id> --repo NAME [--private | --public]`: publish a finished run to the
Hugging Face Hub (model, tokenizer, card, settings and metrics); the repo's URL is the last line."""

from __future__ import annotations

import argparse
import sys


def add_parser(commands) -> None:
    push = commands.add_parser(
        "push", help="publish a finished run to the Hugging Face Hub; prints the repo URL as the last line",
        description="Uploads the run's model and tokenizer, a model card whose example is one of your "
                    "validation texts, and the run's config.json, metrics.json and environment.json (under "
                    "bertstudio/). Checkpoints, logs and your data rows stay here. The token comes from "
                    "HF_TOKEN or `hf auth login`, and is never written to the run folder.")
    push.add_argument("run_dir", metavar="RUN_DIR", help="the run folder, such as runs/<id>")
    push.add_argument("--repo", required=True, metavar="NAME", help="the Hub repo, such as your-name/model-name")
    visibility = push.add_mutually_exclusive_group()
    visibility.add_argument("--private", dest="private", action="store_true", default=True,
                            help="only you (and your organisation) can see it [default]")
    visibility.add_argument("--public", dest="private", action="store_false", help="anyone can see and download it")


def run(args: argparse.Namespace) -> int:
    from bertstudio.runs.publish import push_run

    print(f"publishing {args.run_dir} to {args.repo} ({'private' if args.private else 'public'})…", file=sys.stderr)
    print(push_run(args.run_dir, args.repo, private=args.private))
    return 0
