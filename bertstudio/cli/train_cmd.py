"""`bertstudio train`: a run from flags (or a config.json, or the run being resumed), its progress on
stderr, Ctrl-C as a stop that keeps the model, and the run folder as the last line of stdout."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import TYPE_CHECKING

from bertstudio.cli.flags import EXIT_FAILED, EXIT_USAGE, config_from_args, given_settings
from bertstudio.errors import StudioError

if TYPE_CHECKING:
    from bertstudio.config import TrainConfig


def run(args: argparse.Namespace) -> int:
    """Train (or resume) one run; 0 when it finished or was stopped, 2 or 1 when it failed."""
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
    if base is None and not getattr(args, "config", None) and getattr(args, "recommended_settings", False):
        config = _recommended(config, given_settings(args))
    run_id = _run_id(args, config)
    stop = StopControl()
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum, frame):  # first Ctrl-C: finish the step and keep the model
        print("\nstopping after this step (Ctrl-C again to abort)…", file=sys.stderr)
        stop.request()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, on_interrupt)
    progress = ConsoleProgress(sys.stderr)
    try:
        result = train(config, sink=CallbackSink(progress.handle), stop=stop, resume_from=resume_from,
                       run_id=run_id)
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
    warning = result.metrics.get("warning")
    if warning:  # the model learned nothing useful: said before the folder line, which stays last
        print(f"warning: {warning}", file=sys.stderr)
    print(result.run_dir)
    return 0


def _run_id(args: argparse.Namespace, config: "TrainConfig") -> str | None:
    """--run-id, checked to name one folder inside the runs folder that holds no run yet (its
    config.json alone is fine: the studio writes it before it starts the process that trains)."""
    from pathlib import Path

    from bertstudio.runs.folder import EVENTS_FILE, is_safe_run_id

    run_id = getattr(args, "run_id", None)
    if run_id is None or getattr(args, "resume", None):
        return None
    if not is_safe_run_id(run_id):
        raise StudioError(f"--run-id '{run_id}' is not a folder name: use letters, digits and dashes, with no "
                          "slash and no leading dot.")
    if (Path(config.output_dir) / run_id / EVENTS_FILE).exists():
        raise StudioError(f"There is already a run '{run_id}' in {config.output_dir}; leave --run-id out for a "
                          "new one, or --resume that run.")
    return run_id


def _recommended(config: "TrainConfig", given: set[str]) -> "TrainConfig":
    """The measured starting settings for what the flags leave open, each said with its reason on
    stderr (config.json records the values, so a re-run with --config is the same run)."""
    from bertstudio.recommend import RECOMMENDED_SETTINGS, with_recommendation

    config, advice = with_recommendation(config, given)
    # Said once under `accelerate launch`. The launcher's RANK, not accelerate's state: creating
    # that state here, before the trainer picks the CPU's process-group backend, left every
    # process training a run of its own.
    if advice is not None and os.environ.get("RANK", "0") == "0":
        reasons = [advice.reasons[name] for name in RECOMMENDED_SETTINGS if name in advice.reasons and name not in given]
        print("recommended settings (a flag you give wins; --no-recommended-settings for the built-in "
              "defaults): " + " ".join(reasons), file=sys.stderr)
    return config


def _is_main_process() -> bool:
    from accelerate.state import PartialState

    return PartialState().is_main_process
