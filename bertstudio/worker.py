"""Background training jobs: one worker thread, a FIFO queue, one run on the device at a time.

The UI (or any caller) submits a `TrainConfig` and gets a `Job` back at once. The run id, and so
the run folder, is fixed at submission, which lets a page that is closed and reopened find the
run's `events.jsonl` again. Training never waits for a reader: the trainer appends its events to
that file, and whoever wants them reads the new bytes when it likes. Nothing here knows about
browsers or sessions beyond an opaque `owner` string used to refuse strangers' stop requests.
"""

from __future__ import annotations

import collections
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.events import EventSink, NullSink
from bertstudio.runs import EVENTS_FILE, new_run_id

if TYPE_CHECKING:  # the trainer pulls in torch: imported only when a job is submitted
    from bertstudio.trainer import RunResult, StopControl

QUEUED = "queued"
RUNNING = "running"
CANCELLED = "cancelled"  # stopped while still waiting: it never started
ENDED = frozenset({"finished", "stopped", "failed", CANCELLED})


@dataclass
class Job:
    """One training request and where it stands. Fields change only under the manager's lock."""

    run_id: str
    config: TrainConfig
    owner: str
    stop: "StopControl" = field(repr=False)
    sink: EventSink = field(default_factory=NullSink, repr=False)
    state: str = QUEUED          # queued | running | finished | stopped | failed | cancelled
    message: str = ""            # the engine's plain sentence when the job failed
    submitted: float = field(default_factory=time.time)
    result: "RunResult | None" = None

    @property
    def run_dir(self) -> Path:
        return Path(self.config.output_dir) / self.run_id

    @property
    def events_path(self) -> Path:
        return self.run_dir / EVENTS_FILE

    @property
    def ended(self) -> bool:
        return self.state in ENDED


class JobManager:
    """Owns the single worker thread and its FIFO queue; started lazily by the first `submit`."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._waiting: collections.deque[Job] = collections.deque()
        self._jobs: dict[str, Job] = {}
        self._current: Job | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    # --- asking -----------------------------------------------------------------------------
    def submit(self, config: TrainConfig, owner: str, sink: EventSink | None = None) -> Job:
        """Queue a run and return its job; bad settings are refused here, before it waits."""
        from bertstudio.trainer import StopControl

        config = config.validate()
        # The folder path must be stable from the start: a reopened page finds events by it.
        config = config.replace(output_dir=str(Path(config.output_dir).resolve()))
        job = Job(run_id=new_run_id(config.run_name), config=config, owner=owner,
                  stop=StopControl(), sink=sink or NullSink())
        with self._lock:
            if self._closed:
                raise StudioError("The app is shutting down; start the training again after it restarts.")
            self._jobs[job.run_id] = job
            self._waiting.append(job)
            self._ensure_thread()
            self._lock.notify_all()
        return job

    def stop(self, run_id: str, owner: str) -> Job:
        """Stop a running job after its current step, or take a waiting one out of the queue."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None or job.owner != owner:
                raise StudioError("This training is not yours or no longer known; reload the page.")
            if job.state == QUEUED:
                self._waiting.remove(job)
                job.state = CANCELLED
                job.message = "Taken out of the queue before it started."
            elif job.state == RUNNING:
                job.stop.request()
            return job

    def get(self, run_id: str | None) -> Job | None:
        with self._lock:
            return self._jobs.get(run_id) if run_id else None

    def position(self, run_id: str) -> int | None:
        """0 while training, k when k-th in line (1 = next), None once it has ended or is unknown."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None or job.ended:
                return None
            if job.state == RUNNING:
                return 0
            return self._waiting.index(job) + 1

    def waiting_count(self) -> int:
        with self._lock:
            return len(self._waiting)

    def busy(self) -> bool:
        with self._lock:
            return self._current is not None or bool(self._waiting)

    def jobs_of(self, owner: str) -> list[Job]:
        with self._lock:
            return [job for job in self._jobs.values() if job.owner == owner]

    def wait(self, run_id: str, timeout: float | None = None) -> Job:
        """Block until the job has ended (for tests and scripts); returns it either way."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            job = self._jobs[run_id]
            while not job.ended:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._lock.wait(left)
            return job

    def shutdown(self, timeout: float | None = None) -> None:
        """Cancel what waits, ask the running job to stop, and wait for the thread to end."""
        with self._lock:
            self._closed = True
            while self._waiting:
                job = self._waiting.popleft()
                job.state, job.message = CANCELLED, "The app shut down before this training started."
            if self._current is not None:
                self._current.stop.request()
            self._lock.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # --- the worker -------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            # A daemon thread: an app that exits takes a half-done run with it, and the run's
            # folder then reads as "interrupted" rather than hanging the exit.
            self._thread = threading.Thread(target=self._work, name="bertstudio-worker", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._closed:
                    self._lock.wait()
                if not self._waiting:
                    return
                job = self._waiting.popleft()
                job.state = RUNNING
                self._current = job
            state, message, result = self._run(job)
            with self._lock:
                job.state, job.message, job.result = state, message, result
                self._current = None
                self._lock.notify_all()

    @staticmethod
    def _run(job: Job) -> "tuple[str, str, RunResult | None]":
        from bertstudio.trainer import train

        try:
            result = train(job.config, sink=job.sink, stop=job.stop, run_id=job.run_id)
        except StudioError as exc:  # refused before the run folder existed (e.g. a missing column)
            return "failed", exc.message, None
        except Exception as exc:  # noqa: BLE001 - the worker must outlive any one job
            traceback.print_exc()
            return "failed", f"Training could not start: {type(exc).__name__}: {exc}", None
        return result.status, result.message, result
