"""Training inside the calling process, on a worker thread: the fastest start, no isolation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bertstudio.events import EventSink
from bertstudio.launch.base import Launch, Outcome, outcome_of

if TYPE_CHECKING:
    from bertstudio.training.loop import StopControl


class ThreadLauncher:
    """Calls the trainer directly. A second Stop cannot end a thread by force: it waits for the step."""

    def run(self, launch: Launch, sink: EventSink, stop: "StopControl") -> Outcome:
        from bertstudio.training.trainer import train

        extra = {"resume_from": launch.resume_from} if launch.resume_from is not None else {}
        return outcome_of(lambda: train(launch.config, sink=sink, stop=stop, run_id=launch.run_id, **extra))

    def force_stop(self, run_id: str) -> bool:
        return False

    def keeps_running_after_exit(self) -> bool:
        return False
