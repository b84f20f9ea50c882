"""What the Data tab shows of the loaded files: the task in force and why, the task's charts and controls."""

import pytest

from bertstudio.ui import data_tab
from bertstudio.ui.data_view import prepare_view
from ui_support import page_form, values, write


@pytest.fixture(scope="module")
def form(tmp_path_factory):
    return page_form(tmp_path_factory.mktemp("runs"))


def tags_file(tmp_path, rows=60):
    """A text column and a tags column of "a,b"-style cells (a few empty: none of the labels)."""
    tags = ["a,b", "b", "a,c", "c", "", "a", "b,c", "a,b,c", "b", "a"]
    lines = "text,tags\n" + "".join(f"message number {i},\"{tags[i % len(tags)]}\"\n" for i in range(rows))
    return data_tab.load_training_file(write(tmp_path, "tags.csv", lines))


def scores_file(tmp_path, rows=60):
    lines = "sentence,score\n" + "".join(f"sentence number {i},{(i * 37 % 50) / 10:.1f}\n" for i in range(rows))
    return data_tab.load_training_file(write(tmp_path, "scores.csv", lines))


def test_a_tags_column_is_detected_as_several_labels_with_its_reason_and_separator(form, tmp_path):
    out = dict(zip(data_tab.LOAD_FIELDS, tags_file(tmp_path)))
    assert out["label_column"]["value"] == "tags" and out["task"] == "auto"
    view = prepare_view(form, out["loaded"], *values(form, text_column="text", label_column="tags"))
    assert view.prepared.task == "multi_label" and view.column_problem == ""
    assert view.task_note.startswith("**Detected: Several labels per row**")
    assert "separated by ','" in view.task_note and "3 distinct labels" in view.task_note
    assert view.separator["visible"] is True and view.separator["value"] == ","  # the one found, preselected
    assert view.label_columns["visible"] is False  # the file has no yes/no columns to offer


def test_several_labels_get_a_label_frequency_and_a_labels_per_row_chart(form, tmp_path):
    loaded = tags_file(tmp_path)[0]
    view = prepare_view(form, loaded, *values(form, text_column="text", label_column="tags"))
    bars = view.chart.data[0]
    assert bars.orientation == "h" and list(bars.y) == ["a", "b", "c"] and list(bars.x) == [30, 30, 24]
    per_row = view.per_row_chart["value"].data[0]
    assert view.per_row_chart["visible"] is True
    assert dict(zip(per_row.x, per_row.y)) == {"0": 6, "1": 30, "2": 18, "3": 6}  # the empty cells: 0 labels


def test_a_score_column_is_a_number_with_a_histogram_of_its_values_and_no_tag_controls(form, tmp_path):
    out = dict(zip(data_tab.LOAD_FIELDS, scores_file(tmp_path)))
    view = prepare_view(form, out["loaded"], *values(form, text_column="sentence", label_column="score"))
    assert view.prepared.task == "regression" and view.task_note.startswith("**Detected: A number (score)**")
    assert "numbers from 0 to 4\\.9" in view.task_note
    assert sum(view.chart.data[0].y) == 60 and "score" in view.chart.layout.title.text
    assert view.separator["visible"] is False and view.label_columns["visible"] is False
    assert view.per_row_chart["visible"] is False


def test_one_label_per_row_keeps_todays_class_balance_chart(form, tmp_path):
    rows = "text,label\n" + "".join(f"text {i},{'xyz'[i % 3]}\n" for i in range(30))
    view = prepare_view(form, data_tab.load_training_file(write(tmp_path, "d.csv", rows))[0],
                                 *values(form, text_column="text", label_column="label"))
    assert view.task_note.startswith("**Detected: One label per row**")
    assert view.chart.data[0].orientation != "h" and list(view.chart.data[0].y) == [10, 10, 10]


def test_the_task_switch_is_an_ordinary_config_field_and_a_task_chosen_says_so(form, tmp_path):
    loaded = scores_file(tmp_path)[0]
    chosen = values(form, text_column="sentence", label_column="score", task="multi_label")
    assert form.build_config(loaded.path, None, chosen).task == "multi_label"
    view = prepare_view(form, loaded, *chosen)
    assert view.prepared.task == "multi_label"
    assert view.task_note.startswith("**Task: Several labels per row** (your choice).")
    assert "A number (score)" in view.task_note  # what detection would have said


