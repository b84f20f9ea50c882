"""Training events rendered for a terminal: a progress bar on a TTY, plain lines otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from bertstudio.events import Evaluation, Event, Failed, Finished, Notice, Started, Step, Stopped

if TYPE_CHECKING:
    from bertstudio.tasks.base import Task


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def describe_metrics(metrics: dict, task: str | None = None) -> str:
    """"macro_f1 0.8000, accuracy 0.8125, loss 0.4512": the numbers `task` measures, in its order
    (its headline first), under the names --metric-for-best takes. With no task known (a log from
    before tasks, a task this copy lacks), every task's metrics that `metrics` holds, loss last."""
    known = _task(task)
    if known is not None:
        names = list(known.metrics)
    else:
        from bertstudio.tasks.registry import TASKS

        names = list(dict.fromkeys(name for each in TASKS.values() for name in each.metrics if name != "loss"))
        names.append("loss")
    return ", ".join(f"{name} {metrics[name]:.4f}" for name in names
                     if isinstance(metrics.get(name), (int, float)) and not isinstance(metrics.get(name), bool))


def _task(name: str | None) -> "Task | None":
    """The task called `name`, or None when there is none or this copy does not know it."""
    if not name or name == "auto":
        return None
    from bertstudio.errors import StudioError
    from bertstudio.tasks.registry import get_task

    try:
        return get_task(name)
    except StudioError:
        return None


def _targets(event: Started, task: "Task | None") -> str:
    """What the run learns to predict: "one label per row ('negative', 'neutral', 'positive')"."""
    if task is None:
        return f"{len(event.labels)} classes"
    from bertstudio.tasks.wording import some_names

    return f"{task.title[:1].lower()}{task.title[1:]} ({some_names(event.labels)})"


class ConsoleProgress:
    """Event callback for the CLI. Lines go to `stream` (stderr), keeping stdout for the run path."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.interactive = hasattr(stream, "isatty") and stream.isatty()
        self._bar = None
        self.task: str | None = None  # the run's task, once its Started event has said it

    def handle(self, event: Event) -> None:
        if isinstance(event, Started):
            configured = (event.config or {}).get("task")
            self.task = event.task or (configured if isinstance(configured, str) else None)
            self._line(f"run {event.run_id}: {event.train_size} training rows, {event.validation_size} "
                       f"validation rows, {_targets(event, _task(self.task))}, {event.total_steps} steps on "
                       f"{event.device} ({event.precision}, {event.num_processes} process(es))")
            if self.interactive:
                from tqdm import tqdm

                self._close_bar()
                self._bar = tqdm(total=event.total_steps, file=self.stream, unit="step", dynamic_ncols=True)
        elif isinstance(event, Step):
            text = (f"step {event.step}/{event.total_steps}  epoch {event.epoch:.2f}  loss {event.loss:.4f}  "
                    f"lr {event.learning_rate:.2e}  {event.samples_per_second:.1f} samples/s  "
                    f"eta {format_duration(event.eta_seconds)}")
            if self._bar is not None:
                self._bar.n = event.step
                self._bar.set_postfix_str(f"loss {event.loss:.4f}", refresh=False)
                self._bar.refresh()
            else:
                self._line(text)
        elif isinstance(event, Evaluation):
            self._line(f"evaluation at step {event.step}: {describe_metrics(event.metrics, self.task)}"
                       + ("  (best so far)" if event.is_best else ""))
        elif isinstance(event, Notice):
            self._line(f"note: {event.message}")
        elif isinstance(event, Finished):
            self._close_bar()
            self._line(f"finished in {format_duration(event.elapsed_seconds)}"
                       + (" (stopped early: no improvement)" if event.stopped_early else "")
                       + f": {describe_metrics(event.metrics, self.task)}")
        elif isinstance(event, Stopped):
            self._close_bar()
            self._line(f"stopped at step {event.step}; the model so far was kept: "
                       f"{describe_metrics(event.metrics, self.task)}")
        elif isinstance(event, Failed):
            self._close_bar()

    def _line(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def close(self) -> None:
        self._close_bar()
