"""The CLI's progress lines: each task's own numbers, named as --metric-for-best names them."""

import io

from bertstudio.events import Evaluation, Finished, Started
from bertstudio.training.progress import ConsoleProgress, describe_metrics

REGRESSION = {"pearson": 0.81, "spearman": 0.79, "rmse": 0.62, "mae": 0.5, "r2": 0.64, "loss": 0.4, "count": 9}
MULTI = {"macro_f1": 0.41, "micro_f1": 0.52, "subset_accuracy": 0.25, "macro_f1_at_0.5": 0.3,
         "micro_f1_at_0.5": 0.46, "subset_accuracy_at_0.5": 0.2, "loss": 0.3, "per_label": {}, "count": 9}


def _started(task=None, config_task="auto", labels=("a", "b", "c")):
    return Started(run_id="r", run_dir="d", config={"task": config_task}, labels=list(labels), train_size=9,
                   validation_size=3, total_steps=4, steps_per_epoch=2, device="cpu", precision="no", task=task)


def test_a_regression_run_prints_its_correlations_and_errors_not_just_the_loss():
    line = describe_metrics(REGRESSION, "regression")
    assert line == "pearson 0.8100, spearman 0.7900, rmse 0.6200, mae 0.5000, r2 0.6400, loss 0.4000"


def test_a_multi_label_run_prints_its_micro_f1_and_exact_matches_beside_the_macro_f1():
    line = describe_metrics(MULTI, "multi_label")
    assert line.startswith("macro_f1 0.4100, micro_f1 0.5200, subset_accuracy 0.2500")
    names = [part.split()[0] for part in line.split(", ")]
    assert "micro_f1_at_0.5" in names and names[-1] == "loss" and "accuracy" not in names


def test_one_label_per_row_leads_with_its_headline_and_keeps_accuracy():
    assert describe_metrics({"accuracy": 0.8125, "macro_f1": 0.8, "loss": 0.45}, "single_label") == \
        "macro_f1 0.8000, accuracy 0.8125, loss 0.4500"


def test_with_no_task_known_every_number_the_metrics_hold_is_printed_with_the_loss_last():
    line = describe_metrics(REGRESSION)
    assert line.startswith("pearson 0.8100") and line.endswith("loss 0.4000") and "r2 0.6400" in line
    assert describe_metrics(REGRESSION, "a_task_from_a_newer_version") == line


def test_the_console_follows_the_task_the_started_event_names():
    stream = io.StringIO()
    console = ConsoleProgress(stream)
    console.handle(_started(task="regression", labels=["score"]))
    console.handle(Evaluation(step=2, epoch=1.0, metrics=REGRESSION, is_best=True))
    console.handle(Finished(run_dir="d", metrics=REGRESSION, steps=4, elapsed_seconds=3.0))
    started, evaluation, finished = stream.getvalue().splitlines()
    assert "a number per row ('score')" in started and "classes" not in started
    assert evaluation.startswith("evaluation at step 2: pearson 0.8100") and "(best so far)" in evaluation
    assert finished.endswith("r2 0.6400, loss 0.4000")


def test_a_log_from_before_the_event_named_its_task_falls_back_to_the_config():
    stream = io.StringIO()
    console = ConsoleProgress(stream)
    console.handle(_started(task=None, config_task="multi_label"))
    assert console.task == "multi_label"
    assert "any number of labels per row ('a', 'b', 'c')" in stream.getvalue()