def test_switching_to_a_number_with_a_class_metric_still_prepares_the_data(form, tmp_path):
    """The task switch reaches prepare before the Hyperparameters tab resets the metric watched."""
    loaded = scores_file(tmp_path)[0]
    chosen = values(form, text_column="sentence", label_column="score", task="regression",
                    metric_for_best="accuracy")
    view = prepare_view(form, loaded, *chosen)
    assert view.prepared is not None and view.prepared.task == "regression" and view.column_problem == ""


def test_a_task_that_does_not_fit_is_explained_beside_the_pickers(form, tmp_path):
    loaded = scores_file(tmp_path)[0]
    view = prepare_view(form, loaded, *values(form, text_column="sentence", label_column="score",
                                                       task="single_label"))
    assert view.prepared is None and "59 different values" not in view.column_problem
    assert "score" in view.column_problem and view.task_note.startswith("**Task: One label per row**")


def yes_no_file(tmp_path):
    rows = "text,joy,anger,score,kind\n" + "".join(
        f"text {i},{i % 2},{'yes' if i % 3 == 0 else 'no'},{i * 1.5},{'ab'[i % 2]}\n" for i in range(30))
    return data_tab.load_training_file(write(tmp_path, "flags.csv", rows))


def test_only_columns_of_zeros_and_ones_are_offered_as_label_columns(form, tmp_path):
    out = dict(zip(data_tab.LOAD_FIELDS, yes_no_file(tmp_path)))
    assert out["label_columns"]["choices"] == ["joy", "anger"] and out["label_columns"]["value"] == []
    one_label = prepare_view(form, out["loaded"], *values(form, text_column="text", label_column="kind"))
    assert "2 yes/no columns" in one_label.task_note and one_label.label_columns["visible"] is False
    several = prepare_view(form, out["loaded"], *values(form, text_column="text", label_column="kind",
                                                                  task="multi_label"))
    assert several.label_columns["visible"] is True


def test_yes_no_columns_picked_are_the_labels(form, tmp_path):
    loaded = yes_no_file(tmp_path)[0]
    chosen = values(form, text_column="text", label_column="kind", task="multi_label",
                    label_columns=["joy", "anger"])
    assert form.build_config(loaded.path, None, chosen).label_columns == "joy,anger"
    view = prepare_view(form, loaded, *chosen)
    assert view.prepared.task == "multi_label" and view.prepared.labels == ["anger", "joy"]
    assert view.task_note == "**Task: Several labels per row** (your choice) — 2 yes/no columns picked as labels."
    assert view.separator["visible"] is False  # no cell to split
    assert dict(zip(view.chart.data[0].y, view.chart.data[0].x)) == {"joy": 15, "anger": 10}


def test_a_json_lines_file_with_tag_lists_loads_as_several_labels(form, tmp_path):
    import json

    lines = "".join(json.dumps({"text": f"message {i}", "tags": [["a", "b"], ["b"], ["a"], []][i % 4]}) + "\n"
                    for i in range(40))
    out = dict(zip(data_tab.LOAD_FIELDS, data_tab.load_training_file(write(tmp_path, "tags.jsonl", lines))))
    assert out["file_problem"] == ""
    view = prepare_view(form, out["loaded"], *values(form, text_column="text", label_column="tags"))
    assert view.prepared.task == "multi_label" and view.column_problem == ""


def test_a_chosen_task_that_cannot_train_still_says_what_detection_would_pick(form, tmp_path):
    loaded = tags_file(tmp_path, rows=12)[0]  # as classes, "a,b,c" has a single row
    view = prepare_view(form, loaded, *values(form, text_column="text", label_column="tags",
                                                       task="single_label"))
    assert view.prepared is None and "only 1 row" in view.column_problem
    assert view.task_note.startswith("**Task: One label per row** (your choice). Detection would say "
                                     "Several labels per row: ")
