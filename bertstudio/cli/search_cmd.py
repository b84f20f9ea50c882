"""`bertstudio search`: a hyperparameter search from train's flags (those given are fixed, the rest of
the searchable settings searched), one progress line per trial on stderr, Ctrl-C as a stop that
ends the current trial and reports the best so far, and the best trial's run folder as the last
line of stdout."""

from __future__ import annotations

import argparse
import signal
import sys

from bertstudio.cli.flags import EXIT_FAILED, config_from_args
from bertstudio.errors import StudioError


def run(args: argparse.Namespace) -> int:
    """Search; 0 when a best trial was found, 1 when every trial failed, 2 for bad input."""
    from bertstudio.events import CallbackSink
    from bertstudio.search.space import searchable_fields
    from bertstudio.search.study import run_search
    from bertstudio.training.trainer import StopControl

    _quiet_optuna()
    if args.trials is None and args.time_budget is None:
        args.trials = DEFAULT_TRIALS
    if args.time_budget is not None and not args.time_budget > 0:
        raise StudioError("--time-budget is in minutes and must be more than 0.")
    config = config_from_args(args)
    fixed = [name for name in searchable_fields() if name in vars(args)]
    if args.search_seed and "seed" in vars(args):
        raise StudioError("--search-seed searches the seed, but --seed fixes it; give one of the two.")
    stop = StopControl()
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum, frame):  # first Ctrl-C: end this trial keeping its model, report the best
        print("\nstopping the search after this step (Ctrl-C again to abort)…", file=sys.stderr)
        stop.request()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, on_interrupt)
    progress = SearchProgress(sys.stderr)
    try:
        result = run_search(config, trials=args.trials, fixed=fixed, search_seed=args.search_seed,
                            time_budget_seconds=None if args.time_budget is None else args.time_budget * 60,
                            sink=CallbackSink(progress.handle), stop=stop)
    finally:
        signal.signal(signal.SIGINT, previous)
    print(f"search folder: {result.search_dir}", file=sys.stderr)
    if result.best is None:
        print("error: no trial produced a model; see the failed trials' notes in "
              f"{result.search_dir}/trials.csv", file=sys.stderr)
        return EXIT_FAILED
    best = result.best
    print(f"best: trial {best.number} ({progress.metric} {best.value:.4f}), "
          f"{_params(best.params)}; re-run it with: bertstudio train --config "
          f"{result.search_dir}/best_config.json", file=sys.stderr)
    print(best.run_dir)
    return 0


DEFAULT_TRIALS = 20


class SearchProgress:
    """Search events as lines on `stream`: each trial's settings, its evaluations, how it ended."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.metric, self.total, self.number = "", None, 0

    def handle(self, event) -> None:
        from bertstudio.events import Evaluation
        from bertstudio.search.events import SearchStarted, TrialEnded, TrialStarted

        if isinstance(event, SearchStarted):
            self.metric, self.total = event.metric, event.trials
            budget = (f", within {event.time_budget_seconds / 60:g} minutes" if event.time_budget_seconds else "")
            fixed = f"; fixed: {_params(event.fixed)}" if event.fixed else ""
            self._line(f"search {event.search_id}: up to {event.trials or 'as many'} trials{budget}, "
                       f"best by validation {event.metric}; searching "
                       f"{', '.join(d['name'] for d in event.space)}{fixed}")
        elif isinstance(event, TrialStarted):
            self.number = event.number
            self._line(f"trial {event.number}{self._of()}: {_params(event.params)}")
        elif isinstance(event, Evaluation):
            value = event.metrics.get(self.metric)
            if isinstance(value, (int, float)):
                self._line(f"  trial {self.number}, epoch {event.epoch:.3g}: {self.metric} {value:.4f}")
        elif isinstance(event, TrialEnded):
            value = "" if event.value is None else f" {self.metric} {event.value:.4f}"
            note = f" ({event.note})" if event.note else ""
            best = ", best so far" if event.is_best else ""
            self._line(f"trial {event.number} {event.state}{value}{best} in {event.seconds:.0f}s{note}: "
                       f"{event.run_dir}")

    def _of(self) -> str:
        return f"/{self.total}" if self.total else ""

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def _params(params: dict) -> str:
    return ", ".join(f"{name} {value:.3g}" if isinstance(value, float) else f"{name} {value}"
                     for name, value in params.items())


def _quiet_optuna() -> None:
    """optuna logs every trial at INFO; the progress lines above say it in the studio's words."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
