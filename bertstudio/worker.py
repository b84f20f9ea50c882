"""Background training jobs: one worker thread, a FIFO queue, one run on the device at a time.

The UI (or any caller) submits a `TrainConfig` and gets a `Job` back at once. The run id, and so
the run folder, is fixed at submission, which lets a page that is closed and reopened find the
run's `events.jsonl` again. Training never waits for a reader: the trainer appends its events to
that file, and whoever wants them reads the new bytes when it likes; an optional listener that
fails (a full queue, a closed socket) is detached rather than allowed to stop the run. Nothing here
knows about browsers or sessions beyond an opaque `owner` string, recorded beside the runs so that
only its owner can stop, resume or see a run, and an optional `address` (the visitor's network
address, which the caller decides how far to trust). A shared deployment can cap the queue, allow
each visitor (each owner token, and each address) one live job, and stop each run at a wall-time
limit. The count of live jobs per visitor lives here, on the server, where no visitor can reset it.

A job is a training run or a hyperparameter search (`submit_search`): one search runs its trials one
after another inside its job, so it holds the device, and the visitor's one live job, until it ends.

Where a training executes is the launcher's business (`bertstudio.launch`): in this process on the
worker thread (`ThreadLauncher`, the default here), or as a child process of its own
(`ProcessLauncher`, the studio's), which a second Stop can end for good and which outlives a
restart of the server: `adopt_running` then follows it again as the job on the device.
"""

from __future__ import annotations

import collections
import inspect
import statistics
import threading
import time
import traceback
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.events import Event, EventSink, NullSink
from bertstudio.hosting import owns, record_owner, recorded_owner
# The job and its states are named from here by the UI and the tests (bertstudio.worker.Job).
from bertstudio.job import (CANCELLED, DURATIONS_KEPT, ENDED, QUEUED, RUNNING, SEARCH, TRAIN,  # noqa: F401
                            VISITOR_BUSY, DetachingListener, Job)
from bertstudio.launch.base import Launch, Launcher
from bertstudio.launch.thread import ThreadLauncher
from bertstudio.training.progress import format_duration
from bertstudio.runs.folder import RunFolder, is_run_folder, new_run_id, run_to_resume
from bertstudio.search.jobs import SEARCH_REFUSED_HOSTED, SearchProgress, SearchRequest, run_search_job

if TYPE_CHECKING:  # the trainer pulls in torch: imported only when a job is submitted
    from bertstudio.search.study import SearchResult
    from bertstudio.training.trainer import RunResult

