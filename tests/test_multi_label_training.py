"""A tiny BERT learns a synthetic multi-label task through train(); Predictor and transformers'
pipeline then give the same sigmoid scores under the tag names, deciding with the saved thresholds."""

from __future__ import annotations

import csv
import json
import random

import numpy as np
import pytest

from bertstudio.config import TrainConfig
from bertstudio.predict import Predictor
from bertstudio.training.trainer import train
from conftest import FILLERS, LEARNABLE_SETTINGS

# One word per tag: a random 2-layer model finds words anywhere in the text far more slowly than
# a word in a fixed place (measured: 4 tags of 6 words each, 400 rows, 8 epochs stayed at chance,
# 16 epochs reached a subset accuracy of 0.56); one word each, 12 epochs reach 0.87 in ~1.5 min.
TAG_WORDS = {"food": "pizza", "music": "guitar", "sport": "football"}
TAGS = sorted(TAG_WORDS)
SETTINGS = {**LEARNABLE_SETTINGS, "epochs": 12}


def synthetic_rows(n: int, seed: int) -> list[list[str]]:
    """Each tag on a row with chance 0.35, told by its word; the words come first in random
    order, filler after. A third of the rows has no tag."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        tags = [tag for tag in TAGS if rng.random() < 0.35]
        words = [TAG_WORDS[tag] for tag in tags]
        rng.shuffle(words)
        text = " ".join(words) + f", {rng.choice(FILLERS)} {rng.choice(FILLERS)}"
        rows.append([text, "|".join(tags)])
    return rows


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("multi-label")
    data = folder / "tags.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["text", "topics"], *synthetic_rows(300, 0)])
    config = TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(folder / "runs"),
                         seed=7, logging_steps=5, validation_split=0.2, **SETTINGS)
    result = train(config)
    assert result.status == "finished", result.message
    return result


def test_tiny_model_learns_tags_far_above_chance(trained_run):
    metrics = trained_run.metrics
    # Predicting each tag's majority answer gets every tag of a row right 0.65**3 = 27 % of the
    # time, and predicting every tag gives an F1 of about 0.5 per tag.
    assert metrics["subset_accuracy"] > 0.6, metrics
    assert metrics["macro_f1"] > 0.8 and metrics["micro_f1"] > 0.8
    assert set(metrics["thresholds"]) == set(TAGS)


def test_saved_model_carries_task_thresholds_and_separator(trained_run):
    model_config = json.loads((trained_run_dir(trained_run) / "model" / "config.json").read_text())
    assert model_config["bertstudio_task"] == "multi_label"
    assert model_config["problem_type"] == "multi_label_classification"
    assert model_config["bertstudio_label_separator"] == "|"
    assert model_config["bertstudio_thresholds"] == trained_run.metrics["thresholds"]
    assert sorted(model_config["id2label"].values()) == TAGS


def test_predictor_and_pipeline_agree_on_sigmoid_scores_under_tag_names(trained_run):
    from transformers import pipeline

    run = trained_run_dir(trained_run)
    texts = ["pizza guitar, the service was my order felt", "football, overall it was this shop is",
             ", the delivery looked honestly the product seemed"]
    predictions = Predictor.load(run).predict(texts)
    classifier = pipeline("text-classification", model=str(run / "model"), top_k=None)
    for prediction, scores in zip(predictions, classifier(texts)):
        by_tag = {item["label"]: item["score"] for item in scores}
        assert set(by_tag) == set(TAGS)
        for tag in TAGS:
            assert by_tag[tag] == pytest.approx(prediction.probabilities[tag], abs=1e-4)
        expected = [tag for tag in TAGS if prediction.probabilities[tag] >= prediction.thresholds[tag]]
        assert prediction.labels == expected
    assert set(predictions[0].labels) == {"food", "music"}
    assert predictions[1].labels == ["sport"]
    assert predictions[2].labels == []


def test_predicted_file_has_the_tags_joined_by_the_files_separator(trained_run, tmp_path):
    source = tmp_path / "new.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["text"], ["football pizza, my order felt the service was"]])
    output = tmp_path / "out.csv"
    Predictor.load(trained_run_dir(trained_run)).predict_csv(source, output)
    rows = list(csv.DictReader(output.open(encoding="utf-8")))
    assert list(rows[0]) == ["text", "predicted_labels"] + [f"prob_{tag}" for tag in TAGS]
    assert rows[0]["predicted_labels"] == "food|sport"
    assert all(0.0 <= float(rows[0][f"prob_{tag}"]) <= 1.0 for tag in TAGS)


def test_validation_predictions_list_gold_and_predicted_tag_sets(trained_run):
    rows = list(csv.DictReader((trained_run_dir(trained_run) / "validation_predictions.csv").open(encoding="utf-8")))
    assert len(rows) == 60
    agree = np.mean([row["gold"] == row["predicted"] for row in rows])
    assert agree == pytest.approx(trained_run.metrics["subset_accuracy"])


def trained_run_dir(result):
    from pathlib import Path

    return Path(result.run_dir)


def test_yes_no_columns_with_rare_label_weights_train_and_save_comma_joined_tags(tmp_path, tiny_model_dir):
    rows = synthetic_rows(120, 1)
    data = tmp_path / "flags.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["text", *TAGS]] + [
            [text, *("yes" if tag in tags.split("|") else "no" for tag in TAGS)] for text, tags in rows])
    config = TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(tmp_path / "runs"),
                         seed=7, task="multi_label", label_columns=",".join(TAGS), weight_rare_labels=True,
                         **{**LEARNABLE_SETTINGS, "epochs": 1})
    result = train(config)
    assert result.status == "finished", result.message
    run = trained_run_dir(result)
    record = json.loads((run / "data.json").read_text())
    # The weights are the training rows' own: the validation rows do not shape the loss.
    counts, trained = record["report"]["train_label_counts"], record["train_size"]
    assert record["space"]["stats"]["pos_weight"] == pytest.approx(
        [(trained - counts[tag]) / counts[tag] for tag in TAGS])
    model_config = json.loads((run / "model" / "config.json").read_text())
    assert model_config["bertstudio_label_separator"] == ","
    assert sorted(model_config["bertstudio_thresholds"]) == TAGS
