"""Training inside the calling process, on a worker thread: the fastest start, no isolation."""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

from bertstudio.errors import StudioError
from bertstudio.events import EventSink
from bertstudio.launch.base import Launch, Outcome

if TYPE_CHECKING:
    from bertstudio.training.loop import StopControl


class ThreadLauncher:
    """Calls the trainer directly. A second Stop cannot end a thread by force: it waits for the step."""

    def run(self, launch: Launch, sink: EventSink, stop: "StopControl") -> Outcome:
        from bertstudio.training.trainer import train

        extra = {"resume_from": launch.resume_from} if launch.resume_from is not None else {}
        try:
            result = train(launch.config, sink=sink, stop=stop, run_id=launch.run_id, **extra)
        except StudioError as exc:  # refused before the run folder existed (e.g. a missing column)
            return Outcome("failed", exc.message)
        except Exception as exc:  # noqa: BLE001 - the worker must outlive any one job
            traceback.print_exc()
            return Outcome("failed", f"Training could not start: {type(exc).__name__}: {exc}")
        return Outcome(result.status, result.message, result)

    def force_stop(self, run_id: str) -> bool:
        return False

    def keeps_running_after_exit(self) -> bool:
        return False
