"""Training in slices: one run carried through several short calls, each ending with a checkpoint.

A ZeroGPU Space lends a GPU for a few minutes per call (`spaces.GPU(duration=...)`). A run longer
than that trains a slice per call, `train(..., slice=Slice(...))` ending each with a checkpoint,
and the next call resumes it (`resume_from`) exactly where the last stopped, so the run ends with
the same metrics and weights as one trained at once, every step logged once in events.jsonl.

`call` runs one slice: plainly here, or through the Space's GPU decorator:

    @spaces.GPU(duration=120)
    def on_gpu(piece):
        return piece()

    train_in_slices(config, slice_seconds=90, call=on_gpu)

ZeroGPU runs the decorated function in a forked process and pickles its argument and result, so
a slice is a picklable `SlicePiece`; a live sink or stop control cannot cross into that process
(see `SlicePiece.__getstate__`): there the run is followed through its events.jsonl, and Stop
takes effect at the next slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.events import EventSink
from bertstudio.training.loop import Slice, StopControl
from bertstudio.training.trainer import RunResult, train

Call = Callable[[Callable[[], RunResult]], RunResult]


@dataclass
class SlicePiece:
    """One call's share of a run: train from scratch (`resume_from` None) or carry on, for one slice."""

    config: TrainConfig
    slice: Slice
    run_id: str | None = None
    resume_from: str | None = None
    sink: EventSink | None = None
    stop: StopControl | None = None
    stop_now: bool = False  # Stop was pressed before this slice: end the run in it, keeping the model

    def __call__(self) -> RunResult:
        stop = self.stop or StopControl()
        if self.stop_now:
            stop.request()
        return train(self.config, sink=self.sink, stop=stop, run_id=self.run_id, resume_from=self.resume_from,
                     slice=self.slice)

    def __getstate__(self) -> dict[str, Any]:
        # Pickled only to cross into another process (ZeroGPU's forked worker): a queue-backed sink
        # or a threading.Event means nothing there, so they stay behind and the stop so far travels
        # as a flag. The child still writes the run's events.jsonl, which the studio follows.
        state = dict(self.__dict__)
        state["stop_now"] = self.stop_now or (self.stop is not None and self.stop.requested)
        state["sink"] = state["stop"] = None
        return state


def train_in_slices(config: TrainConfig, *, slice_steps: int | None = None, slice_seconds: float | None = None,
                    sink: EventSink | None = None, stop: StopControl | None = None, run_id: str | None = None,
                    call: Call = lambda fn: fn(), resume_from: str | Path | None = None) -> RunResult:
    """Train `config` one slice per `call` until the run ends; the last call's result.

    A slice ends after `slice_steps` optimizer steps or `slice_seconds` of its call (building the
    model included; leave the call room to save a checkpoint), at the next logged step. A slice
    that fails ends the run there, as a failed run (a full disk is resumable, as ever).
    `resume_from`: an interrupted run's folder, carried on from its last checkpoint.
    """
    if slice_steps is None and slice_seconds is None:
        raise StudioError("Give a slice length: slice_steps (optimizer steps) or slice_seconds per call.")
    if slice_steps is not None and slice_steps < 1 or slice_seconds is not None and not slice_seconds > 0:
        raise StudioError("A slice must be at least 1 step or more than 0 seconds long.")
    piece = SlicePiece(config, Slice(steps=slice_steps, seconds=slice_seconds), run_id=run_id, sink=sink, stop=stop,
                       resume_from=None if resume_from is None else str(resume_from))
    result = call(piece)
    while result.status == "paused":
        piece = SlicePiece(config, piece.slice, resume_from=str(Path(result.run_dir)), sink=sink, stop=stop,
                           stop_now=stop is not None and stop.requested)
        result = call(piece)
    return result
