"""One `always_last` listener per control event, so gradio 6's deferred re-runs cannot loop.

gradio 6's page, when an `always_last` event finishes while a change that came in meanwhile waits
for it, re-dispatches the whole triggering event, every listener of that control's change, not
only its own function. With two or more `always_last` listeners on one control, two quick changes
(typing 24 then 32 into a slider's box, a drag) set them re-running one another for as long as the
page stays open: each finishing listener finds the others busy, defers them, and re-fires them all
(a slider with two such listeners and two quick sets ran 260 events in 15 s, and never stopped; the
Hyperparameters form has three on every setting). A `gr.State`'s change is dispatched listener by
listener, and a re-run then repeats only its own function.

So a control that several handlers follow gets one relay: its change (or input) stamps a hidden
State, and the handlers follow the State's change. `relays.change(control)` is used where
`control.change` was; the relay is made once per control and event, the first time it is asked
for. The stamp is a fresh number every time, so the handlers run after every relayed event, as
they did on the control's own event (an `.input` that sets a value the State had seen still
counts). The relay costs one small queued request before the handlers' own (queued: an event
sent without the queue comes back without the list of changed States, and its State's listeners
never run).
"""

from __future__ import annotations

import itertools
from typing import Callable

import gradio as gr

_stamps = itertools.count(1)


def _stamp() -> int:
    return next(_stamps)


class Relays:
    """The relay States of one page, made on first use inside its `gr.Blocks` context."""

    def __init__(self) -> None:
        self._states: dict[tuple[int, str], gr.State] = {}

    def change(self, control: gr.components.Component) -> Callable:
        """Use where `control.change` would be: fires after each of the control's changes."""
        return self._relay(control, "change")

    def input(self, control: gr.components.Component) -> Callable:
        """Use where `control.input` would be: fires after each of a person's own edits."""
        return self._relay(control, "input")

    def _relay(self, control: gr.components.Component, event: str) -> Callable:
        key = (control._id, event)
        if key not in self._states:
            state = gr.State(0)
            # always_last: a burst of changes stamps once more when the first stamp is back, so
            # the handlers see where the control stopped.
            getattr(control, event)(_stamp, None, state, trigger_mode="always_last",
                                    show_progress="hidden")
            self._states[key] = state
        return self._states[key].change
