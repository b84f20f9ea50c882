"""An adapting fine-tuning run's log as the trainer writes it: the pretraining run's own events
retold through the real relay (bertstudio.training.adaptation), then the fine-tuning's events."""

from __future__ import annotations

from pathlib import Path

from bertstudio.events import Evaluation, Finished, JsonlSink, Started, Step
from bertstudio.training.adaptation import _Relay

ADAPT_TOTAL = 40
FINE_TOTAL = 20


def started(task: str, total: int, run_dir: str = "/runs/x") -> Started:
    labels = [] if task == "masked_lm" else ["neg", "pos"]
    return Started(run_id=Path(run_dir).name, run_dir=run_dir, config={}, labels=labels, train_size=120,
                   validation_size=30, total_steps=total, steps_per_epoch=total // 2, device="cpu",
                   precision="no", task=task)


def step(number: int, loss: float, total: int) -> Step:
    return Step(step=number, total_steps=total, epoch=2 * number / total, loss=loss, learning_rate=1e-4,
                grad_norm=1.0, samples_per_second=8.0, tokens_per_second=80.0, elapsed_seconds=float(number),
                eta_seconds=float(total - number))


def mlm_metrics(loss: float, accuracy: float) -> dict:
    import math

    return {"loss": loss, "perplexity": math.exp(loss), "accuracy": accuracy, "masked_tokens": 300}


def adaptation(sink, *, end: bool = True) -> None:
    """The pretraining run's events (task masked_lm, 40 steps, an evaluation per epoch) through the
    relay into `sink`; with `end`, its Finished too."""
    relay = _Relay(sink)
    relay.emit(started("masked_lm", ADAPT_TOTAL, "/runs/shot-adaptation"))
    for number in (10, 20):
        relay.emit(step(number, 10.0 - number / 10, ADAPT_TOTAL))
    relay.emit(Evaluation(step=20, epoch=1.0, metrics=mlm_metrics(8.0, 0.05)))
    if end:
        for number in (30, 40):
            relay.emit(step(number, 10.0 - number / 10, ADAPT_TOTAL))
        relay.emit(Evaluation(step=40, epoch=2.0, metrics=mlm_metrics(6.5, 0.12)))
        relay.emit(Finished(run_dir="/runs/shot-adaptation", metrics=mlm_metrics(6.5, 0.12), steps=40,
                            elapsed_seconds=30.0))


def fine_tuning(sink) -> None:
    """The fine-tuning run's own events after its adaptation, to its Finished."""
    sink.emit(started("single_label", FINE_TOTAL))
    for number in (10, 20):
        sink.emit(step(number, 0.7 - number / 100, FINE_TOTAL))
        sink.emit(Evaluation(step=number, epoch=number / 10, metrics={"loss": 0.6, "accuracy": 0.8, "macro_f1": 0.75}))
    sink.emit(Finished(run_dir="/runs/x", metrics={"loss": 0.6, "accuracy": 0.8, "macro_f1": 0.75}, steps=FINE_TOTAL,
                       elapsed_seconds=12.0))


def write_log(path: Path, *, fine_tune: bool = True, end: bool = True) -> Path:
    """events.jsonl of an adapting run, through the JsonlSink the trainer writes with."""
    sink = JsonlSink(path)
    adaptation(sink, end=end)
    if fine_tune:
        fine_tuning(sink)
    return path
