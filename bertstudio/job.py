"""A job: one training (or search) request in the worker's queue, and where it stands.

Separate from the worker so that the UI and the launchers can name a job's fields without the
worker's queue and thread."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bertstudio.config import TrainConfig
from bertstudio.events import Event, EventSink, NullSink
from bertstudio.hosting import owns
from bertstudio.runs.folder import EVENTS_FILE
from bertstudio.search.jobs import SearchProgress, SearchRequest

if TYPE_CHECKING:
    from bertstudio.search.study import SearchResult
    from bertstudio.training.trainer import RunResult, StopControl

QUEUED = "queued"
RUNNING = "running"
CANCELLED = "cancelled"  # stopped while still waiting: it never started
ENDED = frozenset({"finished", "stopped", "failed", CANCELLED})
DURATIONS_KEPT = 20  # recent run lengths behind the queue's wait estimate
VISITOR_BUSY = "You already have a run waiting or training; wait for it to end or stop it."
TRAIN, SEARCH = "train", "search"  # the kinds of job


@dataclass
class Job:
    """One training (or search) request and where it stands. Fields change only under the manager's
    lock. A search job's `run_id` names the job only: its folder is `search.search_dir`, known once
    the search has started, and each trial is an ordinary run with its own folder."""

    run_id: str
    config: TrainConfig
    owner: str
    stop: "StopControl" = field(repr=False)
    sink: EventSink = field(default_factory=NullSink, repr=False)
    state: str = QUEUED          # queued | running | finished | stopped | failed | cancelled
    message: str = ""            # the engine's plain sentence when the job failed
    submitted: float = field(default_factory=time.time)
    result: "RunResult | SearchResult | None" = None
    resume_from: Path | None = None  # an interrupted run's folder, continued from its last checkpoint
    started_at: float | None = None
    ended_at: float | None = None
    eta_seconds: float | None = None  # the trainer's latest estimate of the time left
    eta_at: float | None = None       # when that estimate was made
    timed_out: bool = False           # stopped by the wall-time limit, not by its owner
    address: str | None = None        # the visitor's network address, when the caller knows one
    kind: str = TRAIN                 # TRAIN | SEARCH
    request: SearchRequest | None = None       # a search job's trials, budget and fixed settings
    search: SearchProgress | None = None       # a search job's progress (kept by the worker)
    gpus: tuple[int, ...] = ()        # the GPUs chosen for it; empty: the launcher's default device
    processes: int = 1                # processes that train it together (several GPUs)
    cpu_only: bool = False            # trained on the CPU although GPUs are there (the Train tab's choice)
    adopted: bool = False             # started by an earlier server; its owner is known by the record only

    def owned_by(self, owner: str) -> bool:
        """Whether `owner` (a browser's token) is this job's: an adopted job has only the hash
        recorded beside the runs, which the token must match."""
        if self.adopted:
            return owns(self.config.output_dir, self.run_id, owner)
        return bool(owner) and self.owner == owner

    @property
    def run_dir(self) -> Path:
        return Path(self.config.output_dir) / self.run_id

    @property
    def events_path(self) -> Path:
        return self.run_dir / EVENTS_FILE

    @property
    def ended(self) -> bool:
        return self.state in ENDED


class DetachingListener:
    """A caller's sink, detached at its first failure: a listener nobody drains (a full queue) or
    one whose browser went away must never stop the training it listens to."""

    def __init__(self, sink: EventSink) -> None:
        self._sink = sink
        self._detached = False

    def emit(self, event: Event) -> None:
        if self._detached:
            return
        try:
            self._sink.emit(event)
        except Exception:  # noqa: BLE001 - any listener failure; it is reported, then detached
            self._detached = True
            print("bertstudio: an event listener failed and was detached; training carries on.", flush=True)
            traceback.print_exc()
