"""A run's history as the Train tab follows it: points appended from new events only, no gradio."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from bertstudio.events import (Adaptation, Checkpoint, Evaluation, Event, Failed, Finished, Notice, Started,
                               Step, Stopped, read_events)
from bertstudio.tasks.wording import metric_name
from bertstudio.training.progress import format_duration
from bertstudio.ui.task_views import DEFAULT_TASK, get_view

LOG_LINES_KEPT = 300  # the on-screen log shows the latest lines; the file keeps them all
# The live chart shows the first two of these that an evaluation reports: accuracy and macro-F1
# for one label per row, macro- and micro-F1 for several, Pearson and RMSE for a score. Read from
# the metrics the run emits, so a task's chart needs no code here.
CHARTED = ("accuracy", "macro_f1", "micro_f1", "pearson", "rmse", "spearman", "mae")
# A masked-LM run (pretraining) reports loss, perplexity and the share of hidden words guessed
# right: perplexity is the number people compare, so it is charted first.
CHARTED_BY_TASK = {"masked_lm": ("perplexity", "accuracy")}
ADAPTATION_ENDS = ("finished", "stopped", "failed")


@dataclass
class AdaptationHistory:
    """The continued pretraining a fine-tuning run does first (`adapt_epochs`), from the
    `Adaptation` events its log tells before its own Started: the masked-LM loss at each logged
    step, and the validation loss and perplexity at each evaluation."""

    run_dir: str = ""
    phase: str = ""  # the latest event's: "started", "step", "evaluation", or how it ended
    total_steps: int = 0
    started_time: float | None = None
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    step_time: list[float] = field(default_factory=list)  # when each step was logged, for the time left
    eval_step: list[int] = field(default_factory=list)
    eval_loss: list[float | None] = field(default_factory=list)
    eval_perplexity: list[float | None] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)  # the latest evaluation's, or the final ones

    @property
    def ended(self) -> bool:
        return self.phase in ADAPTATION_ENDS

    @property
    def last_step(self) -> int:
        return self.step[-1] if self.step else 0

    def add(self, event: Adaptation) -> str:
        """Fold one event in; returns the event log's line for it ("" for none)."""
        self.run_dir = event.run_dir or self.run_dir
        self.total_steps = event.total_steps or self.total_steps
        metrics = event.metrics if isinstance(event.metrics, dict) else {}
        if event.phase != "notice":  # a notice (a retry, a fallback) says nothing of where it stands
            self.phase = event.phase
        if event.phase == "started":
            self.started_time = event.time
            return event.message or "Adapting the model to your texts first."
        if event.phase == "step" and event.loss is not None:
            self.step.append(event.step)
            self.loss.append(event.loss)
            self.step_time.append(event.time)
            return f"Adapting, step {event.step}/{self.total_steps}: masked-LM loss {event.loss:.4f}."
        if event.phase == "evaluation":
            self.eval_step.append(event.step)
            self.eval_loss.append(_number(event.loss if event.loss is not None else metrics.get("loss")))
            self.eval_perplexity.append(_number(metrics.get("perplexity")))
            self.metrics = metrics
            return f"Adaptation validation at step {event.step}: {_adaptation_words(metrics)}."
        if event.phase == "finished":
            self.metrics = metrics or self.metrics
            return (f"Adaptation finished after {event.step} steps: {_adaptation_words(self.metrics)}. "
                    "Fine-tuning the adapted model next.")
        if event.phase == "stopped":
            self.metrics = metrics or self.metrics
            return f"Adaptation stopped at step {event.step}."
        if event.phase == "failed":
            return f"Adaptation failed: {event.message}"
        return event.message


