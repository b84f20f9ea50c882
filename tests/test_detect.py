"""`auto` task detection (tasks/detect.py) and the label column it starts from (columns.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bertstudio.data.columns import ColumnChoice, suggest_columns
from bertstudio.data.tabular import read_table
from bertstudio.tasks.detect import detect_task

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not here")


def table_of(text: str, name: str = "t.csv"):
    return read_table(text.encode("utf-8"), name=name)


def detect(text: str, label: str = "label", separator: str | None = None, name: str = "t.csv"):
    return detect_task(table_of(text, name), ColumnChoice(text="text", label=label), separator)


def rows(cells: list[str], delimiter: str = ",") -> str:
    quote = (lambda c: f'"{c}"') if delimiter == "," else (lambda c: c)
    body = "\n".join(f"text number {i}{delimiter}{quote(c)}" for i, c in enumerate(cells))
    return f"text{delimiter}label\n{body}\n"


# --- several labels in one cell ----------------------------------------------------------------


def test_comma_separated_label_ids_are_multi_label_with_the_count_of_distinct_labels():
    cells = ["3,27", "27", "0", "1,11", "27", "0,1,11", "3", "11", "1", "27,3", "4", "4,0"] * 3
    found = detect(rows(cells))
    assert found.task == "multi_label" and found.separator == ","
    assert found.reason == "42% of the cells hold several labels separated by ','; 6 distinct labels"
    assert "single_label" in found.alternatives


def test_most_cells_with_tags_says_most_and_semicolons_are_found():
    cells = ["joy;love", "anger;fear", "joy;fear", "love", "joy;anger;love"] * 4
    found = detect(rows(cells))
    assert (found.task, found.separator) == ("multi_label", ";")
    assert found.reason.startswith("most cells hold several labels separated by ';'")


def test_a_given_separator_is_used_even_when_another_one_is_more_frequent():
    cells = ["a|b", "b", "a", "c|a", "b|c"] * 4
    assert detect(rows(cells), separator="|").separator == "|"
    assert detect(rows(cells), separator=";").task != "multi_label"  # no cell holds ';'


def test_a_given_separator_says_tags_even_where_a_guess_would_read_class_names():
    cells = ["Arts, Crafts", "Sports", "Home, Garden", "Sports", "Books"] * 4
    found = detect(rows(cells), separator=",")
    assert (found.task, found.separator) == ("multi_label", ",")


def test_a_decimal_comma_score_column_is_regression_not_a_list_of_tags():
    cells = ["3,5", "4,25", "2,0", "1,75", "4", "0,5", "3,05", "2,5", "5", "1,5"] * 3
    found = detect(rows(cells, delimiter=";"))
    assert found.task == "regression"
    assert "from 0.5 to 5" in found.reason


def test_class_names_holding_a_comma_stay_one_label_per_row():
    cells = ["Arts, Crafts", "Sports", "Home, Garden", "Sports", "Books"] * 4
    found = detect(rows(cells))
    assert found.task == "single_label"
    assert found.reason == "4 labels, one per row"


def test_free_text_with_commas_is_not_taken_for_tags():
    cells = [f"well, this is sentence {i}, quite long" for i in range(30)]
    assert detect(rows(cells)).task != "multi_label"


def test_picked_yes_no_columns_are_multi_label_and_named_in_the_reason():
    table = table_of("text,joy,anger,fear\na,1,0,0\nb,0,1,1\nc,0,0,0\n")
    found = detect_task(table, ColumnChoice(text="text", label="joy", label_columns=("joy", "anger", "fear")))
    assert found.task == "multi_label" and found.label_columns == ("joy", "anger", "fear")
    assert found.reason == "3 yes/no columns picked as labels"


# --- numbers -----------------------------------------------------------------------------------


def test_fractional_scores_are_regression_with_their_range_and_distinct_values():
    cells = [f"{i * 0.125:.3f}" for i in range(41)] * 2  # 0.000 .. 5.000
    found = detect(rows(cells, delimiter="\t"), name="t.tsv")
    assert found.task == "regression"
    assert found.reason == "the column holds numbers from 0 to 5 with 41 distinct values"


def test_a_few_whole_numbers_are_classes_with_regression_offered():
    cells = ["1", "2", "3", "4", "5"] * 6
    found = detect(rows(cells))
    assert found.task == "single_label" and found.alternatives == ("regression",)
    assert "5 whole numbers from 1 to 5" in found.reason and "regression" in found.reason


def test_two_values_are_plain_classes_with_nothing_else_offered():
    found = detect(rows(["0", "1"] * 10))
    assert (found.task, found.reason, found.alternatives) == ("single_label", "2 labels, one per row", ())


def test_twenty_class_ids_stay_classes_with_regression_offered():
    found = detect(rows([str(i % 20) for i in range(80)]))
    assert found.task == "single_label" and found.alternatives == ("regression",)


def test_many_distinct_whole_numbers_are_regression():
    cells = [str(i % 60) for i in range(120)]
    found = detect(rows(cells))
    assert found.task == "regression" and "whole numbers from 0 to 59 with 60 distinct values" in found.reason


def test_a_column_of_distinct_codes_is_called_an_id_not_labels():
    cells = [f"e{i:04x}q" for i in range(30)]
    found = detect(rows(cells))
    assert found.task == "single_label" and "id" in found.reason


def test_a_few_words_among_scores_do_not_stop_regression_and_are_counted():
    cells = [f"{i / 10:.1f}" for i in range(100)] + ["n/a"]
    found = detect(rows(cells))
    assert found.task == "regression" and "(1 cells are not numbers)" in found.reason


# --- the label column suggested --------------------------------------------------------------


def test_a_score_column_is_suggested_over_short_category_columns_with_the_long_pair():
    lines = ["genre\tsource1\tsource2\tsentence1\tsentence2\tscore"]
    for i in range(40):
        lines.append(f"news\tnone\tnone\tA fairly long first sentence {i}.\tAnother long second "
                     f"sentence {i}.\t{(i * 0.37) % 5:.3f}")
    choice = suggest_columns(table_of("\n".join(lines) + "\n", "s.tsv"))
    assert (choice.label, choice.text, choice.text_pair) == ("score", "sentence1", "sentence2")


def test_an_unnamed_fractional_column_is_a_label_candidate():
    body = "\n".join(f"some text {i},{i * 0.731:.2f}" for i in range(40))
    assert suggest_columns(table_of("review,value_x\n" + body + "\n")).label == "value_x"


def test_a_numeric_row_number_column_is_never_suggested_as_a_score():
    body = "\n".join(f"{i}.5,some text {i},{'ab'[i % 2]}" for i in range(40))
    assert suggest_columns(table_of("row_index,text,label\n" + body + "\n")).label == "label"


def test_without_a_header_the_tag_id_column_is_the_label_not_the_text_or_the_id():
    cells = ["3,27", "27", "0", "1,11", "27", "0,1,11", "3", "11"] * 5
    body = "\n".join(f"a comment number {i} here\t{c}\teeb{i:04d}x" for i, c in enumerate(cells))
    table = table_of(body + "\n", "g.tsv")
    choice = suggest_columns(table)
    assert (choice.text, choice.label) == ("column_1", "column_2")
    assert detect_task(table, choice).task == "multi_label"


# --- the real files --------------------------------------------------------------------------


@needs_shared
def test_goemotions_is_multi_label_over_28_labels_separated_by_commas():
    table = read_table(SHARED / "goemotions" / "train.tsv")
    choice = suggest_columns(table)
    found = detect_task(table, choice)
    assert (choice.label, found.task, found.separator) == ("column_2", "multi_label", ",")
    assert found.reason.endswith("several labels separated by ','; 28 distinct labels")


@needs_shared
def test_stsb_is_regression_on_its_score_with_the_sentence_pair():
    table = read_table(SHARED / "stsb" / "train.tsv")
    choice = suggest_columns(table)
    assert (choice.label, choice.text, choice.text_pair) == ("score", "sentence1", "sentence2")
    found = detect_task(table, choice)
    assert found.task == "regression"
    assert found.reason == "the column holds numbers from 0 to 5 with 140 distinct values"


@needs_shared
@pytest.mark.parametrize("path", ["sst2/train.tsv", "trec/train.csv", "ag_news/test.csv",
                                  "mrpc/train.tsv", "rte/train.tsv", "sms_spam/spam.csv",
                                  "imdb/IMDB Dataset.csv"])
def test_the_single_label_files_stay_single_label(path):
    table = read_table(SHARED / path)
    assert detect_task(table, suggest_columns(table)).task == "single_label"
