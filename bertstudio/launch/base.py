"""The seam between the worker's queue and where a run executes: a `Launch` in, an `Outcome` out.

A launcher runs one training to its end, passing every event the run writes to the worker's sink as
it happens (for the queue's time estimate and any listener), and honours the job's stop control: a
first request ends the run after its current step, keeping the model; `force` ends it for good.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.events import EventSink

if TYPE_CHECKING:
    from bertstudio.training.loop import StopControl


@dataclass(frozen=True)
class Launch:
    """One training as the worker hands it over. `gpus`: the GPU indices chosen for it; empty for the
    launcher's default (the first GPU, else the CPU). `processes`: how many processes train it
    together (1 unless several GPUs, or CPU processes in a test, share the run). `cpu_only`: the
    CPU although GPUs are there."""

    run_id: str
    config: TrainConfig
    resume_from: Path | None = None
    gpus: tuple[int, ...] = ()
    processes: int = 1
    cpu_only: bool = False

    @property
    def run_dir(self) -> Path:
        return Path(self.config.output_dir) / self.run_id


@dataclass(frozen=True)
class Outcome:
    """How the run ended, as the worker records it on the job: "finished" | "stopped" | "failed",
    the engine's plain sentence, and the in-process `RunResult` where there is one."""

    state: str
    message: str = ""
    result: Any = None


class Launcher(Protocol):
    def run(self, launch: Launch, sink: EventSink, stop: "StopControl") -> Outcome: ...

    def force_stop(self, run_id: str) -> bool:
        """End the run for good now (a second Stop); False when this launcher cannot."""
        ...

    def keeps_running_after_exit(self) -> bool:
        """Whether its runs outlive the server (a child process does; a thread does not), so that a
        shutting-down server leaves them be and the next start follows them again."""
        ...


def outcome_of(training: Callable[[], Any]) -> Outcome:
    """Run an in-process training (anything returning a `RunResult`) to its `Outcome`: a mistake
    refused before its run folder existed is a failed outcome in its own words, and anything else
    a failed outcome too, so that the worker outlives any one job."""
    try:
        result = training()
    except StudioError as exc:  # refused before the run folder existed (e.g. a missing column)
        return Outcome("failed", exc.message)
    except Exception as exc:  # noqa: BLE001 - the worker must outlive any one job
        traceback.print_exc()
        return Outcome("failed", f"Training could not start: {type(exc).__name__}: {exc}")
    return Outcome(result.status, result.message, result)
