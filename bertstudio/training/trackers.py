"""Experiment trackers as an event sink: the run's settings, losses and metrics sent through
Accelerate's tracker classes to the one `TrainConfig.report_to` names, and nowhere when it is none.

The trainer never asks whether a tracker listens: `tracker_sink` is one more sink in its FanOut
(or None). Each tracker is an optional extra, imported only when chosen, so a missing one is one
sentence before training, naming the `pip install` that fixes it.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from bertstudio.errors import StudioError
from bertstudio.events import Evaluation, Event, Failed, Finished, Started, Step, Stopped

TRACKING_DIR = "tracking"  # <run>/tracking/: TensorBoard's event files travel with the run
PROJECT = "bertstudio"     # the project (wandb, trackio) or experiment (MLflow) every run joins


@dataclass(frozen=True)
class TrackerKind:
    """One tracker `report_to` can name: how people call it, the modules that must be importable
    (any one of them), and how to build Accelerate's tracker for a run."""

    label: str
    modules: tuple[str, ...]
    build: Callable[[str, Path], Any]  # (run id, run folder) -> accelerate GeneralTracker


def _tensorboard(run_id: str, run_dir: Path):
    from accelerate.tracking import TensorBoardTracker

    # run_name is the folder under logging_dir: <run>/tracking, so `tensorboard --logdir runs`
    # shows every run by its folder.
    return TensorBoardTracker(TRACKING_DIR, run_dir)


def _wandb(run_id: str, run_dir: Path):
    from accelerate.tracking import WandBTracker

    (run_dir / TRACKING_DIR).mkdir(parents=True, exist_ok=True)  # wandb's local files, not the cwd's
    return WandBTracker(PROJECT, name=run_id, dir=str(run_dir / TRACKING_DIR))


def _trackio(run_id: str, run_dir: Path):
    from accelerate.tracking import TrackioTracker

    return TrackioTracker(PROJECT, name=run_id)


def _mlflow(run_id: str, run_dir: Path):
    from accelerate.tracking import MLflowTracker

    # Where MLflow keeps runs is its own setting (MLFLOW_TRACKING_URI), often a shared server.
    return MLflowTracker(experiment_name=PROJECT, run_name=run_id)


TRACKERS: dict[str, TrackerKind] = {
    "tensorboard": TrackerKind("TensorBoard", ("tensorboard", "tensorboardX"), _tensorboard),
    "wandb": TrackerKind("Weights & Biases", ("wandb",), _wandb),
    "trackio": TrackerKind("Trackio", ("trackio",), _trackio),
    "mlflow": TrackerKind("MLflow", ("mlflow",), _mlflow),
}


def tracker_available(name: str) -> bool:
    """Whether the extra for tracker `name` is installed (looked up, not imported)."""
    return any(importlib.util.find_spec(module) is not None for module in TRACKERS[name].modules)


def check_tracker(name: str) -> None:
    """Refuse a tracker whose extra is missing, in one sentence naming the install."""
    if name != "none" and not tracker_available(name):
        raise StudioError(f"Reporting to {TRACKERS[name].label} needs its extra: run "
                          f"pip install -e \".[{name}]\", or set 'Report to' to none.")


def tracker_sink(config, run_dir: str | Path) -> "TrackerSink | None":
    """The sink that reports this run to `config.report_to`'s tracker; None when the run reports
    nowhere, or on a process other than the main one (which alone reports).

    Call it once the run's Accelerator exists (the trainer does): the main-process check reads
    Accelerate's state. A missing extra raises StudioError here; the tracker itself starts with
    the run's Started event, so a tracker that cannot start (no login, no server) fails the run
    before its first step, and nothing is written before the run folder exists."""
    if config.report_to == "none":
        return None
    from accelerate.state import PartialState

    if not PartialState().is_main_process:
        return None
    check_tracker(config.report_to)
    run_dir = Path(run_dir)
    kind = TRACKERS[config.report_to]
    return TrackerSink([kind.build(run_dir.name, run_dir)], label=kind.label)


class TrackerSink:
    """Hands a run's events to trackers: the settings once at the start, each logged step's loss and
    learning rate, each evaluation's metrics at its step, the final metrics, and the end."""

    def __init__(self, trackers: Iterable[Any], label: str = "The tracker") -> None:
        self.trackers = list(trackers)
        self.label = label
        self.started = False
        self.finished = False

    def emit(self, event: Event) -> None:
        if self.finished:
            return
        if isinstance(event, Started):
            self._start()
            self._store_config({**event.config, "task": event.task or event.config.get("task"),
                                "device": event.device, "num_processes": event.num_processes})
        elif isinstance(event, Step):
            values = {"train/loss": event.loss, "train/learning_rate": event.learning_rate,
                      "train/samples_per_second": event.samples_per_second}
            if event.grad_norm is not None:
                values["train/grad_norm"] = event.grad_norm
            self._log(values, event.step)
        elif isinstance(event, Evaluation):
            self._log(scalar_metrics(event.metrics, "eval/"), event.step)
        elif isinstance(event, (Finished, Stopped)):
            step = event.steps if isinstance(event, Finished) else event.step
            self._log(scalar_metrics(event.metrics, "final/"), step)
            self._finish()
        elif isinstance(event, Failed):
            self._finish(quietly=True)
        # Adaptation steps belong to the pretraining run's own log and count from 0 again: a
        # tracker that wants steps to rise (wandb) would refuse them here.

    def _start(self) -> None:
        """Accelerate's trackers open their run (a writer, a login, a server) in `start`."""
        if self.started:
            return
        self.started = True
        for tracker in self.trackers:
            try:
                tracker.start()
            except Exception as exc:  # noqa: BLE001 - any library's own error, told as one sentence
                raise StudioError(f"{self.label} could not start ({type(exc).__name__}: {exc}); check its "
                                  "login or server, or set 'Report to' to none.", detail=repr(exc)) from exc

    def _store_config(self, values: dict[str, Any]) -> None:
        plain = hyperparameters(values)
        for tracker in self.trackers:
            self._call(tracker, "store_init_configuration", plain)

    def _log(self, values: dict[str, float], step: int) -> None:
        if values:
            for tracker in self.trackers:
                self._call(tracker, "log", values, step=step)

    def _finish(self, quietly: bool = False) -> None:
        self.finished = True
        if not self.started:  # a run that failed before it started opened nothing
            return
        for tracker in self.trackers:
            try:
                tracker.finish()
            except Exception:
                # The run already failed: its own failure is the news, not the tracker's close.
                if not quietly:
                    raise

    @staticmethod
    def _call(tracker: Any, method: str, *args: Any, **kwargs: Any) -> None:
        try:
            getattr(tracker, method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - said as one sentence that names the tracker
            name = getattr(tracker, "name", type(tracker).__name__)
            raise StudioError(f"The {name} tracker could not record the run ({type(exc).__name__}: {exc}); "
                              "set 'Report to' to none to train without it.", detail=repr(exc)) from exc


def hyperparameters(values: dict[str, Any]) -> dict[str, Any]:
    """Settings as trackers take them: bool, int, float, str or None; a list becomes one text."""
    plain: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or isinstance(value, (bool, int, float, str)):
            plain[key] = value
        elif isinstance(value, (list, tuple)):
            plain[key] = ", ".join(str(item) for item in value)
        else:
            plain[key] = str(value)
    return plain


def scalar_metrics(metrics: dict[str, Any], prefix: str) -> dict[str, float]:
    """The metrics that are one finite number (not the per-class table, the confusion matrix or
    the label names), named `prefix + name`."""
    return {f"{prefix}{key}": float(value) for key, value in (metrics or {}).items()
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)}
