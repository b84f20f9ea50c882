"""Tests for bertstudio.tasks.registry: names to tasks, the watched metric, saved models' tasks."""

from __future__ import annotations

import pytest

from bertstudio.config import METRIC_CHOICES, TrainConfig
from bertstudio.errors import StudioError
from bertstudio.tasks.base import PRETRAINING_TASK, TASK_CHOICES
from bertstudio.tasks.registry import TASKS, get_task, task_of_model, watched_metric


def test_every_task_choice_but_auto_names_a_task_that_knows_its_own_name():
    # Continued pretraining is a task the engine trains but no label column is detected as.
    assert list(TASKS) == [name for name in TASK_CHOICES if name != "auto"] + [PRETRAINING_TASK]
    for name, task in TASKS.items():
        assert task.name == name and get_task(name) is task
        assert task.headline in task.metrics and "loss" in task.metrics


def test_the_configs_metric_choices_are_auto_and_every_tasks_metrics():
    union = {metric for task in TASKS.values() for metric in task.metrics}
    assert set(METRIC_CHOICES) == {"auto"} | union


def test_an_unknown_task_is_refused_with_the_known_ones_listed():
    with pytest.raises(StudioError, match="single_label, multi_label, regression"):
        get_task("ranking")


def test_auto_watches_the_headline_and_a_foreign_metric_is_refused_by_name():
    task = get_task("single_label")
    assert watched_metric(task, "auto") == "macro_f1" and watched_metric(task, "loss") == "loss"
    with pytest.raises(StudioError, match="'pearson'.*macro_f1, accuracy, loss"):
        watched_metric(task, "pearson")


def test_a_saved_model_without_a_task_is_single_label():
    class Old:
        pass

    class New:
        bertstudio_task = "single_label"

    assert task_of_model(Old()).name == "single_label" == task_of_model(New()).name


def test_config_validation_checks_the_metric_against_a_named_task_only():
    TrainConfig(task="auto", metric_for_best="pearson").validate()  # the data decides the task later
    with pytest.raises(StudioError, match="single_label task does not measure"):
        TrainConfig(task="single_label", metric_for_best="pearson").validate()
