""""Adapt the model to my texts first": a fine-tuning run with `adapt_epochs` first trains a
continued-pretraining run of its own (task masked_lm, its own run folder, linked both ways) on
the same file's texts, then fine-tunes the model that run saved.

The fine-tuning run's config keeps the base model and `adapt_epochs`, so re-running it does both
steps again; `adaptation.json` in its folder names the pretraining run whose model it started
from, which resuming an interrupted fine-tuning reads instead of adapting again. The pretraining
run's progress is told in the fine-tuning run's own log as `Adaptation` events, so the page that
follows the one run charts both phases.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bertstudio.config import TrainConfig
from bertstudio.events import Adaptation, EventSink
from bertstudio.tasks.base import PRETRAINING_TASK

ADAPTATION_FILE = "adaptation.json"


def adaptation_config(config: TrainConfig) -> TrainConfig:
    """The pretraining run's settings: the fine-tuning run's data, columns, split, seed, length and
    optimizer, for `adapt_epochs` epochs, watching its own masked-LM loss. The same split and
    seed are what make pretraining leave out exactly the rows this fine-tuning validates on."""
    return config.replace(task=PRETRAINING_TASK, epochs=config.adapt_epochs, adapt_epochs=0, max_steps=None,
                          metric_for_best="auto", early_stopping_patience=0, eval_strategy="epoch",
                          run_name=f"{config.run_name or 'run'} adaptation")


@dataclass
class Adapted:
    """How the adaptation ended: `source` is the model to fine-tune (None unless it finished)."""
    status: str
    run_dir: str
    source: str | None
    message: str = ""
    mistake: bool = False  # the user's input caused the failure (as RunResult.mistake)


def adapt_first(config: TrainConfig, run, sink: EventSink, stop) -> Adapted:
    """Train the pretraining run for `config` (telling its progress into `sink`), record it in the
    fine-tuning run's folder, and say where its model is."""
    from bertstudio.training.trainer import train

    relay = _Relay(sink)
    result = train(adaptation_config(config), sink=relay, stop=stop)
    source = str(Path(result.run_dir) / "model") if result.status == "finished" else None
    if run is not None:
        run.write_json(ADAPTATION_FILE, {"run_dir": result.run_dir, "status": result.status,
                                         "metrics": result.metrics, "model": source})
    return Adapted(result.status, result.run_dir, source, result.message, result.mistake)


def adapted_source(run) -> str | None:
    """The adapted model an interrupted fine-tuning run started from (None: it adapts nothing, or
    its adaptation never finished)."""
    record = run.read_json(ADAPTATION_FILE) if run is not None else None
    if isinstance(record, dict) and isinstance(record.get("model"), str) and Path(record["model"]).is_dir():
        return record["model"]
    return None


class _Relay:
    """The pretraining run's events, retold as `Adaptation` events for the fine-tuning run's log."""

    def __init__(self, sink: EventSink) -> None:
        self.sink, self.run_dir, self.total = sink, "", 0

    def emit(self, event) -> None:
        kind = event.type
        if kind == "started":
            self.run_dir, self.total = event.run_dir, event.total_steps
            self._tell("started", message=f"Adapting the model to your texts first ({event.train_size} texts).")
        elif kind == "step":
            self._tell("step", step=event.step, loss=event.loss)
        elif kind == "evaluation":
            self._tell("evaluation", step=event.step, loss=event.metrics.get("loss"), metrics=event.metrics)
        elif kind in ("finished", "stopped"):
            self._tell(kind, step=getattr(event, "steps", None) or getattr(event, "step", 0),
                       loss=event.metrics.get("loss"), metrics=event.metrics)
        elif kind == "failed":
            self._tell("failed", step=event.step or 0, message=event.message)
        elif kind == "notice":
            self._tell("notice", message=event.message)

    def _tell(self, phase: str, **fields) -> None:
        self.sink.emit(Adaptation(phase=phase, run_dir=self.run_dir, total_steps=self.total, **fields))