@dataclass
class TrainHistory:
    """Everything the live charts and the progress line need, built by `add`-ing events in order."""

    run_id: str = ""
    task: str = DEFAULT_TASK
    # The task decided from the data when the run's config says "auto", for a log whose Started
    # event does not name it (older versions): the follower reads it from the run's data.json
    # (written before the Started event) and hands it in here.
    detected_task: str | None = None
    labels: list[str] = field(default_factory=list)
    total_steps: int = 0
    steps_per_epoch: int = 0
    train_size: int = 0
    validation_size: int = 0
    device: str = ""
    config: dict[str, Any] = field(default_factory=dict)  # the Started event's settings (the planned schedule)
    # one entry per Step event
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    # one entry per Evaluation event; `eval_scores` holds every number an evaluation reported,
    # by metric name (None where one evaluation lacked a metric another had)
    eval_step: list[int] = field(default_factory=list)
    eval_loss: list[float | None] = field(default_factory=list)
    eval_scores: dict[str, list[float | None]] = field(default_factory=dict)
    last: Step | None = None
    last_metrics: dict[str, Any] = field(default_factory=dict)
    ending: Event | None = None  # Finished, Stopped or Failed
    log: list[str] = field(default_factory=list)
    # Set once the log tells an adaptation (`adapt_epochs`): it comes before the run's Started.
    adaptation: AdaptationHistory | None = None

    @property
    def started(self) -> bool:
        return bool(self.run_id)

    @property
    def ended(self) -> bool:
        return self.ending is not None

    @property
    def adapting(self) -> bool:
        """The run is adapting the model to its texts (or just has), its fine-tuning not begun yet."""
        return self.adaptation is not None and not self.started and self.ending is None

    @property
    def charted(self) -> list[str]:
        """The metrics the live chart draws: the first two of `CHARTED` the evaluations report."""
        return [name for name in CHARTED_BY_TASK.get(self.task, CHARTED) if name in self.eval_scores][:2]

    @property
    def eval_accuracy(self) -> list[float | None]:
        return self.eval_scores.get("accuracy", [])

    @property
    def eval_f1(self) -> list[float | None]:
        return self.eval_scores.get("macro_f1", [])

    def add(self, events: Iterable[Event]) -> "TrainHistory":
        for event in events:
            self._add(event)
        del self.log[:-LOG_LINES_KEPT]
        return self

    def _add(self, event: Event) -> None:
        if isinstance(event, Started):
            if event.resumed_from_step is not None:
                self._rewind(event.resumed_from_step)
            self.run_id, self.labels = event.run_id, list(event.labels)
            self.task = _resolved_task(event, self.detected_task)
            self.total_steps, self.steps_per_epoch = event.total_steps, event.steps_per_epoch
            self.train_size, self.validation_size = event.train_size, event.validation_size
            self.device = event.device
            self.config = dict(event.config) if isinstance(event.config, dict) else {}
            precision = {"no": "fp32"}.get(event.precision, event.precision)
            self._log(event, f"Started on {event.device} ({precision}): {event.train_size} "
                             f"training rows, {event.validation_size} validation rows, "
                             f"{get_view(self.task).targets_words(event.labels)}, {event.total_steps} steps.")
        elif isinstance(event, Step):
            self.step.append(event.step)
            self.loss.append(event.loss)
            self.learning_rate.append(event.learning_rate)
            self.total_steps = event.total_steps or self.total_steps
            self.last = event
            self._log(event, f"Step {event.step}/{event.total_steps}: loss {event.loss:.4f}, "
                             f"learning rate {event.learning_rate:.2e}.")
        elif isinstance(event, Evaluation):
            metrics = event.metrics
            self.eval_step.append(event.step)
            self.eval_loss.append(metrics.get("loss"))
            self._add_scores(metrics)
            self.last_metrics = metrics
            self._log(event, f"Validation at step {event.step}: {_metric_words(metrics)}"
                             + (" (best so far)." if event.is_best else "."))
        elif isinstance(event, Checkpoint):
            self._log(event, f"Model saved at step {event.step}.")
        elif isinstance(event, Notice):
            self._log(event, event.message)
        elif isinstance(event, Finished):
            self.ending = event
            self.last_metrics = event.metrics or self.last_metrics
            self._log(event, f"Finished in {format_duration(event.elapsed_seconds)}"
                             + (" (stopped early: no more improvement)" if event.stopped_early else "")
                             + f": {_metric_words(event.metrics)}.")
            self._log_warning(event)
        elif isinstance(event, Stopped):
            self.ending = event
            self.last_metrics = event.metrics or self.last_metrics
            self._log(event, "Stopped before the fine-tuning began." if self.adaptation and not self.started
                      else f"Stopped at step {event.step}; the model so far was kept.")
            self._log_warning(event)
        elif isinstance(event, Failed):
            self.ending = event
            self._log(event, f"Failed: {event.message}")
        elif isinstance(event, Adaptation):
            if self.adaptation is None or event.phase == "started":
                self.adaptation = AdaptationHistory()  # a retried run adapts again from the start
            line = self.adaptation.add(event)
            if line:
                self._log(event, line)

    def _add_scores(self, metrics: dict[str, Any]) -> None:
        """One value per evaluation for every numeric metric, the lists kept as long as `eval_step`."""
        count = len(self.eval_step)
        for name, value in metrics.items():
            if name != "loss" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.eval_scores.setdefault(name, [None] * (count - 1)).append(float(value))
        for values in self.eval_scores.values():
            values.extend([None] * (count - len(values)))

    def _rewind(self, step: int) -> None:
        """A resumed run replays the steps after its checkpoint: drop the first take of them."""
        keep = sum(1 for s in self.step if s <= step)
        del self.step[keep:], self.loss[keep:], self.learning_rate[keep:]
        keep = sum(1 for s in self.eval_step if s <= step)
        del self.eval_step[keep:], self.eval_loss[keep:]
        for values in self.eval_scores.values():
            del values[keep:]
        self.ending = None

    def _log_warning(self, event: Event) -> None:
        if self.warning:
            self._log(event, f"Warning: {self.warning}")

    @property
    def warning(self) -> str | None:
        """The sentence the run ended with when its model learned nothing useful, else None."""
        warning = getattr(self.ending, "warning", None)
        return warning if isinstance(warning, str) and warning.strip() else None

    def _log(self, event: Event, text: str) -> None:
        self.log.append(f"{time.strftime('%H:%M:%S', time.localtime(event.time))}  {text}")

    @property
    def status(self) -> str:
        """'waiting', 'running', 'finished', 'stopped' or 'failed'."""
        if self.ending is not None:
            return self.ending.type
        return "running" if self.started or self.adaptation is not None else "waiting"

    @property
    def progress(self) -> float:
        if self.ending is not None and self.ending.type == "finished":
            return 1.0
        if self.adapting:
            total = self.adaptation.total_steps
            return min(1.0, self.adaptation.last_step / total) if total else 0.0
        if not self.total_steps or self.last is None:
            return 0.0
        return min(1.0, self.last.step / self.total_steps)


