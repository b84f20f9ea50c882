"""`data_summary` (what `inspect` and the Data tab show) for each task."""

from __future__ import annotations

import json

import pytest

from bertstudio.data.columns import ColumnChoice
from bertstudio.data.summary import data_summary
from bertstudio.data.tabular import read_table


def table_of(text: str, name: str = "t.csv"):
    return read_table(text.encode("utf-8"), name=name)


def tagged(cells: list[str]) -> str:
    return "text,label\n" + "\n".join(f'text {i},"{c}"' for i, c in enumerate(cells)) + "\n"


TAGS = ["joy,love", "anger", "", "joy", "love,anger,joy", "anger,joy", "love", "joy"] * 3


def test_multi_label_summary_counts_rows_per_label_and_labels_per_row():
    summary = data_summary(table_of(tagged(TAGS)))
    assert summary["task"] == "multi_label" and summary["separator"] == ","
    assert summary["task_reason"].endswith("separated by ','; 3 distinct labels")
    assert summary["labels"] == {"anger": 9, "joy": 15, "love": 9}
    assert summary["label_counts"] == summary["labels"]
    assert summary["labels_per_row"] == {"0": 3, "1": 12, "2": 6, "3": 3}
    assert summary["rows"] == 24 and summary["problems"] == []
    json.dumps(summary)


def test_an_empty_cell_means_none_of_the_labels_and_is_counted_not_dropped():
    summary = data_summary(table_of(tagged(TAGS)))
    assert summary["rows_without_labels"] == 3
    assert "empty label" not in summary["dropped"]


def test_regression_summary_has_the_range_and_mean_and_no_labels():
    body = "\n".join(f"text {i},{v}" for i, v in enumerate([0.5, 1.25, 3.0, 4.75, 2.5, 5.0] * 5))
    summary = data_summary(table_of("text,score\n" + body + "\n"))
    assert summary["task"] == "regression" and summary["label_column"] == "score"
    assert (summary["min"], summary["max"]) == (0.5, 5.0)
    assert summary["mean"] == pytest.approx(17.0 / 6)
    assert summary["labels"] == {} and summary["problems"] == []
    assert sum(summary["value_bins"].values()) == 30  # the histogram's rows per value bin


def test_single_label_summary_is_as_before_plus_the_task():
    summary = data_summary(table_of("text,label\na,pos\n,neg\nb,neg\nc,pos\nd,neg\n"))
    assert summary["suggested"] == {"text": "text", "label": "label", "text_pair": None}
    assert summary["labels"] == {"neg": 2, "pos": 2} and summary["dropped"] == {"empty text": 1}
    assert (summary["task"], summary["task_reason"], summary["task_alternatives"]) == (
        "single_label", "2 labels, one per row", [])
    assert "labels_per_row" not in summary and "min" not in summary


def test_a_chosen_task_wins_and_the_reason_says_what_auto_would_pick():
    body = "\n".join(f"review {i},{1 + i % 5}" for i in range(30))
    table = table_of("text,stars\n" + body + "\n")
    auto = data_summary(table)
    assert auto["task"] == "single_label" and auto["task_alternatives"] == ["regression"]
    chosen = data_summary(table, task="regression")
    assert chosen["task"] == "regression" and chosen["task_reason"].startswith("chosen by you")
    assert (chosen["min"], chosen["max"], chosen["mean"]) == (1.0, 5.0, 3.0)


def test_yes_no_columns_summarise_as_tags():
    body = "\n".join(f"text {i},{i % 2},{(i // 2) % 2},0" for i in range(12))
    table = table_of("text,joy,anger,fear\n" + body + "\n")
    choice = ColumnChoice(text="text", label="joy", label_columns=("joy", "anger", "fear"))
    summary = data_summary(table, choice)
    assert summary["task"] == "multi_label" and summary["label_columns"] == ["joy", "anger", "fear"]
    assert summary["labels"] == {"anger": 6, "joy": 6}
    assert summary["rows_without_labels"] == 3


def test_a_score_column_of_words_forced_to_regression_is_a_problem_not_an_exception():
    summary = data_summary(table_of("text,label\na,x\nb,y\nc,x\nd,y\n"), task="regression")
    assert summary["task"] == "regression"
    assert summary["problems"] and "number" in summary["problems"][0]


def test_an_unknown_label_column_is_a_problem():
    summary = data_summary(table_of(tagged(TAGS)), ColumnChoice(text="text", label="nope"))
    assert "nope" in summary["problems"][0]


def test_multi_label_chosen_by_hand_reports_the_separator_the_task_splits_with():
    cells = ["Arts|Crafts", "Sports", "Home|Garden", "Sports", "Books"] * 4
    summary = data_summary(table_of(tagged(cells)), task="multi_label")
    assert summary["task"] == "multi_label" and summary["separator"] == "|"
    assert summary["labels"]["Sports"] == 8 and summary["labels_per_row"] == {"1": 12, "2": 8}
