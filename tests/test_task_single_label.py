"""Tests for bertstudio.tasks.single_label: the single-label behaviour behind the Task seam."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bertstudio.config import TrainConfig
from bertstudio.data.columns import ColumnChoice
from bertstudio.data.dataset import prepare_data
from bertstudio.data.tabular import read_table
from bertstudio.tasks.base import Dropped, EvalResult, Prediction, TargetSpace
from bertstudio.tasks.single_label import SingleLabel

TASK = SingleLabel()
SPACE = TargetSpace(names=["mixed", "neg", "pos"])


def pinned_table():
    lines = ["id,text,label"]
    for i in range(6):
        for label in ("neg", "pos", "mixed"):
            lines.append(f"{len(lines)},a {label} text number {i},{label}")
    return read_table(("\n".join(lines) + "\n").encode(), name="data.csv")


# Computed by the pipeline as it was before the Task seam: runs made then keep their fingerprint,
# and the same rows go to validation.
@pytest.mark.parametrize("settings, fingerprint, validation", [
    ({}, "b64c93058ea0c8ac815c41657c9d6803f9f5fe259758adec6e82c4bb8c4a9980",
     ["a neg text number 3", "a pos text number 3", "a mixed text number 3"]),
    ({"seed": 3, "validation_split": 0.3}, "724ac9a4f56d4aa9457921ae50a441b8c7c1915d13e3779e94527d340f4709f8",
     ["a mixed text number 0", "a neg text number 1", "a mixed text number 2", "a neg text number 3",
      "a pos text number 4", "a pos text number 5"]),
    ({"remove_duplicates": True, "max_rows": 12}, "350297896242326a0c4891e932b0b8a2362b2d1ef4e2f72439022a6783fc0646",
     ["a pos text number 3", "a mixed text number 4", "a neg text number 5"]),
])
def test_single_label_splits_and_fingerprints_are_those_of_runs_made_before_tasks(settings, fingerprint, validation):
    for task in ("auto", "single_label"):
        data = prepare_data(TrainConfig(task=task, **settings), table=pinned_table())
        assert data.fingerprint == fingerprint and data.validation.texts == validation
        assert data.task == "single_label" and data.space.names == data.labels == ["mixed", "neg", "pos"]


def test_a_validation_file_keeps_its_old_fingerprint():
    validation = read_table(("text,label\n" + "".join(
        f"v{i},{label}\n" for i, label in enumerate(["neg", "pos", "mixed"] * 2))).encode(), name="val.csv")
    data = prepare_data(TrainConfig(), table=pinned_table(), validation_table=validation)
    assert data.fingerprint == "08129391a904ff2447bd062c48a380ac3a1260b1d3d5c26fc935a1025d3b99a6"


def test_labels_are_normalised_and_an_empty_cell_is_dropped_as_empty_label():
    table = read_table(b"text,label\na, Pos \nb,\nc,1.0\n", name="t.csv")
    values = TASK.read_targets(table, ColumnChoice(text="text", label="label"))
    assert values == ["Pos", Dropped("empty label"), "1"]


def test_encode_gives_class_ids_in_sorted_label_order_and_head_names_them():
    space = TASK.fit(["pos", "neg", "pos", "mixed"])
    assert space.names == ["mixed", "neg", "pos"]
    assert TASK.encode(["pos", "mixed"], space) == [2, 0]
    head = TASK.head(space)
    assert head["num_labels"] == 3 and head["id2label"] == {0: "mixed", 1: "neg", 2: "pos"}
    assert head["label2id"]["neg"] == 1 and head["problem_type"] == "single_label_classification"
    assert TASK.target_dtype is torch.long


def test_fit_has_no_statistics_so_which_rows_train_leaves_the_space_alone():
    values = ["pos", "neg", "pos", "mixed", "neg"]
    space = TASK.fit(values, train=[0, 1, 2])
    assert space == TASK.fit(values) == TargetSpace(names=["mixed", "neg", "pos"])
    assert TASK.fit(["pos", "neg", "pos", "neg", "mixed"], train=[0, 1, 2]) == space
    assert TASK.fit(["pos", "neg", "neg", "mixed", "neg"], train=[0, 1, 2]) == space


def test_problems_ignore_rows_dropped_for_their_label_and_name_the_file():
    (problem,) = TASK.problems(["a", Dropped("empty label")], "label", True, source="one.csv")
    assert problem.startswith("'one.csv' has only 1 usable row ('a' 1)")
    assert TASK.problems([Dropped("empty label")], "label", True, source="x.csv") == []
    assert "only one label ('a')" in TASK.problems(["a"] * 5, "label", False, source="x.csv")[0]


def test_loss_is_cross_entropy_per_row():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 3.0]])
    targets = torch.tensor([0, 1])
    losses = TASK.loss(logits, targets, SPACE)
    assert losses.shape == (2,)
    assert torch.allclose(losses.mean(), torch.nn.functional.cross_entropy(logits, targets))


def test_evaluate_scores_the_argmax_and_keeps_each_rows_confidence():
    logits = np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    result = TASK.evaluate(logits, np.array([0, 2, 2]), np.array([0.1, 0.2, 0.3], dtype=np.float32), SPACE)
    assert result.predicted == [0, 2, 1] and result.gold == [0, 2, 2]
    assert result.metrics["accuracy"] == pytest.approx(2 / 3) and result.metrics["loss"] == pytest.approx(0.2)
    assert result.confidence[0] == pytest.approx(float(np.exp(3) / (np.exp(3) + 2)))
    assert result.metrics["labels"] == SPACE.names and set(TASK.metrics) <= set(result.metrics)
    header, rows = TASK.validation_rows(result, SPACE)
    assert header == ["gold", "predicted", "confidence"] and rows[2][:2] == ["pos", "neg"]


def test_loss_improves_downwards_and_scores_upwards():
    assert TASK.higher_is_better("macro_f1") and TASK.higher_is_better("accuracy")
    assert not TASK.higher_is_better("loss")


def test_predictions_and_output_cells_follow_the_models_label_map():
    class Config:
        num_labels = 2
        id2label = {0: "neg", 1: "pos"}

    (first, second) = TASK.predictions(np.array([[0.0, 2.0], [1.0, 0.0]], dtype=np.float32), Config())
    assert isinstance(first, Prediction) and first.label == "pos" and second.label == "neg"
    assert first.probabilities["pos"] == pytest.approx(first.confidence)
    assert TASK.output_columns(Config()) == ["predicted_label", "prob_neg", "prob_pos"]
    assert TASK.output_cells(first, Config()) == ["pos", f"{first.probabilities['neg']:.6f}",
                                                  f"{first.probabilities['pos']:.6f}"]


def test_finalize_marks_the_saved_model_single_label():
    class Model:
        class config:  # noqa: N801 - stands in for a transformers config object
            pass

    TASK.finalize(Model, SPACE, None)
    assert Model.config.bertstudio_task == "single_label"


def test_card_section_says_when_no_evaluation_was_completed():
    assert TASK.card_section({}, SPACE) == ["No evaluation was completed."]
    lines = TASK.card_section({"accuracy": 0.5, "macro_f1": 0.25, "loss": None}, SPACE)
    assert "| accuracy | 0.5000 |" in lines and not any("loss" in line for line in lines)


def test_eval_result_round_trips_through_a_checkpoints_json():
    import json
    from dataclasses import asdict

    result = EvalResult(metrics={"macro_f1": 0.5}, predicted=[1], confidence=[0.9], gold=[1])
    assert EvalResult(**json.loads(json.dumps(asdict(result)))) == result
