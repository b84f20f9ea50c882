"""Requests gradio refuses before a handler runs: one line in the server log, not a traceback.

Gradio checks every value a page (or a script) sends before our handlers see it: a run id that is
not among the dropdown's choices, a number past its slider, a file path outside its cache. Each
refusal is a `gr.Error` the visitor is shown, and gradio's queue prints its full traceback unless
the error says otherwise, so a stale page or a forged request filled the log with tracebacks that
point at nothing wrong in the app. Those errors are marked here as not worth a traceback and
logged in one line; errors from anything else (a bug in a handler) still print in full.
"""

from __future__ import annotations

import functools

import gradio as gr


def quiet_refusals(demo: gr.Blocks) -> gr.Blocks:
    """Wrap `demo`'s input checking so that its refusals log one line each; returns `demo`."""
    check = demo.preprocess_data

    @functools.wraps(check)
    async def preprocess_data(*args, **kwargs):
        try:
            return await check(*args, **kwargs)
        except gr.Error as refused:
            if refused.print_exception:
                refused.print_exception = False  # read by gradio's queue just after this
                print(f"bertstudio: refused a request: {one_line(refused.message)}", flush=True)
            raise

    demo.preprocess_data = preprocess_data
    return demo


def one_line(text: object, limit: int = 300) -> str:
    """A message as one short log line: a forged value may be long or hold line breaks."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
