"""The regression task: reading numbers, refusing unusable columns, the binned split, metrics in the
user's units against scikit-learn/scipy, folding the scaling into the saved model, prediction columns."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from bertstudio.data.columns import ColumnChoice
from bertstudio.data.tabular import read_table
from bertstudio.tasks.base import Dropped, TargetSpace
from bertstudio.tasks.numbers import column_is_numeric, parse_number
from bertstudio.tasks.regression import RegressionTask
from bertstudio.tasks.regression_metrics import average_ranks, regression_metrics

TASK = RegressionTask()


def _targets(make_csv, rows, delimiter=","):
    table = read_table(make_csv(rows, delimiter=delimiter))
    return TASK.read_targets(table, ColumnChoice(text="text", label="score"))


# --- reading numbers ----------------------------------------------------------------------------

def test_decimal_comma_in_semicolon_file_reads_as_decimal_point(make_csv):
    rows = [{"text": f"row {i}", "score": s} for i, s in enumerate(["3,5", "4", "-0,25", "1.234,5", "2,75"])]
    assert _targets(make_csv, rows, delimiter=";") == [3.5, 4.0, -0.25, 1234.5, 2.75]


def test_dot_decimals_with_three_digits_stay_decimals_in_tab_file(make_csv):
    # STS-B writes "5.000" and "3.800": a decimal comma reading would make them 5000 and 3800.
    rows = [{"text": f"row {i}", "score": s} for i, s in enumerate(["5.000", "3.800", "0.750", "2.5"])]
    assert _targets(make_csv, rows, delimiter="\t") == [5.0, 3.8, 0.75, 2.5]


def test_integers_signs_exponents_and_thousands_groups_are_numbers(make_csv):
    rows = [{"text": f"row {i}", "score": s}
            for i, s in enumerate(["12", "-3", "+7", "1e3", "2.5E-2", "1,234,567", "1,234.5", "−4"])]
    assert _targets(make_csv, rows) == [12.0, -3.0, 7.0, 1000.0, 0.025, 1234567.0, 1234.5, -4.0]


def test_junk_cells_are_dropped_with_their_reasons(make_csv):
    rows = [{"text": f"row {i}", "score": s}
            for i, s in enumerate(["1.5", "", "  ", "great", "nan", "inf", "1e999", "2"])]
    assert _targets(make_csv, rows) == [
        1.5, Dropped("empty label"), Dropped("empty label"), Dropped("label is not a number"),
        Dropped("label is not a finite number"), Dropped("label is not a finite number"),
        Dropped("label is not a finite number"), 2.0]


def test_a_cell_with_one_reading_is_read_that_way_whatever_the_column_decides():
    assert parse_number("3,5", decimal_comma=False) == 3.5
    assert parse_number("2.5", decimal_comma=True) == 2.5
    assert parse_number("1,234", decimal_comma=False) == 1234.0
    assert parse_number("1,234", decimal_comma=True) == 1.234
    assert parse_number("1 234,5", decimal_comma=True) == 1234.5
    assert parse_number("12 apples", decimal_comma=False) is None


def test_column_decides_decimal_comma_from_its_own_cells():
    assert column_is_numeric(["3,5", "4", "1,250"]) == (1.0, True)
    assert column_is_numeric(["5.000", "3.800", "0.750"]) == (1.0, False)
    assert column_is_numeric(["1,250", "2,500"]) == (1.0, True)  # one comma, no dot: a decimal mark
    assert column_is_numeric(["1,234,567", "2,500"]) == (1.0, False)  # groups of thousands
    share, _ = column_is_numeric(["good", "bad", "3", ""])
    assert share == pytest.approx(1 / 3)


# --- refusing columns ---------------------------------------------------------------------------

def test_constant_column_is_refused_in_a_plain_sentence():
    problems = TASK.problems([2.0] * 10, "score", split=True, source="data.csv")
    assert problems and "Every value in column 'score' is 2" in problems[0]


def test_a_column_of_words_is_told_to_pick_scores_or_train_classes():
    values = [Dropped("label is not a number")] * 8 + [1.0, 2.0]
    problems = TASK.problems(values, "sentiment", split=True, source="data.csv")
    assert problems == ["Column 'sentiment' holds words, not numbers; pick the column with the "
                        "scores or train classes instead."]


def test_too_few_numbers_are_a_problem_and_no_numbers_are_left_to_the_pipeline():
    assert TASK.problems([1.0, 2.0, 3.0], "score", split=True, source="data.csv") == [
        "'data.csv' has only 3 rows with a number in column 'score'; training needs at least 4, "
        "so add rows to the file."]
    assert TASK.problems([1.0, 2.0, 3.0], "score", split=False, source="data.csv") == []
    assert TASK.problems([Dropped("empty label")], "score", split=True, source="data.csv") == []


def test_fit_keeps_mean_std_range_and_floors_std():
    space = TASK.fit([1.0, 2.0, 3.0, Dropped("empty label")], column="score")
    assert space.names == ["score"]
    assert space.stats["mean"] == 2.0 and space.stats["min"] == 1.0 and space.stats["max"] == 3.0
    assert space.stats["std"] == pytest.approx(np.std([1.0, 2.0, 3.0]))
    assert TASK.fit([4.0, 4.0], column="score").stats["std"] > 0


def test_fit_scaling_comes_from_training_rows_only():
    values = [1.0, 2.0, 3.0, 4.0, 10.0, -5.0]
    train = [0, 1, 2, 3]  # rows 4 and 5 are validation
    space = TASK.fit(values, column="score", train=train)
    assert space.names == ["score"]
    assert space.stats == TASK.fit(values[:4], column="score").stats
    assert (space.stats["min"], space.stats["max"]) == (1.0, 4.0)
    other_validation = TASK.fit([1.0, 2.0, 3.0, 4.0, 1000.0, 7.0], column="score", train=train)
    assert other_validation == space
    other_training = TASK.fit([1.0, 2.0, 3.0, 8.0, 10.0, -5.0], column="score", train=train)
    assert other_training.stats["mean"] != space.stats["mean"]
    assert other_training.stats["std"] != space.stats["std"]
    assert other_training.stats["max"] == 8.0


def test_gold_outside_the_training_range_comes_back_as_typed():
    # A validation value far from every training value: its float32 round trip errs by more
    # than the training spread alone allows for, and must still read as the number typed.
    space = TASK.fit([0.0, 0.25, 0.5, 0.75, 1.0], column="score")
    gold = [30.123, 0.25, 47.3, 0.75]  # rounded to the training spread: 30.123001 and 47.300001
    targets = np.asarray(TASK.encode(gold, space), dtype=np.float32)
    result = TASK.evaluate(targets.reshape(-1, 1), targets, np.zeros(4), space)
    assert result.gold == gold


# --- split and counts ---------------------------------------------------------------------------

def test_binned_split_covers_the_value_range_on_both_sides():
    rng = np.random.default_rng(0)
    values = rng.exponential(2.0, 200).tolist()  # skewed: a random split can miss the long tail
    train, validation = TASK.split(values, 0.1, seed=42)
    assert sorted(train + validation) == list(range(200)) and not set(train) & set(validation)
    assert train == sorted(train) and validation == sorted(validation)
    assert len(validation) == 20
    tail = set(np.argsort(values)[-20:].tolist())  # the top decile
    head = set(np.argsort(values)[:20].tolist())
    for side in (train, validation):
        assert set(side) & tail and set(side) & head
    val_values = [values[i] for i in validation]
    assert min(val_values) < np.quantile(values, 0.1) and max(val_values) > np.quantile(values, 0.9)


def test_split_is_seeded_and_deterministic():
    values = [float(i % 7) for i in range(50)]
    assert TASK.split(values, 0.2, seed=3) == TASK.split(values, 0.2, seed=3)
    assert TASK.split(values, 0.2, seed=3) != TASK.split(values, 0.2, seed=4)


def test_tiny_split_keeps_rows_on_both_sides():
    train, validation = TASK.split([1.0, 2.0, 3.0, 4.0], 0.1, seed=0)
    assert len(validation) == 1 and len(train) == 3


def test_a_validation_value_outside_the_training_range_is_never_unseen():
    space = TASK.fit([1.0, 2.0, 3.0], column="score")
    assert TASK.unseen([-50.0, 2.0, 1e6], space) == []


def test_regression_has_every_method_the_task_protocol_names():
    import inspect

    from bertstudio.tasks.base import Task

    wanted = [name for name, member in vars(Task).items() if inspect.isfunction(member) and not name.startswith("_")]
    assert "unseen" in wanted
    assert [name for name in wanted if not callable(getattr(TASK, name, None))] == []


def test_counts_name_whole_numbers_and_round_bins():
    space = TargetSpace(names=["stars"])
    assert TASK.counts([1.0, 2.0, 2.0, 5.0], space) == {"1": 1, "2": 2, "3": 0, "4": 0, "5": 1}
    bins = TASK.counts([0.0, 0.2, 1.3, 4.9, 5.0], space)
    assert list(bins) == ["0–0.5", "0.5–1", "1–1.5", "1.5–2", "2–2.5", "2.5–3", "3–3.5",
                          "3.5–4", "4–4.5", "4.5–5"]
    assert bins["0–0.5"] == 2 and bins["1–1.5"] == 1 and bins["4.5–5"] == 2
    assert sum(bins.values()) == 5


# --- metrics ------------------------------------------------------------------------------------

def test_metrics_match_scikit_learn_and_numpy():
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    rng = np.random.default_rng(1)
    gold = rng.uniform(0, 5, 40)
    predicted = gold + rng.normal(0, 0.7, 40)
    metrics, notes = regression_metrics(gold, predicted, loss=0.5)
    assert notes == []
    assert metrics["pearson"] == pytest.approx(np.corrcoef(gold, predicted)[0, 1])
    assert metrics["rmse"] == pytest.approx(math.sqrt(mean_squared_error(gold, predicted)))
    assert metrics["mae"] == pytest.approx(mean_absolute_error(gold, predicted))
    assert metrics["r2"] == pytest.approx(r2_score(gold, predicted))
    assert metrics["count"] == 40 and metrics["loss"] == 0.5


def test_spearman_matches_scipy_with_ties():
    gold = np.array([1.0, 2.0, 2.0, 3.0, 5.0, 5.0, 5.0, 0.5])
    predicted = np.array([1.1, 1.9, 2.5, 2.5, 4.0, 6.0, 4.5, 0.0])
    metrics, _ = regression_metrics(gold, predicted)
    try:
        from scipy.stats import rankdata, spearmanr
    except ImportError:  # scipy is optional: check the ranks against their definition instead
        assert average_ranks(gold).tolist() == [2.0, 3.5, 3.5, 5.0, 7.0, 7.0, 7.0, 1.0]
        return
    assert metrics["spearman"] == pytest.approx(spearmanr(gold, predicted).statistic)
    assert average_ranks(predicted).tolist() == rankdata(predicted).tolist()


def test_constant_predictions_give_zero_correlation_and_no_nan_in_json():
    space = TargetSpace(names=["score"], stats={"mean": 3.0, "std": 2.0, "min": 0.0, "max": 5.0})
    targets = np.array([-1.0, 0.0, 0.5, 1.0])
    result = TASK.evaluate(np.zeros((4, 1)), targets, np.ones(4), space)
    assert result.metrics["pearson"] == 0.0 and result.metrics["spearman"] == 0.0
    assert "same value for every row" in result.extra["notes"][0]
    text = json.dumps({"metrics": result.metrics, "predicted": result.predicted}, allow_nan=False)
    assert "NaN" not in text


def test_evaluate_reports_user_units_and_per_row_outcomes():
    space = TargetSpace(names=["score"], stats={"mean": 10.0, "std": 4.0, "min": 2.0, "max": 18.0})
    targets = np.array([-1.0, 0.0, 2.0])        # standardised 6, 10, 18
    logits = np.array([[-0.5], [0.0], [1.5]])   # standardised 8, 10, 16
    result = TASK.evaluate(logits, targets, np.array([0.25, 0.0, 0.25]), space)
    assert result.gold == pytest.approx([6.0, 10.0, 18.0])
    assert result.predicted == pytest.approx([8.0, 10.0, 16.0])
    assert result.confidence == [None, None, None]
    assert result.metrics["mae"] == pytest.approx(4 / 3)
    assert result.metrics["loss"] == pytest.approx(1 / 6)
    columns, rows = TASK.validation_rows(result, space)
    assert columns == ["gold", "predicted", "error"]
    assert rows[0] == ["6", "8", "2"] and rows[2] == ["18", "16", "-2"]


def test_gold_values_read_as_typed_after_their_float32_round_trip():
    values = [0.0, 0.25, 2.25, 4.25, 3.0, 1.0]
    space = TASK.fit(values, column="score")
    targets = np.array(TASK.encode(values, space), dtype=np.float32)  # what the collator stacks
    result = TASK.evaluate(targets[:, None], targets, np.zeros(6), space)
    assert result.gold == values
    assert [row[0] for row in TASK.validation_rows(result, space)[1]] == ["0", "0.25", "2.25", "4.25", "3", "1"]


def test_diverged_predictions_count_as_the_mean_not_nan():
    space = TargetSpace(names=["score"], stats={"mean": 1.0, "std": 1.0, "min": 0.0, "max": 2.0})
    result = TASK.evaluate(np.array([[np.nan], [1.0], [0.0]]), np.array([-1.0, 1.0, 0.0]),
                           np.array([np.nan, 0.0, 0.0]), space)
    json.dumps(result.metrics, allow_nan=False)
    assert result.predicted[0] == 1.0 and "not numbers" in result.extra["notes"][0]


def test_loss_is_squared_error_per_row_on_standardised_targets():
    space = TargetSpace(names=["score"], stats={"mean": 0.0, "std": 1.0})
    losses = TASK.loss(torch.tensor([[1.0], [0.0], [-2.0]]), torch.tensor([0.0, 0.0, 1.0]), space)
    assert losses.shape == (3,) and losses.tolist() == [1.0, 0.0, 9.0]


def test_head_encode_and_metric_directions():
    space = TASK.fit([2.0, 4.0, 6.0], column="rating")
    assert TASK.head(space) == {"num_labels": 1, "id2label": {0: "rating"}, "label2id": {"rating": 0},
                                "problem_type": "regression"}
    assert TASK.encode([4.0, 6.0], space) == pytest.approx([0.0, 2.0 / np.std([2, 4, 6])])
    assert TASK.target_dtype == torch.float32
    assert TASK.headline in TASK.metrics and "loss" in TASK.metrics
    assert not TASK.higher_is_better("rmse") and not TASK.higher_is_better("loss")
    assert TASK.higher_is_better("pearson") and TASK.higher_is_better("r2")


# --- the saved model ----------------------------------------------------------------------------

def _logits(model, tokenizer, texts):
    with torch.no_grad():
        return model(**tokenizer(texts, return_tensors="pt", padding=True)).logits[:, 0].numpy()


def test_folding_puts_the_scaling_into_the_model_and_pipeline_returns_user_units(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer, BertForSequenceClassification, pipeline

    space = TargetSpace(names=["score"], stats={"mean": 3.25, "std": 1.5, "min": 0.0, "max": 5.0})
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(tiny_model_dir, **TASK.head(space)).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = ["a lovely day", "the worst film ever made", "ordinary"]
    before = _logits(model, tokenizer, texts)
    TASK.finalize(model, space, None)
    after = _logits(model, tokenizer, texts)
    assert after == pytest.approx(before * 1.5 + 3.25, abs=1e-5)
    assert model.config.bertstudio_task == "regression"

    folder = tmp_path / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    scorer = pipeline("text-classification", model=str(folder), function_to_apply="none", device="cpu")
    scores = [out["score"] for out in scorer(texts)]
    assert scores == pytest.approx(after.tolist(), abs=1e-5)
    assert scorer(texts[0])[0]["label"] == "score"
    # problem_type "regression" makes "none" the pipeline's default too: no sigmoid squashes the value.
    plain = pipeline("text-classification", model=str(folder), device="cpu")
    assert [out["score"] for out in plain(texts)] == pytest.approx(after.tolist(), abs=1e-5)


def test_folding_finds_a_one_output_layer_without_bias_in_any_head():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1, bias=False))
    model.config = type("Config", (), {})()
    x = torch.randn(5, 3)
    before = model(x).detach()
    TASK.finalize(model, TargetSpace(names=["y"], stats={"mean": -2.0, "std": 10.0}), None)
    assert model(x).detach() == pytest.approx(before * 10.0 - 2.0, abs=1e-4)


# --- prediction columns -------------------------------------------------------------------------

def test_predictions_and_output_cells_are_the_value_in_user_units():
    predictions = TASK.predictions(np.array([[3.14159265], [-1234567.8], [0.5]]), model_config=None)
    assert [p.value for p in predictions] == pytest.approx([3.14159265, -1234567.8, 0.5])
    assert predictions[0].label == "3.142" and predictions[0].confidence is None
    assert predictions[0].probabilities == {}
    assert TASK.output_columns(None) == ["predicted_value"]
    assert [TASK.output_cells(p, None) for p in predictions] == [["3.14159"], ["-1234568"], ["0.5"]]


def test_card_names_the_column_range_and_metrics():
    space = TargetSpace(names=["score"], stats={"mean": 2.5, "std": 1.0, "min": 0.0, "max": 5.0})
    intro = TASK.card_intro(space, pairs=True)
    assert "`score`" in intro and "pair of texts" in intro and "from 0 to 5, mean 2.5" in intro
    assert "function_to_apply='none'" in intro
    metrics = {"pearson": 0.87, "spearman": 0.85, "rmse": 0.6, "mae": 0.45, "r2": 0.74, "loss": 0.3,
               "count": 12}
    text = "\n".join(TASK.card_section(metrics, space))
    for row in ("| Pearson | 0.8700 |", "| Spearman | 0.8500 |", "| RMSE | 0.6000 |", "| MAE | 0.4500 |",
                "| R² | 0.7400 |", "12 validation rows"):
        assert row in text
    assert TASK.card_section({}, space) == ["No evaluation was completed."]
