"""A tiny BERT learns a synthetic regression (the value is how many times "good" appears) through the
real trainer, and the saved model predicts in the user's units through Predictor and transformers' pipeline."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from bertstudio.config import TrainConfig
from bertstudio.training.trainer import train
from conftest import LEARNABLE_SETTINGS

_FILLERS = ["the", "service", "was", "my", "order", "felt", "shop", "delivery", "product", "overall"]


def _counting_rows(n: int, seed: int) -> list[list[str]]:
    """Eight words per text, 0-4 of them "good"; the score is that count written with a decimal
    comma plus a quarter for odd rows ("2,25"), so reading the ';' file is part of what is tested."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        k = i % 5
        words = ["good"] * k + [rng.choice(_FILLERS) for _ in range(8 - k)]
        rng.shuffle(words)
        rows.append([" ".join(words), f"{k + (0.25 if i % 2 else 0)}".replace(".", ",")])
    return rows


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_model_dir) -> tuple[Path, dict, list[list[str]]]:
    folder = tmp_path_factory.mktemp("regression")
    data = folder / "counts.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=";").writerows([["text", "score"], *_counting_rows(300, seed=0)])
    config = TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(folder / "runs"),
                         task="regression", text_column="text", label_column="score",
                         metric_for_best="pearson", logging_steps=5, seed=7, **LEARNABLE_SETTINGS)
    result = train(config)
    assert result.status == "finished", result.message
    return folder / "runs" / Path(result.run_dir).name, result.metrics, _counting_rows(40, seed=1)


def test_tiny_model_learns_to_count_far_above_chance(trained_run):
    run, metrics, _ = trained_run
    assert metrics["pearson"] > 0.8  # chance is 0
    assert metrics["rmse"] < 1.0     # the scores span 0-4.25 with a standard deviation near 1.4
    assert json.loads((run / "metrics.json").read_text())["pearson"] == metrics["pearson"]


def test_saved_model_is_a_regression_in_the_users_units(trained_run):
    run, _, _ = trained_run
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["bertstudio_task"] == "regression" and config["problem_type"] == "regression"
    assert config["id2label"] == {"0": "score"}
    with (run / "validation_predictions.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {"gold", "predicted", "error"} <= set(rows[0])
    gold = {float(row["gold"]) for row in rows}
    assert gold <= {k + q for k in range(5) for q in (0.0, 0.25)}  # "2,25" was read as 2.25


def test_predictor_and_pipeline_return_values_in_the_users_units(trained_run):
    from transformers import pipeline

    from bertstudio.predict import Predictor

    run, _, held_out = trained_run
    texts = [text for text, _ in held_out]
    truth = np.array([float(score.replace(",", ".")) for _, score in held_out])
    predictions = Predictor.load(run).predict(texts)
    values = np.array([p.value for p in predictions])
    assert all(p.confidence is None and p.probabilities == {} for p in predictions)
    assert np.corrcoef(values, truth)[0, 1] > 0.8
    assert abs(values.mean() - truth.mean()) < 0.5  # user units, not standardised (mean 0)

    scorer = pipeline("text-classification", model=str(run / "model"), function_to_apply="none",
                      device="cpu")
    scores = np.array([out["score"] for out in scorer(texts)])
    assert scores == pytest.approx(values, abs=1e-3)
