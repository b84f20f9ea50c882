"""The Train tab's status line while a run adapts its model to the texts first (`adapt_epochs`).

The adaptation is told in the fine-tuning run's log before that run's own Started event, so the
general progress line (render.progress_html) would say nothing is under way for as long as the
adaptation takes; this says which phase runs, how far it is and the time it has left. Pure
functions from a `TrainHistory` to HTML, no gradio.
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING

from bertstudio.training.progress import format_duration

if TYPE_CHECKING:
    from bertstudio.ui.history import AdaptationHistory, TrainHistory

FILL = "#0d9488"  # the adaptation's teal, as its curve in the loss chart (charts.ADAPTATION)


def adaptation_status_html(history: "TrainHistory", now: float | None = None) -> str | None:
    """The status line while the run adapts (or has adapted and not begun fine-tuning), or after
    a stop during the adaptation; None when the general line says it right (no adaptation, the
    fine-tuning under way, or a failure, whose message that line shows)."""
    adaptation = history.adaptation
    if adaptation is None or history.started or history.status == "failed":
        return None
    total, step = adaptation.total_steps, adaptation.last_step
    where = f"step {step:,} of {total:,}" if total else "starting"
    if history.status == "stopped" or adaptation.phase == "stopped":
        return (f'<div class="run-state stopped"><b>Stopped while adapting the model to your texts</b> '
                f'({where}); nothing was fine-tuned.</div>')
    if adaptation.phase == "finished":
        return (_bar(1.0) + f'<b>Adapted the model to your texts</b> ({total:,} steps) — fine-tuning is '
                f'starting…</div>')
    facts = [time_left_words(adaptation, now)]
    if adaptation.eval_perplexity and adaptation.eval_perplexity[-1] is not None:
        facts.append(f"validation perplexity {adaptation.eval_perplexity[-1]:,.1f}")
    return (_bar(history.progress) + f'<b>Adapting the model to your texts</b> ({where}) — fine-tuning '
            f'starts after · {" · ".join(html.escape(f) for f in facts)}</div>')


def _bar(fraction: float) -> str:
    return (f'<div class="run-state running adapting"><div class="bar"><div class="fill" '
            f'style="width:{fraction * 100:.1f}%;background:{FILL}"></div></div>')


def time_left_words(adaptation: "AdaptationHistory", now: float | None = None) -> str:
    """The adaptation's time left, measured from its own logged steps (their events' times) and
    counted down from the latest, as the fine-tuning's line does with its trainer's ETA."""
    seconds = seconds_per_step(adaptation)
    if seconds is None or not adaptation.total_steps:
        return "measuring the time left"
    since = max(0.0, (time.time() if now is None else now) - adaptation.step_time[-1])
    left = seconds * (adaptation.total_steps - adaptation.last_step) - since
    if left >= 1:
        return f"about {format_duration(left)} left of the adaptation (measured)"
    if adaptation.last_step >= adaptation.total_steps:
        return "the adaptation's last steps are under way"
    return "slower than measured so far; the time left updates at the next logged step"


def seconds_per_step(adaptation: "AdaptationHistory") -> float | None:
    """Seconds per step between the first and the latest logged step; with one logged step, from
    the adaptation's start (which then counts its first batches' warm-up too)."""
    steps, times = adaptation.step, adaptation.step_time
    if len(steps) >= 2 and steps[-1] > steps[0]:
        return (times[-1] - times[0]) / (steps[-1] - steps[0])
    if steps and steps[0] > 0 and adaptation.started_time is not None:
        return max(0.0, times[0] - adaptation.started_time) / steps[0]
    return None
