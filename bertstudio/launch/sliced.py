"""A ZeroGPU Space's launcher: each run trained in slices, one `spaces.GPU` call per slice.

There the GPU exists only inside a decorated call of a few minutes, so a child process of our own
would never see one. The run is carried through as many calls as it needs (`train_in_slices`),
each ending with a checkpoint the next resumes from; Stop takes effect in the next slice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bertstudio.events import EventSink
from bertstudio.launch.base import Launch, Outcome, outcome_of

if TYPE_CHECKING:
    from bertstudio.training.loop import StopControl
    from bertstudio.training.slices import Call


class SlicedLauncher:
    """Trains on the worker's thread, a slice per `call` (for example a `spaces.GPU` function)."""

    def __init__(self, call: "Call", slice_seconds: float | None = None, slice_steps: int | None = None) -> None:
        """A slice ends after `slice_seconds` of its call (a Space's) or `slice_steps` optimizer steps."""
        self._call, self._slice_seconds, self._slice_steps = call, slice_seconds, slice_steps

    def run(self, launch: Launch, sink: EventSink, stop: "StopControl") -> Outcome:
        from bertstudio.training.slices import train_in_slices

        return outcome_of(lambda: train_in_slices(launch.config, slice_seconds=self._slice_seconds,
                                                  slice_steps=self._slice_steps, sink=sink,
                                                  stop=stop, run_id=launch.run_id, call=self._call,
                                                  resume_from=launch.resume_from))

    def force_stop(self, run_id: str) -> bool:
        return False  # a slice in a GPU call cannot be ended from here; the next one stops it

    def keeps_running_after_exit(self) -> bool:
        return False