class JobManager:
    """Owns the single worker thread and its FIFO queue; started lazily by the first `submit`."""

    def __init__(self, *, max_waiting: int | None = None, one_per_owner: bool = False,
                 max_run_seconds: float | None = None, launcher: Launcher | None = None) -> None:
        """`max_waiting` caps the queue, `one_per_owner` allows each visitor (each owner, and each
        address a job was submitted with) one job waiting or training, `max_run_seconds` stops a
        run after that long (None: no limit), `launcher` runs each training (in this process unless
        given)."""
        self._launcher: Launcher = launcher or ThreadLauncher()
        self._lock = threading.Condition()
        self._waiting: collections.deque[Job] = collections.deque()
        self._jobs: dict[str, Job] = {}
        self._current: Job | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._max_waiting = max_waiting
        self._one_per_owner = one_per_owner
        self._max_run_seconds = max_run_seconds
        self._durations: collections.deque[float] = collections.deque(maxlen=DURATIONS_KEPT)

    @property
    def chooses_devices(self) -> bool:
        """Whether runs may be given their devices (GPUs, or the CPU): only in processes of their own."""
        return bool(getattr(self._launcher, "multi_process", False))

    # --- asking -----------------------------------------------------------------------------
    def submit(self, config: TrainConfig, owner: str, sink: EventSink | None = None, *,
               address: str | None = None, gpus: tuple[int, ...] | list[int] = (),
               processes: int | None = None, cpu_only: bool = False) -> Job:
        """Queue a run and return its job; bad settings are refused here, before it waits. `gpus`:
        the GPUs to train on, one process each (empty: the launcher's default device);
        `processes`: CPU processes that train it together where no GPU is chosen; `cpu_only`: the
        CPU even where there are GPUs."""
        from bertstudio.training.trainer import StopControl

        config = config.validate()
        # The folder path must be stable from the start: a reopened page finds events by it.
        config = config.replace(output_dir=str(Path(config.output_dir).resolve()))
        gpus = tuple(sorted(set(int(index) for index in gpus)))
        processes = len(gpus) if gpus else max(1, processes or 1)
        if gpus and cpu_only:
            raise StudioError("Pick the GPUs or the CPU to train on, not both.")
        # A thread trains where the server computes; only a child of its own can be given its devices.
        if (processes > 1 or gpus or cpu_only) and not self.chooses_devices:
            raise StudioError("Choosing the device needs each run in a process of its own; start the studio "
                              "with its default launcher (not --launcher thread), or leave the choice as it is.")
        job = Job(run_id=new_run_id(config.run_name), config=config, owner=owner, stop=StopControl(),
                  sink=sink or NullSink(), address=address, gpus=gpus, processes=processes, cpu_only=cpu_only)
        return self._enqueue(job)

    def resume(self, run_dir: str | Path, owner: str, sink: EventSink | None = None, *,
               address: str | None = None) -> Job:
        """Queue an interrupted run to continue from its last checkpoint, under its own id and folder.

        Refused for a run that is not interrupted, that another owner started, or that is already
        queued; the config is the one the run folder recorded.
        """
        from bertstudio.training.trainer import StopControl, train

        run = RunFolder(Path(run_dir).resolve())
        if not is_run_folder(run.path):
            raise StudioError(f"There is no run '{run.run_id}' to resume; pick one from the Runs tab.")
        stored = recorded_owner(run.path.parent, run.run_id)
        if stored is not None and not owns(run.path.parent, run.run_id, owner):
            raise StudioError("This run is not yours, so it cannot be resumed from this browser.")
        record = run_to_resume(run.path)  # interrupted, or failed on a full disk, with a checkpoint
        if "resume_from" not in inspect.signature(train).parameters:
            raise StudioError("This version of the trainer cannot resume runs; start the training again "
                              "from the Train tab.")
        config = record.config.replace(output_dir=str(run.path.parent))
        job = Job(run_id=run.run_id, config=config, owner=owner, stop=StopControl(),
                  sink=sink or NullSink(), resume_from=run.path, address=address)
        return self._enqueue(job)

    def submit_search(self, config: TrainConfig, owner: str, *, trials: int | None = None,
                      time_budget_seconds: float | None = None, fixed: tuple[str, ...] | list[str] = (),
                      search_seed: bool = False, sink: EventSink | None = None,
                      address: str | None = None) -> Job:
        """Queue a hyperparameter search over `config`'s settings (`run_search`): at most `trials`
        trials, none started after `time_budget_seconds`. Refused on a deployment that limits each
        run's wall time (a shared one): that limit would cut a search of several trainings short."""
        from bertstudio.training.trainer import StopControl

        if self._max_run_seconds is not None:
            raise StudioError(SEARCH_REFUSED_HOSTED)
        request = SearchRequest(trials=trials, time_budget_seconds=time_budget_seconds,
                                fixed=tuple(sorted(set(fixed))), search_seed=search_seed).checked()
        config = config.validate()
        config = config.replace(output_dir=str(Path(config.output_dir).resolve()))
        job = Job(run_id=new_run_id(f"{config.run_name or ''} search"), config=config, owner=owner,
                  stop=StopControl(), sink=sink or NullSink(), address=address, kind=SEARCH, request=request,
                  search=SearchProgress())
        return self._enqueue(job)

    def _enqueue(self, job: Job) -> Job:
        with self._lock:
            if self._closed:
                raise StudioError("The app is shutting down; start the training again after it restarts.")
            known = self._jobs.get(job.run_id)
            if known is not None and not known.ended:
                raise StudioError("This run is already waiting or training; follow it on the Train tab.")
            if self._one_per_owner and self._live_of(job.owner, job.address) is not None:
                raise StudioError(VISITOR_BUSY)
            if self._max_waiting is not None and len(self._waiting) >= self._max_waiting:
                raise StudioError(f"The queue is full ({len(self._waiting)} trainings waiting); try again "
                                  "in a few minutes.")
            # Only an accepted job is recorded, and before it waits, so that ownership survives a
            # restart of the app; a refusal above leaves nothing on disk. Under the lock, so a
            # second click cannot slip in between the check and the record.
            try:
                record_owner(job.config.output_dir, job.run_id, job.owner)
            except OSError as exc:
                raise StudioError("The server could not record your training (its disk may be full or "
                                  "read-only); try again later.", detail=str(exc)) from exc
            self._jobs[job.run_id] = job
            self._waiting.append(job)
            self._ensure_thread()
            self._lock.notify_all()
        return job

    def _live_of(self, owner: str, address: str | None) -> Job | None:
        """The job waiting or training for this owner token, or else for this address (the lock held)."""
        live = [job for job in self._jobs.values() if not job.ended]
        mine = [job for job in live if job.owned_by(owner)]
        same_place = [job for job in live if address and job.address == address]
        return (mine or same_place or [None])[0]

    def live_job(self, owner: str, address: str | None = None) -> Job | None:
        """This visitor's job that is waiting or training: the owner's own first, else one started
        from the same address (by another browser there). None when the visitor may start one."""
        with self._lock:
            return self._live_of(owner, address)

    def stop(self, run_id: str, owner: str) -> Job:
        """Stop a running job after its current step, or take a waiting one out of the queue. A
        second Stop of a running job ends it for good where the launcher can (a child process)."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None or not job.owned_by(owner):
                raise StudioError("This training is not yours or no longer known; reload the page.")
            if job.state == QUEUED:
                self._waiting.remove(job)
                job.state = CANCELLED
                job.message = "Taken out of the queue before it started."
                job.ended_at = time.time()
            elif job.state == RUNNING and job.stop.requested and job.kind == TRAIN:
                self._launcher.force_stop(job.run_id)
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

    def wait_estimate(self, run_id: str) -> float | None:
        """Seconds until a waiting job should start: what the running job has left plus a typical
        run for each job ahead. None when it is not waiting or nothing yet says how long runs take."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None or job.state != QUEUED:
                return None
            typical = statistics.median(self._durations) if self._durations else self._max_run_seconds
            if typical is None:
                return None
            if self._max_run_seconds is not None:
                typical = min(typical, self._max_run_seconds)
            now = time.time()
            left = 0.0
            current = self._current
            if current is not None:
                if current.eta_seconds is not None and current.eta_at is not None:
                    left = max(0.0, current.eta_seconds - (now - current.eta_at))
                else:
                    left = max(0.0, typical - (now - (current.started_at or now)))
                if self._max_run_seconds is not None and current.started_at is not None:
                    left = min(left, max(0.0, self._max_run_seconds - (now - current.started_at)))
            return left + typical * self._waiting.index(job)

    def waiting_count(self) -> int:
        with self._lock:
            return len(self._waiting)

    def busy(self) -> bool:
        with self._lock:
            return self._current is not None or bool(self._waiting)

    def waiting_jobs(self) -> list[Job]:
        """The jobs waiting in line, first in line first."""
        with self._lock:
            return list(self._waiting)

    def jobs_of(self, owner: str) -> list[Job]:
        with self._lock:
            return [job for job in self._jobs.values() if job.owned_by(owner)]

    def forget_ended(self, older_than: float) -> int:
        """Drop jobs that ended more than `older_than` seconds ago (their folders stay); returns how many."""
        cutoff = time.time() - older_than
        with self._lock:
            old = [run_id for run_id, job in self._jobs.items()
                   if job.ended and (job.ended_at or job.submitted) < cutoff]
            for run_id in old:
                del self._jobs[run_id]
        return len(old)

    def is_live(self, run_id: str) -> bool:
        """Whether the job is waiting or training (for the clean-up, which must leave it alone)."""
        with self._lock:
            job = self._jobs.get(run_id)
            return job is not None and not job.ended

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
        """Cancel what waits, ask the running job to stop, and wait for the thread to end. A training
        in a process of its own is left to carry on: the next server follows it again."""
        with self._lock:
            self._closed = True
            while self._waiting:
                job = self._waiting.popleft()
                job.state, job.message = CANCELLED, "The app shut down before this training started."
                job.ended_at = time.time()
            current = self._current
            outlives = current is not None and current.kind == TRAIN and self._launcher.keeps_running_after_exit()
            if current is not None and not outlives:
                current.stop.request()
            self._lock.notify_all()
            thread = self._thread
        if thread is not None and not outlives:
            thread.join(timeout)

    def adopt_running(self, runs_dir: str | Path) -> list[Job]:
        """Follow the runs still training in processes an earlier server started (after a restart):
        each becomes the running job again, its owner the one recorded beside the runs, so the
        page that started it can follow and stop it. New jobs wait until it ends."""
        from bertstudio.launch.adopt import still_training
        from bertstudio.training.trainer import StopControl

        adopt = getattr(self._launcher, "adopt", None)
        if adopt is None:
            return []
        found = []
        for record in still_training(runs_dir):
            job = Job(run_id=record.run_id, config=record.config.replace(output_dir=str(Path(record.path).parent)),
                      owner="", stop=StopControl(), state=RUNNING, started_at=time.time(), adopted=True)
            with self._lock:
                if record.run_id in self._jobs or self._current is not None:
                    continue  # one run on the device: a second survivor is only listed as running
                self._jobs[job.run_id] = job
                self._current = job
            threading.Thread(target=self._follow_adopted, args=(job, adopt), name="bertstudio-adopted",
                             daemon=True).start()
            found.append(job)
        return found

    def _follow_adopted(self, job: Job, adopt) -> None:
        outcome = adopt(job.run_dir, _Progress(self, job), job.stop)
        if outcome is None:  # it ended between the listing and now: its folder says how
            state, message = "failed", "The training process ended while the studio restarted."
        else:
            state, message = outcome.state, outcome.message
        self._end(job, state, message, None)
        with self._lock:
            self._ensure_thread()  # the queue may have filled meanwhile

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
                # An adopted run holds the device as `_current` until it ends.
                while (not self._waiting or self._current is not None) and not self._closed:
                    self._lock.wait()
                if not self._waiting or self._current is not None:
                    return
                job = self._waiting.popleft()
                job.state = RUNNING
                job.started_at = time.time()
                self._current = job
            timer = None
            if self._max_run_seconds is not None:
                timer = threading.Timer(self._max_run_seconds, self._time_up, args=(job,))
                timer.daemon = True
                timer.start()
            try:
                state, message, result = self._run(job)
            finally:
                if timer is not None:
                    timer.cancel()
            if job.timed_out and state == "stopped":
                message = (f"Stopped at this demo's time limit of {format_duration(self._max_run_seconds)} "
                           "per run; the model as it stood was kept.")
            self._end(job, state, message, result)

    def _end(self, job: Job, state: str, message: str, result) -> None:
        with self._lock:
            job.state, job.message, job.result = state, message, result
            job.ended_at = time.time()
            if state in ("finished", "stopped") and job.kind == TRAIN and not job.adopted:  # a search is no typical run
                self._durations.append(job.ended_at - job.started_at)
            self._current = None
            self._lock.notify_all()

    def _time_up(self, job: Job) -> None:
        with self._lock:
            job.timed_out = True
        job.stop.request()

    def _run(self, job: Job) -> "tuple[str, str, RunResult | SearchResult | None]":
        from bertstudio.events import FanOut

        if job.kind == SEARCH:
            with self._lock:  # the queue's wait estimate counts on the budget while the search runs
                job.eta_seconds, job.eta_at = job.request.time_budget_seconds, time.time()
            return run_search_job(job.config, job.request, job.owner, job.stop,
                                  partial(self._note_search, job), DetachingListener(job.sink))
        sink = FanOut([_Progress(self, job), DetachingListener(job.sink)])
        launch = Launch(run_id=job.run_id, config=job.config, resume_from=job.resume_from, gpus=job.gpus,
                        processes=job.processes, cpu_only=job.cpu_only)
        try:
            outcome = self._launcher.run(launch, sink, job.stop)
        except StudioError as exc:  # refused before the run could start (its folder cannot be written)
            return "failed", exc.message, None
        except Exception as exc:  # noqa: BLE001 - the worker must outlive any one job
            traceback.print_exc()
            return "failed", f"Training could not start: {type(exc).__name__}: {exc}", None
        return outcome.state, outcome.message, outcome.result

    def _note_search(self, job: Job, event: Event) -> None:
        with self._lock:
            job.search = job.search.after(event)

    def _note_progress(self, job: Job, event: Event) -> None:
        with self._lock:
            job.eta_seconds, job.eta_at = getattr(event, "eta_seconds", None), event.time


class _Progress:
    """Keeps the job's latest time-left estimate, in memory, for the queue's wait estimate."""

    def __init__(self, manager: JobManager, job: Job) -> None:
        self._manager, self._job = manager, job

    def emit(self, event: Event) -> None:
        if event.type == "step":
            self._manager._note_progress(self._job, event)
