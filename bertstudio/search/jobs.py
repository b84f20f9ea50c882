"""A search as one of the worker's jobs (`JobManager.submit_search`): what it asks for, where it
stands, and the call that runs it in the worker's thread. Light at import, like the worker: optuna
and torch are imported only when a search job runs.

Where it stands is kept in memory from the search's own events (its folder once made, the trial
training now), so a page can follow it by reading that folder's search.json on each tick and
asking the job which trial is running; nothing waits for a reader.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable

from bertstudio.errors import StudioError
from bertstudio.events import Event, EventSink, FanOut
from bertstudio.hosting import record_owner

if TYPE_CHECKING:
    from bertstudio.config import TrainConfig
    from bertstudio.search.study import SearchResult
    from bertstudio.training.loop import StopControl

SEARCH_REFUSED_HOSTED = ("Searching for settings is not offered on this shared demo: a search trains many "
                         "models one after another, past the time each visitor gets. Run BERT Studio on your "
                         "own computer to use it, or pick a preset.")


@dataclass(frozen=True)
class SearchRequest:
    """What a search job asks `run_search` for, besides its config."""

    trials: int | None = None
    time_budget_seconds: float | None = None
    fixed: tuple[str, ...] = ()
    search_seed: bool = False

    def checked(self) -> "SearchRequest":
        """The request, or StudioError in the words `run_search` would use, before it waits in line."""
        if self.trials is None and self.time_budget_seconds is None:
            raise StudioError("Give the search a number of trials, a time budget, or both.")
        if self.trials is not None and self.trials < 1:
            raise StudioError(f"The number of trials is {self.trials}; give at least 1.")
        if self.time_budget_seconds is not None and not self.time_budget_seconds > 0:
            raise StudioError("The time budget must be more than zero minutes.")
        return self


@dataclass(frozen=True)
class SearchProgress:
    """Where a search job stands, from its events. Replaced whole on each event (`after`), so a
    reader in another thread takes one consistent snapshot by reading `job.search` once."""

    search_dir: str | None = None        # the search folder, once the search has made it
    trial_number: int | None = None      # the trial training now; None between trials
    trial_params: dict[str, Any] = field(default_factory=dict)
    trials_ended: int = 0

    def after(self, event: Event) -> "SearchProgress":
        from bertstudio.search.events import SearchStarted, TrialEnded, TrialStarted

        if isinstance(event, SearchStarted):
            return replace(self, search_dir=event.search_dir)
        if isinstance(event, TrialStarted):
            return replace(self, trial_number=event.number, trial_params=dict(event.params))
        if isinstance(event, TrialEnded):
            return replace(self, trial_number=None, trial_params={}, trials_ended=self.trials_ended + 1)
        return self


class _Tracker:
    """Hands each event to `note` (the manager's locked update of the progress) and records the
    owner beside each trial's run as it starts, so the trials are the visitor's own runs on the
    Runs and Predict tabs, like a run they started themselves."""

    def __init__(self, output_dir: str, owner: str, note: Callable[[Event], None]) -> None:
        self._output_dir, self._owner, self._note = output_dir, owner, note

    def emit(self, event: Event) -> None:
        if event.type == "started":
            try:
                record_owner(self._output_dir, event.run_id, self._owner)
            except OSError:  # the trial trains on; only a private deployment would hide it
                traceback.print_exc()
        self._note(event)


def run_search_job(config: "TrainConfig", request: SearchRequest, owner: str, stop: "StopControl",
                   note: Callable[[Event], None], listener: EventSink
                   ) -> "tuple[str, str, SearchResult | None]":
    """Run the search in this thread; returns the job's (state, message, result). "finished" when a
    trial gave a model to use, "stopped" when `stop` was asked for (by its owner, or a shutdown),
    "failed" with the engine's sentence when no trial could give one."""
    from bertstudio.search.study import run_search

    sink = FanOut([_Tracker(config.output_dir, owner, note), listener])
    try:
        result = run_search(config, trials=request.trials, time_budget_seconds=request.time_budget_seconds,
                            fixed=request.fixed, search_seed=request.search_seed, sink=sink, stop=stop)
    except StudioError as exc:  # bad input: found before the first trial, or by the trial it failed
        return "failed", exc.message, None
    except Exception as exc:  # noqa: BLE001 - the worker must outlive any one job
        traceback.print_exc()
        return "failed", f"The search could not run: {type(exc).__name__}: {exc}", None
    count = f"{len(result.trials)} trial{'s' if len(result.trials) != 1 else ''}"
    if result.status == "stopped":
        kept = "the best so far is kept" if result.best is not None else "no trial had a score yet"
        return "stopped", f"Stopped after {count}; {kept}.", result
    if result.best is None:
        return "failed", f"None of the {count} produced a model; each trial's note says why.", result
    if result.status == "out_of_time":
        return "finished", f"The time budget ran out after {count}.", result
    return "finished", "", result