@dataclass
class FollowedRun:
    """A run the page follows: its events file, how far it has been read, and the history so far."""

    run_id: str
    events_path: str
    offset: int = 0
    history: TrainHistory = field(default_factory=TrainHistory)
    file_id: tuple[int, int] | None = None  # (device, inode) of the log the offset points into

    def poll(self) -> bool:
        """Read only the bytes added since the last poll; True when anything new arrived.

        A resumed run's log is cut back to its checkpoint and swapped in as a new file: the
        offset then means nothing, so the history is rebuilt from the new file's start."""
        try:
            info = os.stat(self.events_path)
        except OSError:
            return False
        file_id = (info.st_dev, info.st_ino)
        if self.file_id is not None and (file_id != self.file_id or info.st_size < self.offset):
            self.offset, self.history = 0, TrainHistory()
        self.file_id = file_id
        events, self.offset = read_events(self.events_path, self.offset)
        if self.history.detected_task is None and any(isinstance(e, Started) and not e.task for e in events):
            self.history.detected_task = detected_task(os.path.dirname(self.events_path))
        self.history.add(events)
        return bool(events)


def detected_task(run_dir: str) -> str | None:
    """The task the run's data.json records (decided from the data for a run set to "auto")."""
    from bertstudio.runs.folder import DATA_FILE, RunFolder

    record = RunFolder(Path(run_dir)).read_json(DATA_FILE)
    task = record.get("task") if isinstance(record, dict) else None
    return task if isinstance(task, str) and task else None


def _resolved_task(event: Started, detected: str | None) -> str:
    """The task a run trains: what its Started event says, else its config unless "auto", else
    what its data.json recorded, else one label per row (a run from before tasks)."""
    if event.task:
        return event.task
    task = (event.config or {}).get("task")
    if isinstance(task, str) and task not in ("", "auto"):
        return task
    return detected or DEFAULT_TASK


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _adaptation_words(metrics: dict[str, Any]) -> str:
    """"validation loss 4.1200, perplexity 61.56": a masked-LM evaluation as the log says it."""
    named = (("loss", "validation loss", 4), ("perplexity", "perplexity", 2),
             ("accuracy", "hidden words guessed right", 3))
    parts = [f"{words} {metrics[key]:.{digits}f}" for key, words, digits in named
             if _number(metrics.get(key)) is not None]
    return ", ".join(parts) or "no validation numbers"


def _metric_words(metrics: dict[str, Any]) -> str:
    """"accuracy 0.8125, macro F1 0.8000, loss 0.4512": the charted scores and the loss."""
    names = [name for name in CHARTED + ("perplexity",) if isinstance(metrics.get(name), (int, float))][:2] + ["loss"]
    parts = [f"{metric_name(name)} {metrics[name]:.4f}" for name in names
             if isinstance(metrics.get(name), (int, float))]
    return ", ".join(parts) or "no metrics"
