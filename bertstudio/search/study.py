"""Running a search: trials one after another in this process, each an ordinary run (`train`),
chosen by Optuna's TPE sampler and cut short by its median pruner, within a trial count and/or a
time budget, recorded in the search folder (`record.py`) and told as events (`events.py`).

`run_search` is the callable API: the CLI calls it, and the studio can call it from a background
thread, following the events it emits and stopping it through the `stop` it passes in.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.events import Evaluation, EventSink, JsonlSink, Notice, NullSink, Started
from bertstudio.search.events import SearchFinished, SearchStarted, TrialEnded, TrialStarted
from bertstudio.search.record import (SearchRecord, TrialRecord, best_trial, create_folder, new_search_id,
                                      write_record)
from bertstudio.search.space import Dimension, apply_params, search_space
from bertstudio.training.loop import StopControl

# The pruner judges a trial only once two trials have completed (a median of one is that trial's
# luck) and never on its first evaluation: warmup is not over then, so every schedule looks bad.
PRUNER_STARTUP_TRIALS = 2
PRUNER_WARMUP_EVALUATIONS = 2


@dataclass
class SearchResult:
    search_dir: str
    status: str  # "finished" | "out_of_time" | "stopped"
    trials: list[TrialRecord]
    best: TrialRecord | None
    best_config: TrainConfig | None  # what best_config.json holds: the best trial's settings


class TrialStop(StopControl):
    """One trial's stop: pruning asks for it, the search's own stop (the caller's Stop button,
    Ctrl-C) and the time budget running out count too. The loop reads `requested` once per step."""

    def __init__(self, search_stop: StopControl, deadline: float | None) -> None:
        super().__init__()
        self._search_stop, self._deadline = search_stop, deadline
        self.pruned = False

    def prune(self) -> None:
        self.pruned = True
        self.request()

    @property
    def out_of_time(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    @property
    def requested(self) -> bool:
        return super().requested or self._search_stop.requested or self.out_of_time


class _TrialSink:
    """Passes a trial's run events on to the caller and reports each evaluation's watched metric to
    the optuna trial; when the pruner says the trial is behind, it says so in the run's own log and
    stops the run, which then ends stopped with its model, like any stopped run."""

    def __init__(self, trial, metric: str, stop: TrialStop, forward: EventSink) -> None:
        self.trial, self.metric, self.stop, self.forward = trial, metric, stop, forward
        self.run_dir: str | None = None
        self.total_steps = 0
        self.evaluations = 0

    def emit(self, event) -> None:
        self.forward.emit(event)
        if isinstance(event, Started):
            self.run_dir, self.total_steps = event.run_dir, event.total_steps
        elif isinstance(event, Evaluation) and not self.stop.requested:
            self._judge(event)

    def _judge(self, event: Evaluation) -> None:
        value = event.metrics.get(self.metric)
        if not _finite(value):
            return
        # Trials are compared per evaluation (epochs seen), not per optimizer step: a batch of 8
        # takes four times the steps of a batch of 32 over the same rows.
        self.evaluations += 1
        self.trial.report(float(value), step=self.evaluations)
        if event.step >= self.total_steps or not self.trial.should_prune():
            return  # the last evaluation ends the run anyway: it is a complete trial
        notice = Notice(message=f"The search stopped this run after evaluation {self.evaluations}: its "
                        f"{self.metric} ({value:.4g}) was behind the other trials' at the same point.",
                        step=event.step)
        # The trainer's own log sink has already written this evaluation; the notice goes after it,
        # before the run's end event, so the log reads in order.
        JsonlSink(Path(self.run_dir) / "events.jsonl").emit(notice)
        self.forward.emit(notice)
        self.stop.prune()


def run_search(config: TrainConfig, *, trials: int | None = None, time_budget_seconds: float | None = None,
               fixed: Iterable[str] = (), search_seed: bool = False, sink: EventSink | None = None,
               stop: StopControl | None = None, first_trials: Sequence[dict[str, Any]] = (),
               pruner: Any = None) -> SearchResult:
    """Search the settings in `config`'s space for the best validation metric and return the result.

    `config` holds the data, the model and every setting not searched; `fixed` names searchable
    settings kept at `config`'s value. At most `trials` trials, none started after
    `time_budget_seconds` (a running one is stopped when it runs out). `first_trials`: settings to
    try before the sampler's own (e.g. today's defaults); `pruner`: an optuna pruner instead of
    the median rule. `sink` hears the search events and every trial's run events; `stop` ends the
    current trial (keeping its model) and the search. Raises StudioError for bad input, before
    any trial where it can be found (data, columns, model), else when a trial fails because of it.
    """
    import optuna

    if trials is None and time_budget_seconds is None:
        raise StudioError("Give the search a number of trials, a time budget, or both.")
    if trials is not None and trials < 1:
        raise StudioError(f"The number of trials is {trials}; give at least 1.")
    if time_budget_seconds is not None and not time_budget_seconds > 0:
        raise StudioError("The time budget must be more than zero minutes.")
    sink, stop = sink or NullSink(), stop or StopControl()
    config = _with_absolute_paths(config.validate())
    fixed = sorted(set(fixed))
    dims = search_space(fixed, search_seed)
    metric, higher = _watched_metric(config)  # reads the data and the tokenizer: bad input fails here
    sampler = optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=_random_trials(trials))
    pruner = pruner or optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS,
                                                   n_warmup_steps=PRUNER_WARMUP_EVALUATIONS)
    study = optuna.create_study(direction="maximize" if higher else "minimize", sampler=sampler, pruner=pruner)
    for params in first_trials:
        study.enqueue_trial(dict(params))

    search_id = new_search_id()
    folder = create_folder(config.output_dir, search_id)
    record = SearchRecord(
        search_id=search_id, metric=metric, higher_is_better=higher, space=[d.to_dict() for d in dims],
        fixed={name: getattr(config, name) for name in fixed}, sampler=_describe(sampler, seed=config.seed),
        pruner=_describe(pruner), trials_requested=trials, time_budget_seconds=time_budget_seconds,
        base_config=config.to_dict())
    write_record(folder, record, None)
    sink.emit(SearchStarted(search_id=search_id, search_dir=str(folder), metric=metric, higher_is_better=higher,
                            space=record.space, fixed=record.fixed, trials=trials,
                            time_budget_seconds=time_budget_seconds))
    deadline = time.monotonic() + time_budget_seconds if time_budget_seconds else None
    best_config = _run_trials(study, dims, config, record, folder, sink, stop, deadline)
    best = best_trial(record)
    sink.emit(SearchFinished(search_dir=str(folder), status=record.status, trials_run=len(record.trials),
                             best_number=best.number if best else None, best_value=best.value if best else None,
                             best_run_dir=best.run_dir if best else None))
    return SearchResult(str(folder), record.status, record.trials, best, best_config)


def _run_trials(study, dims: list[Dimension], config: TrainConfig, record: SearchRecord, folder: Path,
                sink: EventSink, stop: StopControl, deadline: float | None) -> TrainConfig | None:
    """Trials until the count, the budget or the stop says enough; the record is rewritten after
    each. Returns the best trial's config. A trial that failed because of the user's input ends
    the search with that StudioError: every other trial would fail the same way."""
    best_config: TrainConfig | None = None
    record.status = "finished"
    while record.trials_requested is None or len(record.trials) < record.trials_requested:
        if stop.requested or (deadline is not None and time.monotonic() >= deadline):
            break
        trial_stop = TrialStop(stop, deadline)
        trial, trial_config = _ask(study, dims, config)
        params = {d.name: getattr(trial_config, d.name) for d in dims}
        sink.emit(TrialStarted(number=trial.number + 1, params=params))
        entry, mistake = _run_trial(study, trial, trial_config, params, record.metric, sink, trial_stop)
        record.trials.append(entry)
        best = best_trial(record)
        if best is not None and best.number == entry.number:
            best_config = trial_config.replace(run_name=config.run_name)
        record.best_number = best.number if best else None
        if mistake is not None:
            record.status = "failed"
        write_record(folder, record, best_config)
        sink.emit(TrialEnded(number=entry.number, state=entry.state, params=entry.params, value=entry.value,
                             run_dir=entry.run_dir, seconds=entry.seconds, note=entry.note,
                             is_best=record.best_number == entry.number))
        if mistake is not None:
            raise StudioError(mistake)
    if stop.requested:
        record.status = "stopped"
    elif deadline is not None and time.monotonic() >= deadline:
        record.status = "out_of_time"
    write_record(folder, record, best_config)
    return best_config


def _ask(study, dims: list[Dimension], config: TrainConfig):
    """The next trial and its config (an enqueued trial's settings, else the sampler's). Trials
    are numbered from 1 for people (optuna counts from 0)."""
    trial = study.ask()
    params = {d.name: d.suggest(trial) for d in dims}
    name = f"{config.run_name or 'search'}-trial-{trial.number + 1}"
    return trial, apply_params(config, params).replace(run_name=name)


def _run_trial(study, trial, config: TrainConfig, params: dict[str, Any], metric: str, sink: EventSink,
               stop: TrialStop) -> tuple[TrialRecord, str | None]:
    """Train one trial's run, tell optuna how it went, and return its record (plus the message of
    a failure the user's input caused)."""
    from optuna.trial import TrialState

    from bertstudio.training.trainer import train

    started = time.monotonic()
    result = train(config, sink=_TrialSink(trial, metric, stop, sink), stop=stop)
    seconds = time.monotonic() - started
    value = result.metrics.get(metric) if result.status != "failed" else None
    value = float(value) if _finite(value) else None
    state, note = "complete", ""
    if result.status == "failed" or value is None:
        state, note = "failed", result.message or f"The run measured no {metric} on the validation rows."
    elif result.status == "stopped":
        state = "pruned" if stop.pruned else "stopped"
        note = ("behind the other trials at the same evaluation" if stop.pruned else
                "the time budget ran out" if stop.out_of_time else "the search was stopped")
    if state == "complete":
        study.tell(trial, value)
    else:  # a cut-short trial counts for the sampler by its last reported value
        study.tell(trial, state=TrialState.FAIL if state == "failed" else TrialState.PRUNED)
    entry = TrialRecord(number=trial.number + 1, state=state, params=params, value=value, run_dir=result.run_dir,
                        seconds=round(seconds, 2), note=note)
    return entry, result.message if result.status == "failed" and result.mistake else None


