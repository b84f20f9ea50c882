"""Typed training events, their JSON form, and the sinks that deliver them (callback, queue, jsonl).

The trainer only ever calls `sink.emit(event)`. What listens (the CLI's progress bar, the UI's
worker, `events.jsonl`) is decided by whoever starts the run; the trainer knows nothing about it.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator, Protocol


@dataclass
class Event:
    """Base of all events. `time` is seconds since the epoch, set when the event is made."""

    type: ClassVar[str] = "event"
    time: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass
class Started(Event):
    type: ClassVar[str] = "started"
    run_id: str
    run_dir: str
    config: dict[str, Any]
    labels: list[str]
    train_size: int
    validation_size: int
    total_steps: int
    steps_per_epoch: int
    device: str
    precision: str
    num_processes: int = 1
    resumed_from_step: int | None = None  # set when a run carries on from a checkpoint


@dataclass
class Step(Event):
    type: ClassVar[str] = "step"
    step: int
    total_steps: int
    epoch: float
    loss: float
    learning_rate: float
    grad_norm: float | None
    samples_per_second: float
    tokens_per_second: float
    elapsed_seconds: float
    eta_seconds: float | None


@dataclass
class Evaluation(Event):
    type: ClassVar[str] = "evaluation"
    step: int
    epoch: float
    metrics: dict[str, Any]  # loss, accuracy, macro_f1, per_class, confusion_matrix, labels
    is_best: bool = False


@dataclass
class Checkpoint(Event):
    type: ClassVar[str] = "checkpoint"
    step: int
    path: str
    is_best: bool = False


@dataclass
class Notice(Event):
    """Something the user should know that is not a failure (an automatic retry, a fallback)."""

    type: ClassVar[str] = "notice"
    message: str
    step: int | None = None


@dataclass
class Finished(Event):
    type: ClassVar[str] = "finished"
    run_dir: str
    metrics: dict[str, Any]
    steps: int
    elapsed_seconds: float
    stopped_early: bool = False
    best_step: int | None = None


@dataclass
class Stopped(Event):
    """The user asked to stop; the model as it stood was kept."""

    type: ClassVar[str] = "stopped"
    run_dir: str
    step: int
    metrics: dict[str, Any]
    elapsed_seconds: float


@dataclass
class Failed(Event):
    type: ClassVar[str] = "failed"
    message: str  # plain language: what went wrong and what to do
    detail: str = ""  # the technical cause, for the curious
    step: int | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls for cls in (Started, Step, Evaluation, Checkpoint, Notice, Finished, Stopped, Failed)
}
TERMINAL_TYPES = frozenset({"finished", "stopped", "failed"})


def event_from_dict(raw: dict[str, Any]) -> Event:
    """Rebuild a typed event from its JSON form; unknown keys (from newer versions) are ignored."""
    cls = EVENT_TYPES[raw["type"]]
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in raw.items() if k in names})


# --- sinks ------------------------------------------------------------------------------------


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...


class NullSink:
    """Listens to nothing, so the loop never has to ask whether anyone listens."""

    def emit(self, event: Event) -> None:
        pass


class CallbackSink:
    def __init__(self, callback: Callable[[Event], None]) -> None:
        self._callback = callback

    def emit(self, event: Event) -> None:
        self._callback(event)


class QueueSink:
    """Puts events on a queue without ever blocking the trainer (an unbounded queue)."""

    def __init__(self, target: "queue.Queue[Event] | None" = None) -> None:
        self.queue: "queue.Queue[Event]" = target if target is not None else queue.Queue()

    def emit(self, event: Event) -> None:
        self.queue.put_nowait(event)


class JsonlSink:
    """Appends one JSON line per event, written whole, so a reader (or a crash) sees whole lines.

    Every line is flushed to the OS at once (readers in other threads or processes see it); only
    the lines that end a run are also fsynced, because an fsync per step costs more than a small
    model's training step.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        line = json.dumps(event.to_dict(), default=_jsonable) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            if event.type in TERMINAL_TYPES:
                os.fsync(handle.fileno())


class FanOut:
    """Sends each event to several sinks, in order."""

    def __init__(self, sinks: Iterable[EventSink]) -> None:
        self.sinks = list(sinks)

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            sink.emit(event)


def read_events(path: str | Path, start: int = 0) -> tuple[list[Event], int]:
    """Events from `events.jsonl` beginning at byte `start`; returns them and the new offset.

    Only whole lines are read, so a line being written right now is picked up next time. This is
    what lets a reopened page rebuild its charts and then follow only what is new.
    """
    path = Path(path)
    if not path.exists():
        return [], start
    with open(path, "rb") as handle:
        handle.seek(start)
        chunk = handle.read()
    end = chunk.rfind(b"\n") + 1
    events = [event_from_dict(json.loads(line)) for line in chunk[:end].splitlines() if line.strip()]
    return events, start + end


def last_terminal_type(path: str | Path, tail_bytes: int = 65_536) -> str | None:
    """The type of the event that ended a run ('finished', 'stopped', 'failed'), or None.

    Only the end of the file is read: a run's status is asked for often (listings refresh) and
    an end event, when there is one, is among the last lines.
    """
    path = Path(path)
    if not path.exists():
        return None
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - tail_bytes))
        tail = handle.read()
    for line in reversed(tail.splitlines()):
        try:
            kind = json.loads(line).get("type")
        except (json.JSONDecodeError, AttributeError):
            continue  # a cut first line of the tail, or a line being written
        if kind in TERMINAL_TYPES:
            return kind
    return None


def iter_events(path: str | Path) -> Iterator[Event]:
    events, _ = read_events(path)
    return iter(events)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
