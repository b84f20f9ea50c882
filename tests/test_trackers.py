"""Experiment trackers (`report_to`): the choice in the config, the CLI and the form, the hosted
refusal, the missing extra's sentence, and the sink fed real events and a real tiny training."""

import math

import pytest
from accelerate.tracking import GeneralTracker

from bertstudio.cli.flags import build_parser, config_from_args
from bertstudio.config import REPORT_TO_CHOICES, TrainConfig
from bertstudio.errors import StudioError
from bertstudio.events import Evaluation, Failed, Finished, Started, Step, Stopped
from bertstudio.hosting import HostingSettings
from bertstudio.training.trackers import (TRACKERS, TrackerSink, hyperparameters, tracker_available,
                                          tracker_sink)
from bertstudio.training.trainer import train
from conftest import LEARNABLE_SETTINGS


class ListTracker(GeneralTracker):
    """A real Accelerate tracker that keeps what it is told in lists."""

    name = "list"
    requires_logging_directory = False

    def __init__(self):
        super().__init__()
        self.calls = []

    @property
    def tracker(self):
        return self.calls

    def start(self):
        self.calls.append(("start",))

    def store_init_configuration(self, values):
        self.calls.append(("config", values))

    def log(self, values, step=None, **kwargs):
        self.calls.append(("log", values, step))

    def finish(self):
        self.calls.append(("finish",))


def _started(**config):
    return Started(run_id="r", run_dir="/tmp/r", config=TrainConfig(**config).to_dict(), labels=["a", "b"],
                   train_size=8, validation_size=2, total_steps=4, steps_per_epoch=2, device="cpu",
                   precision="fp32", task="single_label")


def _step(step, loss=0.5):
    return Step(step=step, total_steps=4, epoch=step / 2, loss=loss, learning_rate=1e-4, grad_norm=None,
                samples_per_second=10.0, tokens_per_second=100.0, elapsed_seconds=1.0, eta_seconds=1.0)


def test_report_to_is_a_choice_that_defaults_to_sending_nothing():
    assert TrainConfig().report_to == "none"
    assert set(REPORT_TO_CHOICES) == {"none", *TRACKERS}
    with pytest.raises(StudioError, match="'Report to' is 'comet'"):
        TrainConfig(report_to="comet").validate()


def test_train_and_pretrain_take_report_to_from_the_command_line():
    for command in ("train", "pretrain"):
        args = build_parser().parse_args([command, "--data", "d.csv", "--report-to", "tensorboard"])
        assert config_from_args(args).report_to == "tensorboard"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--data", "d.csv", "--report-to", "comet"])


def test_the_hyperparameters_tab_offers_the_tracker_choice_from_the_metadata():
    import gradio as gr

    from bertstudio.ui import hyperparams_tab

    with gr.Blocks():
        tab = hyperparams_tab.build(model="bundled")
    control = next(c for c in tab.controls if c.name == "report_to")
    assert isinstance(control.component, gr.Radio) and control.component.value == "none"
    assert [value for _, value in control.component.choices] == list(REPORT_TO_CHOICES)
    assert control.component.label == "Report to" and "nothing is sent" in control.component.info


def test_hosted_mode_refuses_every_tracker_in_plain_words():
    hosted = HostingSettings(hosted=True)
    config = TrainConfig(model=hosted.models[0])
    hosted.check_config(config)  # none: fine
    for name in TRACKERS:
        with pytest.raises(StudioError, match="sends no run to an experiment tracker"):
            hosted.check_config(config.replace(report_to=name))
    HostingSettings(hosted=False).check_config(config.replace(report_to="wandb"))  # a laptop may


def test_a_missing_extra_is_one_sentence_naming_its_install(tmp_path):
    missing = [name for name in ("wandb", "mlflow", "trackio") if not tracker_available(name)]
    if not missing:
        pytest.skip("every tracker's extra is installed here")
    with pytest.raises(StudioError) as caught:
        tracker_sink(TrainConfig(report_to=missing[0]), tmp_path / "run")
    assert f'pip install -e ".[{missing[0]}]"' in caught.value.message
    assert caught.value.message.count(". ") == 0 and not (tmp_path / "run").exists()


def test_no_tracker_means_no_sink(tmp_path):
    assert tracker_sink(TrainConfig(), tmp_path) is None