def _watched_metric(config: TrainConfig) -> tuple[str, bool]:
    """The validation metric trials are compared on, and whether higher is better. Reads the data
    (columns, labels, task) and the tokenizer once, so a bad file or model fails before any trial."""
    from bertstudio.data.dataset import prepare_data
    from bertstudio.models import load_tokenizer
    from bertstudio.tasks.base import PRETRAINING_TASK
    from bertstudio.tasks.registry import get_task, watched_metric

    if config.task == PRETRAINING_TASK:
        raise StudioError("The search tunes fine-tuning on labelled data; continued pretraining "
                          f"(task {PRETRAINING_TASK}) is run with `bertstudio pretrain` instead.")
    if not config.data:
        raise StudioError("No training data given; pass --data FILE (a CSV or TSV).")
    task = get_task(prepare_data(config).task)
    metric = watched_metric(task, config.metric_for_best)
    load_tokenizer(config.model)
    return metric, task.higher_is_better(metric)


def _random_trials(trials: int | None) -> int:
    """TPE's random start: a quarter of the trials (3 to 10), so a short search still gets to use
    what it learnt; optuna's default of 10 would make a search of 8 trials random search."""
    return 10 if trials is None else min(10, max(3, trials // 4))


def _describe(component, **extra: Any) -> dict[str, Any]:
    """An optuna sampler or pruner as search.json records it: its class and its settings."""
    settings = {key.lstrip("_"): value for key, value in vars(component).items()
                if isinstance(value, (int, float, str, bool)) and not key.startswith("__")}
    return {"name": type(component).__name__, **settings, **extra}


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _with_absolute_paths(config: TrainConfig) -> TrainConfig:
    """best_config.json must re-run from any working folder, so the data paths are made absolute."""
    return config.replace(**{name: str(Path(value).resolve()) for name in ("data", "validation_data")
                             if (value := getattr(config, name))})
