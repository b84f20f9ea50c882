"""Typed training events, their JSON form, and the sinks that deliver them (callback, queue, jsonl).

The trainer only ever calls `sink.emit(event)`. What listens (the CLI's progress bar, the UI's
worker, `events.jsonl`) is decided by whoever starts the run; the trainer knows nothing about it.
"""

from __future__ import annotations

import contextlib
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
    # The task the run trains ("single_label", "multi_label", "regression"): the config may say
    # "auto". None in the logs of versions before tasks; readers then look elsewhere.
    task: str | None = None


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
    # One sentence when the saved model learned nothing useful (`Task.learned_nothing`); None
    # otherwise, and in logs from versions before the check.
    warning: str | None = None


@dataclass
class Stopped(Event):
    """The user asked to stop; the model as it stood was kept."""

    type: ClassVar[str] = "stopped"
    run_dir: str
    step: int
    metrics: dict[str, Any]
    elapsed_seconds: float
    warning: str | None = None  # as Finished's: the model as it stood learned nothing useful
    # Set when the stop was not the usual one: a run ended for good (a second Stop, or a process
    # that did not stop in time) before it could save, which keeps no model.
    note: str | None = None


@dataclass
class Failed(Event):
    type: ClassVar[str] = "failed"
    message: str  # plain language: what went wrong and what to do
    detail: str = ""  # the technical cause, for the curious
    step: int | None = None
    # True when the cause was outside the run (a full disk while saving): resuming from the last
    # checkpoint can then succeed. A NaN loss or a missing column would only fail again.
    resumable: bool = False


@dataclass
class Adaptation(Event):
    """Progress of the continued pretraining a fine-tuning run does first (`adapt_epochs`), told in
    the fine-tuning run's own log so its page can chart it; the pretraining run keeps its full log
    in its own folder (`run_dir`). `phase`: "started", "step", "evaluation" or how it ended
    ("finished", "stopped", "failed"). `loss`: the masked-LM loss (training at a step, validation
    at an evaluation)."""

    type: ClassVar[str] = "adaptation"
    phase: str
    run_dir: str
    step: int = 0
    total_steps: int = 0
    loss: float | None = None
    metrics: dict[str, Any] | None = None
    message: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls for cls in (Started, Step, Evaluation, Checkpoint, Notice, Finished, Stopped, Failed, Adaptation)
}
TERMINAL_TYPES = frozenset({"finished", "stopped", "failed"})


def event_from_dict(raw: dict[str, Any]) -> Event:
    """Rebuild a typed event from its JSON form; unknown keys (from newer versions) are ignored.

    Raises ValueError for anything that is not a whole, well-typed event (an unknown type, a
    missing field, a loss that is text), so that no reader is handed a value it cannot format.
    """
    if not isinstance(raw, dict):
        raise ValueError("an event is a JSON object")
    kind = raw.get("type")
    # A damaged line may hold any JSON there (a list cannot even be looked up in a dict).
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event type {raw.get('type')!r}")
    values = {}
    for f in fields(cls):
        if f.name not in raw:
            continue
        if not _has_type(raw[f.name], str(f.type)):
            raise ValueError(f"{cls.type} event: '{f.name}' is {type(raw[f.name]).__name__}, not {f.type}")
        values[f.name] = raw[f.name]
    metrics = values.get("metrics")
    if metrics is not None and not _metrics_are_sound(metrics):
        raise ValueError(f"{cls.type} event: malformed metrics")
    try:
        return cls(**values)
    except TypeError as exc:  # a required field is missing
        raise ValueError(f"{cls.type} event: {exc}") from exc


_PLAIN_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "dict": (dict,), "list": (list,),
    "None": (type(None),), "Any": (object,),
}


def _has_type(value: Any, annotation: str) -> bool:
    """Whether a JSON value fits a field annotation such as 'float | None' or 'dict[str, Any]'."""
    for option in annotation.split("|"):
        name = option.strip().split("[", 1)[0]
        kinds = _PLAIN_TYPES.get(name, (object,))
        if isinstance(value, bool) and bool not in kinds and object not in kinds:
            continue  # JSON true is not a step number
        if isinstance(value, kinds):
            return True
    return False


def metrics_problem(metrics: Any) -> str | None:
    """What is wrong with a metrics object (from an event or metrics.json), or None when it is sound.

    Only the parts every reader formats are checked: headline numbers, per-class rows, the
    confusion matrix and the label names."""
    if not isinstance(metrics, dict):
        return "it is not a JSON object"
    for key in ("accuracy", "macro_f1", "loss", "best_step", "steps"):
        value = metrics.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"its '{key}' is not a number"
    per_class = metrics.get("per_class")
    if per_class is not None and not (isinstance(per_class, dict) and all(
            isinstance(row, dict) and all(isinstance(row.get(k), (int, float, type(None)))
                                          for k in ("precision", "recall", "f1", "support"))
            for row in per_class.values())):
        return "its per-class table is malformed"
    matrix = metrics.get("confusion_matrix")
    if matrix is not None and not (isinstance(matrix, list) and all(
            isinstance(row, list) and all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in row)
            for row in matrix)):
        return "its confusion matrix is malformed"
    labels = metrics.get("labels")
    if labels is not None and not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
        return "its label names are malformed"
    return None