def test_the_sink_sends_settings_steps_evaluations_and_the_end_to_the_tracker():
    tracker = ListTracker()
    sink = TrackerSink([tracker])
    sink.emit(_started(epochs=2, unlabeled_data=["a.csv", "b.csv"]))
    sink.emit(_step(2, loss=0.7))
    sink.emit(Evaluation(step=2, epoch=1.0, metrics={"loss": 0.6, "accuracy": 0.75, "macro_f1": 0.7,
                                                    "per_class": {"a": {"f1": 0.7}}, "labels": ["a", "b"],
                                                    "confusion_matrix": [[1, 0], [0, 1]]}))
    sink.emit(Finished(run_dir="/tmp/r", metrics={"accuracy": 0.75, "warning": None}, steps=4,
                       elapsed_seconds=3.0))
    sink.emit(_step(5))  # nothing after the end
    kinds = [call[0] for call in tracker.calls]
    assert kinds == ["start", "config", "log", "log", "log", "finish"]
    settings = tracker.calls[1][1]
    assert settings["epochs"] == 2 and settings["task"] == "single_label" and settings["device"] == "cpu"
    assert settings["unlabeled_data"] == "a.csv, b.csv"
    assert tracker.calls[2] == ("log", {"train/loss": 0.7, "train/learning_rate": 1e-4,
                                        "train/samples_per_second": 10.0}, 2)
    assert tracker.calls[3] == ("log", {"eval/loss": 0.6, "eval/accuracy": 0.75, "eval/macro_f1": 0.7}, 2)
    assert tracker.calls[4] == ("log", {"final/accuracy": 0.75}, 4)


def test_a_stopped_run_is_finished_and_a_failed_one_too_without_hiding_its_failure():
    stopped, failed = ListTracker(), ListTracker()
    sink = TrackerSink([stopped])
    sink.emit(_started())
    sink.emit(Stopped(run_dir="/tmp/r", step=3, metrics={"accuracy": 0.5}, elapsed_seconds=1.0))
    assert stopped.calls[-2:] == [("log", {"final/accuracy": 0.5}, 3), ("finish",)]

    def broken_finish():
        raise RuntimeError("server went away")

    failed.finish = broken_finish
    sink = TrackerSink([failed])
    sink.emit(_started())
    sink.emit(Failed(message="The loss became NaN."))  # the tracker's own close error stays quiet
    assert sink.finished
    never_started = ListTracker()
    TrackerSink([never_started]).emit(Failed(message="Bad column."))
    assert never_started.calls == []


def test_a_tracker_that_cannot_record_fails_in_a_sentence_naming_it():
    tracker = ListTracker()

    def refuse(values, step=None, **kwargs):
        raise ConnectionError("no route")

    tracker.log = refuse
    sink = TrackerSink([tracker])
    sink.emit(_started())
    with pytest.raises(StudioError, match="The list tracker could not record the run .*'Report to' to none"):
        sink.emit(_step(1))


def test_hyperparameters_are_plain_values_trackers_accept():
    values = hyperparameters({"a": None, "b": [1, 2], "c": (3,), "d": 1.5, "e": {"x": 1}})
    assert values == {"a": None, "b": "1, 2", "c": "3", "d": 1.5, "e": "{'x': 1}"}


def test_a_tiny_training_reports_to_tensorboard_inside_its_run_folder(tmp_path, tiny_model_dir, learnable_csv):
    pytest.importorskip("tensorboard", reason="the [tensorboard] extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = TrainConfig(data=str(learnable_csv), model=str(tiny_model_dir), output_dir=str(tmp_path / "runs"),
                         logging_steps=2, seed=7, **{**LEARNABLE_SETTINGS, "epochs": 2})
    run_dir = tmp_path / "runs" / "tb-run"
    # The trainer builds the tracker from the config itself, as `--report-to` and the form set it.
    result = train(config.replace(report_to="tensorboard"), run_id="tb-run")
    assert result.status == "finished", result.message
    assert (run_dir / "config.json").exists()
    accumulator = EventAccumulator(str(run_dir / "tracking"))
    accumulator.Reload()
    scalars = set(accumulator.Tags()["scalars"])
    assert {"train/loss", "train/learning_rate", "eval/accuracy", "eval/macro_f1", "final/accuracy"} <= scalars
    losses = accumulator.Scalars("train/loss")
    assert [point.step for point in losses] == sorted(point.step for point in losses) and len(losses) >= 2
    assert all(math.isfinite(point.value) for point in losses)
    evaluations = accumulator.Scalars("eval/accuracy")
    assert len(evaluations) == 2 and evaluations[-1].value == pytest.approx(result.metrics["accuracy"], abs=1e-6)
    assert list((run_dir / "tracking").rglob("hparams.yml"))  # the settings were stored too
