"""A model that learned nothing says so: each task's rule on made-up evaluations, then a real run
that learns nothing (tiny model, learning rate 1e-6, one epoch) warning in metrics.json, the end
event, the model card, the CLI's stderr, and the Train, Runs and Predict tabs' renderings."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bertstudio.events import Finished, read_events
from bertstudio.runs.folder import read_run, run_warning
from bertstudio.tasks.base import EvalResult, TargetSpace
from bertstudio.tasks.multi_label import MultiLabel
from bertstudio.tasks.regression import RegressionTask
from bertstudio.tasks.single_label import SingleLabel

PAIRS = TargetSpace(names=["not_paraphrase", "paraphrase"])


def outcome(predicted, gold):
    return EvalResult(metrics={}, predicted=list(predicted), confidence=[0.5] * len(gold), gold=list(gold))


# --- one label per row -------------------------------------------------------------------------------

def test_one_class_for_every_row_names_that_class_and_what_to_do():
    gold = [1] * 68 + [0] * 32  # MRPC's validation split is about 68% paraphrases
    said = SingleLabel().learned_nothing(outcome([1] * 100, gold), PAIRS)
    assert said.startswith("The model predicts 'paraphrase' for every validation row")
    assert "train for more epochs" in said and "learning rate" in said


def test_one_class_for_nearly_every_row_counts_the_rows():
    gold = [1] * 50 + [0] * 50
    predicted = [1] * 97 + [0] * 3
    said = SingleLabel().learned_nothing(outcome(predicted, gold), PAIRS)
    assert "'paraphrase' for 97 of 100 validation rows (97%)" in said


def test_worse_than_always_answering_the_majority_class_is_told_with_both_numbers():
    # Mostly the rare class, some right: kappa is above 0 but accuracy and macro-F1 trail the constant.
    gold = [0] * 30 + [1] * 70
    predicted = [0] * 30 + [0] * 60 + [1] * 10
    said = SingleLabel().learned_nothing(outcome(predicted, gold), PAIRS)
    assert said.startswith("The model scores no better than answering 'paraphrase' for every row")
    assert "accuracy 0.40" in said and "0.70" in said


def test_answers_independent_of_the_truth_are_no_better_than_guessing():
    # 80/20 answers spread over 70/30 gold exactly in proportion: agreement is what chance gives.
    gold = [1] * 70 + [0] * 30
    predicted = [1] * 56 + [0] * 14 + [1] * 24 + [0] * 6
    said = SingleLabel().learned_nothing(outcome(predicted, gold), PAIRS)
    assert said.startswith("The model's answers match the true labels no more often than guessing")


def test_an_honestly_weak_model_on_balanced_classes_is_not_told_it_learned_nothing():
    rng = np.random.default_rng(0)
    gold = [0] * 100 + [1] * 100
    predicted = [g if rng.random() < 0.62 else 1 - g for g in gold]  # 62% right
    assert SingleLabel().learned_nothing(outcome(predicted, gold), PAIRS) is None


def test_a_model_that_answers_the_common_class_95_percent_but_finds_the_rare_one_is_quiet():
    # 90/10 data: 95 rows answered 'not_paraphrase', 3 of the 10 rare rows found (F1 about 0.4).
    gold = [0] * 90 + [1] * 10
    predicted = [0] * 88 + [1, 1] + [1, 1, 1] + [0] * 7
    assert SingleLabel().learned_nothing(outcome(predicted, gold), PAIRS) is None


def test_validation_rows_of_one_class_cannot_tell():
    assert SingleLabel().learned_nothing(outcome([1] * 10, [1] * 10), PAIRS) is None


# --- several labels per row -----------------------------------------------------------------------------

TAGS = TargetSpace(names=["anger", "joy", "love"])


def test_no_tag_for_any_row_says_none_of_the_labels():
    gold = [[1], [1, 2], [0], [], [1]] * 20
    said = MultiLabel().learned_nothing(outcome([[]] * 100, gold), TAGS)
    assert said.startswith("The model predicts none of the labels for every validation row")


def test_the_most_common_tag_for_every_row_names_it():
    gold = [[1], [1, 2], [0], [], [1]] * 20
    said = MultiLabel().learned_nothing(outcome([[1]] * 100, gold), TAGS)
    assert said.startswith("The model predicts only 'joy' for every validation row")


def test_a_micro_f1_below_the_best_constant_set_is_told_with_that_set():
    # Varied answers, but every one of them wrong: 'joy' for every row would score better.
    gold = [[1], [1, 2], [0], [], [1]] * 20
    predicted = [[0], [0], [2], [1], [2]] * 20
    said = MultiLabel().learned_nothing(outcome(predicted, gold), TAGS)
    assert said.startswith("The model's micro F1 (0.00) is no better than giving every row 'joy'")


def test_an_honestly_weak_tagger_is_not_told_it_learned_nothing():
    rng = np.random.default_rng(1)
    gold = [[1], [1, 2], [0], [], [1]] * 40
    predicted = [[t for t in range(3) if (t in row) != (rng.random() < 0.25)] for row in gold]
    assert MultiLabel().learned_nothing(outcome(predicted, gold), TAGS) is None


def test_a_tagger_on_mostly_untagged_rows_that_finds_the_tags_is_quiet():
    gold = [[]] * 96 + [[0], [1], [2], [1]]
    predicted = [[]] * 96 + [[0], [1], [2], []]
    assert MultiLabel().learned_nothing(outcome(predicted, gold), TAGS) is None


# --- a number per row ------------------------------------------------------------------------------------

SCORE = TargetSpace(names=["similarity"], stats={"mean": 2.5, "std": 1.4, "min": 0.0, "max": 5.0})


def regression_outcome(predicted, gold):
    return EvalResult(metrics={}, predicted=list(map(float, predicted)), confidence=[None] * len(gold),
                      gold=list(map(float, gold)))


def test_nearly_the_same_value_for_every_row_names_the_column_and_the_value():
    gold = np.linspace(0, 5, 60)
    predicted = 2.5 + np.random.default_rng(0).normal(0, 0.01, 60)
    said = RegressionTask().learned_nothing(regression_outcome(predicted, gold), SCORE)
    assert said.startswith("The model predicts about 2.5 for every validation row (the true 'similarity'")
    assert "from 0 to 5" in said


def test_predictions_that_do_not_follow_the_truth_are_no_better_than_the_average():
    gold = np.linspace(0, 5, 60)
    predicted = np.random.default_rng(2).permutation(gold)  # full spread, no relation
    said = RegressionTask().learned_nothing(regression_outcome(predicted, gold), SCORE)
    assert said.startswith("The model's predictions of 'similarity' do not follow the true values")


def test_an_honestly_weak_regressor_is_not_told_it_learned_nothing():
    rng = np.random.default_rng(3)
    gold = rng.uniform(0, 5, 300)
    predicted = 2.5 + 0.3 * (gold - 2.5) + rng.normal(0, 0.6, 300)  # r about 0.4
    assert RegressionTask().learned_nothing(regression_outcome(predicted, gold), SCORE) is None


def test_small_outputs_that_still_rank_the_rows_are_not_nothing():
    gold = np.linspace(0, 5, 60)
    predicted = 2.5 + 0.02 * (gold - 2.5)  # spread 2% of the truth's, perfectly ordered
    assert RegressionTask().learned_nothing(regression_outcome(predicted, gold), SCORE) is None


def test_one_true_value_cannot_tell():
    assert RegressionTask().learned_nothing(regression_outcome([2.0, 2.0, 2.0], [3.0] * 3), SCORE) is None


# --- a real run that learns nothing ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def idle_run(tmp_path_factory, tiny_model_dir):
    """`bertstudio train` on 80 look-alike rows (64 'common', 16 'rare') at a learning rate of 1e-6
    for one epoch: the model cannot move, and answers one class for every row."""
    folder = tmp_path_factory.mktemp("idle")
    data = folder / "imbalanced.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(80):
            writer.writerow([f"a short note number {i}", "rare" if i % 5 == 0 else "common"])
    out = subprocess.run([sys.executable, "-m", "bertstudio", "train", "--data", str(data), "--model",
                          str(tiny_model_dir), "--epochs", "1", "--learning-rate", "1e-6", "--batch-size", "16",
                          "--max-length", "16", "--output-dir", str(folder / "runs")],
                         capture_output=True, text=True, timeout=600, cwd=folder)
    assert out.returncode == 0, out.stderr
    return out, Path(out.stdout.strip().splitlines()[-1])


def test_the_cli_says_warning_on_stderr_and_keeps_the_run_folder_as_the_last_line(idle_run):
    out, run_dir = idle_run
    warnings = [line for line in out.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "The model predicts '" in warnings[0], out.stderr
    assert "train for more epochs" in warnings[0]
    assert run_dir.is_dir() and out.stdout.strip().splitlines()[-1] == str(run_dir)


def test_metrics_the_end_event_and_the_model_card_carry_the_same_sentence(idle_run):
    out, run_dir = idle_run
    sentence = out.stderr.split("warning: ", 1)[1].splitlines()[0]
    assert json.loads((run_dir / "metrics.json").read_text())["warning"] == sentence
    events, _ = read_events(run_dir / "events.jsonl")
    assert isinstance(events[-1], Finished) and events[-1].warning == sentence
    card = (run_dir / "README.md").read_text()
    assert f"> **Warning: this model learned nothing useful.** {sentence}" in card
    assert card.index("learned nothing useful") < card.index("## Use it")
    assert read_run(run_dir).warning == sentence == run_warning(run_dir)


def test_a_model_that_learns_says_nothing(tmp_path, tiny_model_dir, learnable_csv):
    from bertstudio.config import TrainConfig
    from bertstudio.training.trainer import train
    from conftest import LEARNABLE_SETTINGS

    result = train(TrainConfig(data=str(learnable_csv), model=str(tiny_model_dir),
                               output_dir=str(tmp_path / "runs"), seed=7, **LEARNABLE_SETTINGS))
    assert result.status == "finished" and result.metrics["accuracy"] > 0.85
    run_dir = Path(result.run_dir)
    assert "warning" not in json.loads((run_dir / "metrics.json").read_text())
    assert read_events(run_dir / "events.jsonl")[0][-1].warning is None
    assert "learned nothing" not in (run_dir / "README.md").read_text()


# --- the tabs ----------------------------------------------------------------------------------------------

def test_the_train_tab_shows_the_warning_under_the_progress_bar_and_in_the_log(idle_run):
    from bertstudio.ui import render
    from bertstudio.ui.results import history_of

    _, run_dir = idle_run
    history = history_of(run_dir).history
    shown = render.progress_html(history)
    assert 'class="problem learned-nothing" role="alert"' in shown
    assert "The model learned nothing useful." in shown and "&#x27;" in shown  # the label's quotes escaped
    assert any(line.split("  ", 1)[1].startswith("Warning: The model predicts") for line in history.log)


def test_the_runs_tab_marks_the_run_in_its_table_picker_and_summary(idle_run, tmp_path):
    from bertstudio.runs.folder import list_runs
    from bertstudio.ui import runs_tab
    from bertstudio.ui.results import RUNS_HEADERS, read_results, run_choice_label, runs_rows
    from bertstudio.ui.results_text import warning_markdown

    _, run_dir = idle_run
    summaries = list_runs(run_dir.parent)
    row = dict(zip(RUNS_HEADERS, runs_rows(summaries)[0]))
    assert row["status"] == "finished · learned nothing"
    assert run_choice_label(summaries[0]).endswith(f"· learned nothing · {run_dir.name[-12:]}")
    results = read_results(run_dir)
    assert warning_markdown(results.warning).startswith(
        "⚠️ **The model learned nothing useful.** The model predicts 'common' for every validation row")
    assert warning_markdown("predicts '*bold*'").endswith("predicts '\\*bold\\*'")  # user text stays text
    opened = runs_tab.open_run(run_dir.parent, False, lambda: tmp_path, {}, run_dir.name)
    assert opened[1].startswith("**Finished** · ") and warning_markdown(results.warning) in opened[1]


def test_the_predict_tab_says_it_first_when_such_a_run_is_picked(idle_run):
    from bertstudio.ui import predict_tab
    from bertstudio.ui.session import SessionObjects

    _, run_dir = idle_run
    objects = SessionObjects()
    try:
        about = predict_tab.describe(objects, run_dir.parent, run_dir.name)[0]
    finally:
        objects.close()
    assert about.startswith("⚠️ **The model learned nothing useful.** The model predicts")
