"""The events a search emits, beside its trials' own run events, so a caller (the CLI's progress
lines, the studio's live table and chart) can follow it. They are `bertstudio.events.Event`s: same
`time` stamp and `to_dict()`, delivered to the same kind of sink."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from bertstudio.events import Event

TRIAL_STATES = ("complete", "pruned", "failed", "stopped")


@dataclass
class SearchStarted(Event):
    type: ClassVar[str] = "search_started"
    search_id: str
    search_dir: str
    metric: str  # the validation metric trials are compared on
    higher_is_better: bool
    space: list[dict[str, Any]]  # Dimension.to_dict() of every searched setting
    fixed: dict[str, Any]  # the searchable settings the caller fixed, with their values
    trials: int | None  # how many trials at most (None: as many as the time budget allows)
    time_budget_seconds: float | None


@dataclass
class TrialStarted(Event):
    type: ClassVar[str] = "trial_started"
    number: int  # 1, 2, 3, ... in the order trials run
    params: dict[str, Any]


@dataclass
class TrialEnded(Event):
    type: ClassVar[str] = "trial_ended"
    number: int
    state: str  # one of TRIAL_STATES
    params: dict[str, Any]
    value: float | None  # the watched validation metric of the run's model; None when it failed
    run_dir: str | None
    seconds: float
    note: str = ""  # why it was pruned, stopped or failed, in a sentence
    is_best: bool = False  # the best trial so far


@dataclass
class SearchFinished(Event):
    type: ClassVar[str] = "search_finished"
    search_dir: str
    status: str  # "finished" | "out_of_time" | "stopped" (by the caller) | "failed" (no usable trial)
    trials_run: int
    best_number: int | None
    best_value: float | None
    best_run_dir: str | None
