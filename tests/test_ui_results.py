"""A run folder read back for display: the misclassified rows as the Train tab shows them."""

import csv
from pathlib import Path

import pytest

from bertstudio.ui.results import misclassified_rows


def _predictions(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_misclassified_rows_put_gold_predicted_and_confidence_before_the_texts(tmp_path):
    path = _predictions(tmp_path / "p.csv", ["text", "text_pair", "gold", "predicted", "confidence"],
                        [["long review " * 40, "second", "pos", "neg", "0.61"],
                         ["right", "x", "pos", "pos", "0.99"],
                         ["short", "y", "neg", "pos", "0.93"]])
    headers, rows, total = misclassified_rows(path)
    assert headers == ["gold", "predicted", "confidence", "text", "text_pair"]
    assert total == 2 and rows[0][:4] == ["neg", "pos", "0.93", "short"]  # most confident mistake first
    assert rows[1][:3] == ["pos", "neg", "0.61"] and rows[1][3].endswith("…")


def test_largest_misses_come_first_with_their_error():
    from bertstudio.ui.misses import largest_misses

    header = ["sentence1", "gold", "predicted"]
    rows = [["close", "3.0", "3.1"], ["far", "0.5", "4.5"], ["middle", "2.0", "1.0"]]
    headers, shown, total = largest_misses(header, rows)
    assert headers == ["gold", "predicted", "error", "sentence1"] and total == 3
    assert [row[3] for row in shown] == ["far", "middle", "close"] and shown[0][2] == "4"


def test_a_regression_predictions_file_with_its_own_error_column_keeps_it():
    from bertstudio.ui.misses import largest_misses, value_pairs

    header = ["text", "gold", "predicted", "error"]
    rows = [["a", "1", "1.5", "0.5"], ["b", "2", "x", "?"], ["c", "4", "2", "-2"]]
    headers, shown, _ = largest_misses(header, rows)
    assert headers == ["gold", "predicted", "error", "text"] and shown[0][3] == "c"
    assert value_pairs(header, rows) == ([1.0, 4.0], [1.5, 2.0])  # the unreadable row is left out


def test_a_multi_label_row_is_a_mistake_when_its_set_differs():
    from bertstudio.ui.misses import misclassified_rows_of

    header = ["text", "gold", "predicted", "prob_joy", "prob_anger"]
    rows = [["right", "joy", "joy", "0.9", "0.1"], ["wrong", "joy|anger", "joy", "0.8", "0.3"],
            ["empty", "", "anger", "0.1", "0.6"]]
    headers, shown, total = misclassified_rows_of(header, rows)
    assert total == 2 and [row[2] for row in shown] == ["wrong", "empty"]
    assert headers[:3] == ["gold", "predicted", "text"]


class _Record:
    def __init__(self, task=None, data_task=None, metric="auto", metrics=None, labels=("a", "b")):
        from types import SimpleNamespace

        self.config = SimpleNamespace(task=task, metric_for_best=metric) if task is not None else \
            SimpleNamespace(metric_for_best=metric)
        self.data_record = {"task": data_task} if data_task else {}
        self.metrics = metrics or {}
        self.labels, self.created, self.status_text = list(labels), 0.0, "finished"
        self.model, self.data, self.run_id, self.damage = "bundled", "x.csv", "run-1", None


def test_a_run_from_before_tasks_reads_as_single_label_with_macro_f1_as_its_headline():
    from bertstudio.ui.results import headline, runs_rows, task_of

    old = _Record(metric="macro_f1", metrics={"accuracy": 0.9, "macro_f1": 0.85})
    assert task_of(old) == "single_label" and headline(old) == ("macro_f1", 0.85)
    row = runs_rows([old])[0]
    assert row[2:5] == ["single-label", "macro F1", "0.8500"]


def test_the_runs_table_names_each_runs_task_and_headline_metric():
    from bertstudio.ui.results import RUNS_HEADERS, runs_rows

    multi = _Record(task="multi_label", metrics={"macro_f1": 0.41, "micro_f1": 0.5})
    regression = _Record(task="auto", data_task="regression", metrics={"pearson": 0.83, "rmse": 0.6},
                         labels=["score"])
    rows = [dict(zip(RUNS_HEADERS, row)) for row in runs_rows([multi, regression])]
    assert (rows[0]["task"], rows[0]["metric"], rows[0]["score"]) == ("multi-label", "macro F1", "0.4100")
    assert (rows[1]["task"], rows[1]["metric"], rows[1]["score"]) == ("regression", "Pearson", "0.8300")
    assert rows[1]["labels"] == "—"


# --- real runs of the two new tasks, trained on a tiny model ------------------------------------

TAG_WORDS = {"billing": "invoice refund", "bug": "crash error", "urgent": "asap now"}


def write_tagged(path, rows=48):
    """A multi-label CSV: each row's tags are spelled out by their words; some rows have none."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "tags"])
        names = list(TAG_WORDS)
        for i in range(rows):
            tags = [name for j, name in enumerate(names) if (i >> j) & 1]
            writer.writerow([" ".join(TAG_WORDS[t] for t in tags) + f" ticket {i}", ",".join(tags)])
    return path


def write_scored(path, rows=48):
    """A regression CSV: the score grows with the number of 'good' words."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "score"])
        for i in range(rows):
            n = i % 6
            writer.writerow([" ".join(["good"] * n + ["bad"] * (5 - n)) + f" item {i}", f"{n + (i % 3) / 4:.2f}"])
    return path


def trained(folder, data, **settings):
    from bertstudio.config import TrainConfig
    from bertstudio.training.trainer import train

    result = train(TrainConfig(data=str(data), output_dir=str(folder / "runs"), epochs=1, batch_size=8,
                               max_length=16, logging_steps=1, **settings))
    assert result.status == "finished", result.message
    return Path(result.run_dir)


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("multi")
    return trained(folder, write_tagged(folder / "tickets.csv"), model=str(tiny_model_dir), label_column="tags")


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("regression")
    return trained(folder, write_scored(folder / "scores.csv"), model=str(tiny_model_dir), label_column="score")


def test_a_multi_label_run_reads_back_with_its_per_label_table_and_f1_bars(multi_run):
    from bertstudio.ui.results_text import PER_LABEL_HEADERS, metrics_summary, results_table
    from bertstudio.ui.results import misses_title, read_results, results_figure

    results = read_results(multi_run)
    assert results.task == "multi_label"
    label, headers, rows = results_table(results.metrics)
    assert headers == PER_LABEL_HEADERS and [row[0] for row in rows] == list(TAG_WORDS)
    assert all(0.0 < float(row[2]) < 1.0 for row in rows)  # each label's own tuned threshold
    assert "At the tuned thresholds" in metrics_summary(results.metrics)
    assert "At a fixed threshold of 0.5" in metrics_summary(results.metrics)
    assert list(results_figure(results).data[0].y) == list(TAG_WORDS)
    assert "wrong set of labels" in misses_title(results)


def test_a_regression_run_reads_back_with_its_scatter_and_largest_misses(regression_run):
    from bertstudio.ui.results import read_results, results_figure

    results = read_results(regression_run)
    assert results.task == "regression" and results.target == "score"
    assert len(results.gold) == len(results.predicted) == results.misclassified_total > 0
    points = results_figure(results).data[1]
    assert list(points.x) == results.gold
    errors = [abs(float(row[results.misclassified_headers.index("error")])) for row in results.misclassified]
    assert errors == sorted(errors, reverse=True)


def test_a_multi_label_runs_mistakes_name_an_empty_set_and_its_settings_say_what_auto_became(multi_run):
    from bertstudio.ui.results import read_results, settings_rows

    results = read_results(multi_run)
    at = [results.misclassified_headers.index(name) for name in ("gold", "predicted")]
    assert results.misclassified and all(row[i] for row in results.misclassified for i in at)
    assert ["Task", "auto (detected: multi-label)"] in settings_rows(multi_run)


def test_an_empty_set_of_tags_reads_as_none_in_the_mistakes(tmp_path, multi_run):
    import shutil

    from bertstudio.runs.folder import PREDICTIONS_FILE
    from bertstudio.ui.misses import NO_LABELS
    from bertstudio.ui.results import read_results

    copy = tmp_path / multi_run.name
    shutil.copytree(multi_run, copy, ignore=shutil.ignore_patterns("model"))
    _predictions(copy / PREDICTIONS_FILE, ["text", "gold", "predicted"], [["a", "", "bug"], ["b", "bug", ""]])
    rows = read_results(copy).misclassified
    assert [row[:2] for row in rows] == [[NO_LABELS, "bug"], ["bug", NO_LABELS]]
