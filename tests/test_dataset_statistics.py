"""The target space `prepare_data` fits: the label set from every kept row, each statistic (regression's
scaling, rare-tag weights) from the training rows only, on a split and with a validation file alike."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from bertstudio.config import TrainConfig
from bertstudio.data.dataset import prepare_data
from bertstudio.data.tabular import read_table
from bertstudio.tasks.base import TargetSpace
from bertstudio.tasks.multi_label import positive_weights
from bertstudio.tasks.regression import RegressionTask

REGRESSION = dict(task="regression", text_column="text", label_column="score")
MULTI_LABEL = dict(task="multi_label", text_column="text", label_column="tags", label_separator="|",
                   weight_rare_labels=True)


def table(header: str, rows: list[tuple[str, str]], name: str = "data.csv"):
    lines = [header] + [f"{text},{target}" for text, target in rows]
    return read_table(("\n".join(lines) + "\n").encode(), name=name)


def scores(values: list[float], start: int = 0) -> list[tuple[str, str]]:
    return [(f"review number {start + i}", f"{v:g}") for i, v in enumerate(values)]


def test_regression_scaling_on_a_split_is_the_training_rows_own():
    values = [float(i * i) for i in range(24)]  # skewed: the held-out rows move the mean
    rows = scores(values)
    data = prepare_data(TrainConfig(validation_split=0.25, seed=3, **REGRESSION),
                        table=table("text,score", rows))
    by_text = {text: float(score) for text, score in rows}
    trained = [by_text[text] for text in data.train.texts]
    assert data.space.stats == RegressionTask().fit(trained, column="score").stats
    assert data.space.stats["mean"] != pytest.approx(np.mean(values))
    # Standardised with their own mean and std, the training targets have mean 0 and std 1.
    assert np.mean(data.train.labels) == pytest.approx(0.0, abs=1e-9)
    assert np.std(data.train.labels) == pytest.approx(1.0)
    assert TargetSpace(**json.loads(json.dumps(asdict(data.space)))) == data.space  # data.json


def test_regression_scaling_ignores_the_validation_file_and_follows_the_training_file():
    config = TrainConfig(**REGRESSION)
    training = table("text,score", scores([1, 2, 3, 4, 5, 6]))
    space = prepare_data(config, table=training,
                         validation_table=table("text,score", scores([2, 9], 50), "val.csv")).space
    other_validation = table("text,score", scores([100, -40], 50), "val.csv")
    assert prepare_data(config, table=training, validation_table=other_validation).space == space
    other_training = table("text,score", scores([1, 2, 3, 4, 5, 60]))
    changed = prepare_data(config, table=other_training,
                           validation_table=table("text,score", scores([2, 9], 50), "val.csv")).space
    assert changed.stats["mean"] != space.stats["mean"] and changed.stats["max"] == 60.0


def test_multi_label_split_gives_a_validation_only_tag_an_output_and_weights_from_training():
    # The triangle {a,b} {b,c} {a,c} cannot put every tag on both sides: with this seed 'a' lands
    # in validation only, and must still be an output so its validation rows encode.
    tags = ["a|b", "b|c", "a|c", "d", "d|e", "e", "d", "d", "d"]
    rows = [(f"post number {i}", t) for i, t in enumerate(tags)]
    data = prepare_data(TrainConfig(validation_split=0.3, seed=0, **MULTI_LABEL),
                        table=table("text,tags", rows))
    names = data.space.names
    assert names == ["a", "b", "c", "d", "e"]
    in_train = {names[j] for row in data.train.labels for j, on in enumerate(row) if on}
    in_validation = {names[j] for row in data.validation.labels for j, on in enumerate(row) if on}
    assert in_validation - in_train == {"a"}
    trained = [tuple(names[j] for j, on in enumerate(row) if on) for row in data.train.labels]
    assert data.space.stats["pos_weight"] == positive_weights(trained, names)
    assert dict(zip(names, data.space.stats["pos_weight"]))["a"] == 1.0  # no training row holds it
    assert data.space.stats["pos_weight"] != positive_weights([tuple(t.split("|")) for t in tags], names)


def test_multi_label_weights_ignore_the_validation_file_and_follow_the_training_file():
    config = TrainConfig(**MULTI_LABEL)
    posts = lambda tags, start=0: [(f"post number {start + i}", t) for i, t in enumerate(tags)]  # noqa: E731
    training = table("text,tags", posts(["a", "a|b", "b", "a", "c", "a|c"]))
    validation = table("text,tags", posts(["a", "b"], 50), "val.csv")
    space = prepare_data(config, table=training, validation_table=validation).space
    other_validation = table("text,tags", posts(["b|c", "c", "a|b|c"], 50), "val.csv")
    assert prepare_data(config, table=training, validation_table=other_validation).space == space
    other_training = table("text,tags", posts(["a", "a|b", "b", "a", "c", "b|c"]))
    changed = prepare_data(config, table=other_training, validation_table=validation).space
    assert changed.names == space.names and changed.stats["pos_weight"] != space.stats["pos_weight"]