def _metrics_are_sound(metrics: Any) -> bool:
    return metrics_problem(metrics) is None


def decode_line(line: bytes) -> Event | None:
    """One line of events.jsonl as an event, or None for a line no reader can use (binary junk,
    a cut line glued to the next, an event type from a newer version)."""
    try:
        return event_from_dict(json.loads(line))
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


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
    model's training step. A line that could not be written whole (a full disk) is cut back off,
    and a file left ending mid-line (a crash, an older version) gets a newline before the first
    new event, so a new event is never glued onto a cut one.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._line_start_checked = False

    def emit(self, event: Event) -> None:
        line = (json.dumps(event.to_dict(), default=_jsonable) + "\n").encode("utf-8")
        with self._lock, open(self.path, "ab") as handle:
            size = handle.seek(0, os.SEEK_END)
            if not self._line_start_checked:
                line = b"\n" + line if size and not _ends_with_newline(self.path, size) else line
            try:
                handle.write(line)
                handle.flush()
                if event.type in TERMINAL_TYPES:
                    os.fsync(handle.fileno())
            except OSError:
                # Cutting a file shorter needs no free space, so this works on a full disk too.
                with contextlib.suppress(OSError):
                    handle.truncate(size)
                self._line_start_checked = False
                raise
            self._line_start_checked = True


def _ends_with_newline(path: Path, size: int) -> bool:
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        return handle.read(1) == b"\n"


class FanOut:
    """Sends each event to several sinks, in order; one sink that fails does not starve the next.

    The first failure is raised once every sink has had the event, so the trainer still learns
    that its events.jsonl could not be written while the page's listener hears the news."""

    def __init__(self, sinks: Iterable[EventSink]) -> None:
        self.sinks = list(sinks)

    def emit(self, event: Event) -> None:
        error: Exception | None = None
        for sink in self.sinks:
            try:
                sink.emit(event)
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the other sinks
                error = error or exc
        if error is not None:
            raise error


def read_events(path: str | Path, start: int = 0) -> tuple[list[Event], int]:
    """Events from `events.jsonl` beginning at byte `start`; returns them and the new offset.

    Only whole lines are read, so a line being written right now is picked up next time. This is
    what lets a reopened page rebuild its charts and then follow only what is new. Lines that are
    not a whole, known event are skipped, never raised: one bad line must not hide a run.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            chunk = handle.read()
    except FileNotFoundError:
        return [], start
    except OSError:
        return [], start
    end = chunk.rfind(b"\n") + 1
    events = [event for line in chunk[:end].splitlines() if line.strip()
              if (event := decode_line(line)) is not None]
    return events, start + end


def last_terminal_event(path: str | Path, tail_bytes: int = 65_536) -> Event | None:
    """The event that ended the run (Finished, Stopped or Failed), or None while it has not ended.

    An end event is always the last one a run writes, so the last readable line decides (a
    `started` after a `failed` is a resumed run, not an ended one). Only the end of the file is
    read, as a status is asked for often; it reaches further back only past junk lines.
    """
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            span = tail_bytes
            while True:
                start = max(0, size - span)
                handle.seek(start)
                lines = handle.read(size - start).splitlines()
                if start > 0:
                    lines = lines[1:]  # the first line of a tail is cut
                for line in reversed(lines):
                    event = decode_line(line)
                    if event is not None:
                        return event if event.type in TERMINAL_TYPES else None
                if start == 0:
                    return None
                span *= 4
    except OSError:
        return None


def last_terminal_type(path: str | Path, tail_bytes: int = 65_536) -> str | None:
    """The type of the event that ended a run ('finished', 'stopped', 'failed'), or None."""
    event = last_terminal_event(path, tail_bytes)
    return event.type if event is not None else None


def iter_events(path: str | Path) -> Iterator[Event]:
    events, _ = read_events(path)
    return iter(events)


def truncate_after_step(path: str | Path, step: int) -> None:
    """Cut the log back to what it said when training stood at `step` (a checkpoint being resumed).

    Kept: every line up to the first that belongs to a later step, or that ended the run. Dropped
    with them: lines no reader can decode. The resumed run then writes those steps again, so
    any reader of the file (charts, the CLI, someone's own script) sees each step once. The
    kept lines go to a new file swapped in whole, so a follower notices the log was replaced.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    kept = []
    for line in raw.splitlines():
        event = decode_line(line)
        if event is None:
            continue
        # An adaptation's steps (`adapt_epochs`) are the pretraining run's own, told before this
        # run's Started: they count apart from this run's steps and are all kept.
        if event.type in TERMINAL_TYPES or (event.type != "adaptation" and (getattr(event, "step", None) or 0) > step):
            break
        kept.append(line + b"\n")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.writelines(kept)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
