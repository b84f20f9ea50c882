"""A run folder read back for display: the misclassified rows as the Train tab shows them."""

import csv

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
    from bertstudio.ui.results import largest_misses

    header = ["sentence1", "gold", "predicted"]
    rows = [["close", "3.0", "3.1"], ["far", "0.5", "4.5"], ["middle", "2.0", "1.0"]]
    headers, shown, total = largest_misses(header, rows)
    assert headers == ["gold", "predicted", "error", "sentence1"] and total == 3
    assert [row[3] for row in shown] == ["far", "middle", "close"] and shown[0][2] == "+4"


def test_a_regression_predictions_file_with_its_own_error_column_keeps_it():
    from bertstudio.ui.results import largest_misses, value_pairs

    header = ["text", "gold", "predicted", "error"]
    rows = [["a", "1", "1.5", "0.5"], ["b", "2", "x", "?"], ["c", "4", "2", "-2"]]
    headers, shown, _ = largest_misses(header, rows)
    assert headers == ["gold", "predicted", "error", "text"] and shown[0][3] == "c"
    assert value_pairs(header, rows) == ([1.0, 4.0], [1.5, 2.0])  # the unreadable row is left out


def test_a_multi_label_row_is_a_mistake_when_its_set_differs():
    from bertstudio.ui.results import misclassified_rows_of

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
    assert row[2] == "single-label" and row[6:8] == ["macro F1", "0.8500"]


def test_the_runs_table_names_each_runs_task_and_headline_metric():
    from bertstudio.ui.results import RUNS_HEADERS, runs_rows

    multi = _Record(task="multi_label", metrics={"macro_f1": 0.41, "micro_f1": 0.5})
    regression = _Record(task="auto", data_task="regression", metrics={"pearson": 0.83, "rmse": 0.6},
                         labels=["score"])
    rows = [dict(zip(RUNS_HEADERS, row)) for row in runs_rows([multi, regression])]
    assert (rows[0]["task"], rows[0]["metric"], rows[0]["score"]) == ("multi-label", "macro F1", "0.4100")
    assert (rows[1]["task"], rows[1]["metric"], rows[1]["score"]) == ("regression", "Pearson", "0.8300")
    assert rows[1]["labels"] == "—"
