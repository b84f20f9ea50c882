"""Each run as its own process: `python -m bertstudio train --config <run>/config.json --run-id <id>`
on one device, `accelerate launch --multi_gpu --num_processes N -m bertstudio train …` on several.

The command is the one a person would type (the run's own config.json), so what the studio runs is
what the CLI re-runs. The server follows the child through the run's `events.jsonl`, exactly as the
pages do, and the child's output goes to `process.log` in the run folder. A first Stop interrupts
the child as Ctrl-C does (it stops after the step and keeps the model); a second Stop, or a child
still running `grace_seconds` after the first, is ended for good and the run marked stopped. A child
that dies without an end event (killed, crashed, out of memory) leaves a `Failed` event in plain
words with its log's last lines, resumable from its last checkpoint.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bertstudio.errors import StudioError
from bertstudio.events import Event, EventSink, Failed, JsonlSink, Stopped, last_terminal_event, read_events
from bertstudio.launch.base import Launch, Outcome
from bertstudio.launch.child import Child, describe_exit
from bertstudio.runs.checkpoint_state import checkpoint_step
from bertstudio.runs.folder import CONFIG_FILE, EVENTS_FILE, RunFolder

if TYPE_CHECKING:
    from bertstudio.training.loop import StopControl

GRACE_SECONDS = 300.0  # after a Stop: time to finish the step, evaluate and save the model
POLL_SECONDS = 0.5
LOG_LINES_SHOWN = 3    # of the child's output, in the failure's sentence (the detail keeps 40)


def child_command(launch: Launch, python: str = sys.executable, port: int | None = None) -> list[str]:
    """The command line of the child that trains `launch`."""
    if launch.resume_from is not None:
        arguments = ["train", "--resume", str(launch.run_dir)]
    else:
        arguments = ["train", "--config", str(launch.run_dir / CONFIG_FILE), "--run-id", launch.run_id]
    if launch.processes <= 1:
        return [python, "-m", "bertstudio", *arguments]
    # --multi_gpu is Accelerate's torchrun launcher: one process per GPU, or a gloo group of CPU
    # processes where there is none. Precision and compilation come from the run's own config.
    return [python, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(launch.processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", str(port or _free_port()), "-m", "bertstudio", *arguments]


def child_environment(launch: Launch, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["PYTHONUNBUFFERED"] = "1"  # the log shows each line as it is written, up to a crash
    # The child imports this very copy of bertstudio, installed or not (a checkout run as `python app.py`).
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
    if launch.gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(index) for index in launch.gpus)
    elif launch.cpu_only:
        env["CUDA_VISIBLE_DEVICES"] = ""  # CUDA then sees no GPU, and the trainer takes the CPU
    if launch.processes > 1 and not launch.gpus:  # CPU processes share the cores instead of each taking all
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // launch.processes)))
    return env


@dataclass
class _Following:
    child: Child
    started: float  # when the child started: an end event older than that is an earlier attempt's
    forced: threading.Event = field(default_factory=threading.Event)


class ProcessLauncher:
    """Starts and follows child processes; `adopt` follows one an earlier server started."""

    multi_process = True  # a run may train in several processes (one per GPU)

    def __init__(self, *, grace_seconds: float = GRACE_SECONDS, poll_seconds: float = POLL_SECONDS,
                 python: str = sys.executable, env: dict[str, str] | None = None) -> None:
        self._grace, self._poll, self._python, self._env = grace_seconds, poll_seconds, python, env
        self._lock = threading.Lock()
        self._following: dict[str, _Following] = {}

    def run(self, launch: Launch, sink: EventSink, stop: "StopControl") -> Outcome:
        run_dir = launch.run_dir
        if launch.resume_from is None:
            _write_config(launch)
        offset = _size(run_dir / EVENTS_FILE)  # a resumed run's earlier events are known already
        started = time.time()
        child = Child.start(child_command(launch, self._python), run_dir, child_environment(launch, self._env))
        return self._follow(launch.run_id, _Following(child, started), sink, stop, offset)

    def adopt(self, run_dir: Path, sink: EventSink, stop: "StopControl") -> Outcome | None:
        """Follow the still-running child of a run started before this server; None if it is gone."""
        child = Child.find(run_dir)
        if child is None:
            return None
        return self._follow(run_dir.name, _Following(child, child.started), sink, stop, _size(run_dir / EVENTS_FILE))

    def force_stop(self, run_id: str) -> bool:
        with self._lock:
            following = self._following.get(run_id)
        if following is None:
            return False
        following.forced.set()
        return True

    def keeps_running_after_exit(self) -> bool:
        return True

    def _follow(self, run_id: str, following: _Following, sink: EventSink, stop: "StopControl",
                offset: int) -> Outcome:
        with self._lock:
            self._following[run_id] = following
        try:
            return self._watch(following, sink, stop, offset)
        finally:
            with self._lock:
                self._following.pop(run_id, None)

    def _watch(self, following: _Following, sink: EventSink, stop: "StopControl", offset: int) -> Outcome:
        child, events_path = following.child, following.child.run_dir / EVENTS_FILE
        interrupted_at, last_step = None, None
        while True:
            alive = child.alive()
            # Resuming cuts the log back to the checkpoint: carry on from its new end.
            offset = min(offset, _size(events_path))
            events, offset = read_events(events_path, offset)
            for event in events:
                last_step = getattr(event, "step", last_step) if event.type == "step" else last_step
                sink.emit(event)
            if not alive:
                break
            if stop.requested and interrupted_at is None:
                child.interrupt()
                interrupted_at = time.monotonic()
            if following.forced.is_set() or (interrupted_at is not None
                                              and time.monotonic() - interrupted_at > self._grace):
                child.kill()
                events, offset = read_events(events_path, offset)  # what it wrote before it went
                for event in events:
                    sink.emit(event)
                return _ended(following, sink, forced=True, last_step=last_step)
            time.sleep(self._poll)
        return _ended(following, sink, forced=False, last_step=last_step, asked_to_stop=stop.requested)


def _ended(following: _Following, sink: EventSink, *, forced: bool, last_step: int | None,
           asked_to_stop: bool = False) -> Outcome:
    """The outcome from the run's own end event; without one, the end the server writes for it."""
    child = following.child
    run = RunFolder(child.run_dir)
    ending = last_terminal_event(run.file(EVENTS_FILE))
    if ending is not None and ending.time >= following.started - 1.0:
        return Outcome(ending.type, getattr(ending, "message", "") or "")
    step = last_step or 0
    if forced or asked_to_stop:
        message = f"Stopped for good at step {step}, before the model could be saved; no model was kept."
        event: Event = Stopped(run_dir=str(child.run_dir), step=step, metrics={}, elapsed_seconds=0.0,
                               note=message)
    else:
        resumable = checkpoint_step(child.run_dir) is not None
        lines = child.log_tail()
        said = describe_exit(child.exit_code())
        tail = " | ".join(lines[-LOG_LINES_SHOWN:])
        message = (f"{said} (at step {step}). " + (f"Its last output: “{tail}”. " if tail else "")
                   + ("Resume it from the Runs tab: it carries on from its last checkpoint."
                      if resumable else "Start the run again; it had not saved a checkpoint yet."))
        event = Failed(message=message, detail="\n".join(lines), step=step, resumable=resumable)
    _record(run, event, sink)
    return Outcome(event.type, message)


def _record(run: RunFolder, event: Event, sink: EventSink) -> None:
    """The end, in the run's log (so every page and listing tells it) and to the worker's sink."""
    try:
        JsonlSink(run.file(EVENTS_FILE)).emit(event)
    except OSError:
        pass  # a full disk: the job's state still says it
    run.clear_process()
    sink.emit(event)


def _write_config(launch: Launch) -> None:
    """The run folder with its config.json, before the child starts: the child reads its settings
    from there (as `bertstudio train --config` does for anyone), and the log has a folder to go to."""
    try:
        run = RunFolder(launch.run_dir) if launch.run_dir.exists() else RunFolder.create(launch.config.output_dir,
                                                                                          launch.run_id)
        run.write_json(CONFIG_FILE, launch.config.to_dict())
    except OSError as exc:
        raise StudioError(f"Cannot write into the run folder '{launch.run_dir}'; check that the runs folder "
                          "is writable and the disk has space.", detail=str(exc)) from exc


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
