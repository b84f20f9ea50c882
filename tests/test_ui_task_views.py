"""The UI's task seam: every engine task has a view, and each view's charts, rows and answers."""

from types import SimpleNamespace

import pytest

from bertstudio.tasks.base import Prediction
from bertstudio.tasks.registry import TASKS, get_task
from bertstudio.ui.misses import NO_LABELS
from bertstudio.ui.results import RunResults
from bertstudio.ui.task_views import DEFAULT_TASK, NAMES, all_views, get_view, label_sets_view
from bertstudio.ui.task_views.base import ANSWER_VIEWS, DataFacts


def test_every_registered_engine_task_has_a_ui_view_of_the_same_name():
    for name in TASKS:
        assert get_view(name).name == name
    assert set(NAMES) == set(TASKS)
    for name in NAMES:  # and no view for a task the engine cannot train
        assert get_task(name).name == name


@pytest.mark.parametrize("name", [None, "", "auto", "a_task_from_a_newer_copy"])
def test_no_task_or_an_unknown_one_reads_as_one_label_per_row(name):
    assert get_view(name) is get_view(DEFAULT_TASK) and get_view(name).name == "single_label"


def test_each_view_has_its_own_title_and_words_and_shows_known_answer_views():
    views = all_views().values()
    assert len({view.title for view in views}) == len({view.words for view in views}) == len(NAMES)
    for view in views:
        assert view.answer_views and view.answer_views <= set(ANSWER_VIEWS)
        assert view.misses_title and view.targets_words(["x"])


def test_only_several_labels_per_row_shows_the_separator_and_yes_no_columns():
    assert label_sets_view() is get_view("multi_label")
    assert [name for name, view in all_views().items() if view.label_sets] == ["multi_label"]


# --- Data tab ---------------------------------------------------------------------------------------

def test_several_labels_count_the_labels_each_prepared_row_carries():
    facts = DataFacts({"a": 3, "b": 2}, rows=4, names=["a", "b"],
                      targets=[[1.0, 1.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    charts = get_view("multi_label").data_charts(facts)
    bars = charts.second.data[0]
    assert list(bars.x) == ["0", "1", "2"] and list(bars.y) == [1, 1, 2]
    assert charts.chart.layout.title.text == "Rows per label (2 labels)"


def test_several_labels_use_the_summarys_labels_per_row_when_nothing_was_prepared():
    charts = get_view("multi_label").data_charts(DataFacts({"a": 1}, rows=5, names=["tags"], per_row={0: 2, 3: 3}))
    assert list(charts.second.data[0].y) == [2, 3]


def test_a_score_histogram_is_in_the_users_units_not_the_standardised_targets():
    facts = DataFacts({}, rows=3, names=["stars"], targets=[-1.0, 0.0, 1.0], stats={"mean": 3.0, "std": 2.0})
    charts = get_view("regression").data_charts(facts)
    assert charts.second is None
    assert sorted(charts.chart.data[0].x) == [1.0, 3.0, 5.0] and "stars" in charts.chart.layout.title.text


def test_one_label_per_row_has_the_class_balance_alone():
    charts = get_view("single_label").data_charts(DataFacts({"neg": 2, "pos": 5}, rows=7, names=["neg", "pos"]))
    assert charts.second is None and charts.chart.layout.title.text == "Rows per label (2 labels)"


# --- results ----------------------------------------------------------------------------------------

HEADER = ["text", "gold", "predicted", "confidence"]


def test_several_labels_show_an_empty_set_as_none_in_the_misses():
    headers, rows, total = get_view("multi_label").misses(HEADER, [["a", "", "joy", "0.9"], ["b", "x", "x", "0.8"]])
    assert total == 1 and rows[0][:2] == [NO_LABELS, "joy"]


def test_a_score_misses_come_furthest_first_and_give_value_pairs():
    table = [["a", "1", "1.1", "0.5"], ["b", "1", "5", "0.5"]]
    view = get_view("regression")
    headers, rows, _ = view.misses(HEADER, table)
    assert rows[0][headers.index("text")] == "b"
    assert view.value_pairs(HEADER, table) == ([1.0, 1.0], [1.1, 5.0])
    assert get_view("single_label").value_pairs(HEADER, table) == ([], [])


def test_misses_titles_say_confidence_order_only_where_it_applies():
    from bertstudio.ui.results import misses_title

    assert misses_title(RunResults("r", "finished", {}, misclassified_headers=HEADER)).endswith(
        "(most confident mistakes first)")
    assert "confident" not in misses_title(RunResults("r", "finished", {}, misclassified_headers=HEADER,
                                                      task="regression"))


def test_the_runs_tables_labels_cell_counts_classes_but_not_a_scores_column():
    assert get_view("single_label").labels_cell(["a", "b"]) == "2"
    assert get_view("multi_label").labels_cell([]) == "—"
    assert get_view("regression").labels_cell(["score"]) == "—"


# --- Predict tab ------------------------------------------------------------------------------------

def test_one_label_per_row_answers_with_its_probabilities():
    answer = get_view("single_label").answer(Prediction("pos", 0.8, {"neg": 0.2, "pos": 0.8}), None, {})
    assert answer.label == {"neg": 0.2, "pos": 0.8} and answer.chart is None and answer.text is None


def test_several_labels_answer_with_the_set_and_the_models_thresholds_when_the_prediction_has_none():
    prediction = Prediction("joy", None, {"joy": 0.7, "anger": 0.4}, labels=["joy"])
    config = SimpleNamespace(bertstudio_thresholds={"joy": 0.6, "anger": 0.45})
    answer = get_view("multi_label").answer(prediction, config, {})
    assert answer.label is None and "**joy**" in answer.text
    marks = answer.chart.data[1]  # each label's threshold, marked on its bar
    assert marks.name == "threshold" and list(marks.x) == [0.6, 0.45]


def test_a_score_answers_with_its_value_beside_the_training_range_from_data_json():
    data = {"space": {"names": ["stars"], "stats": {"min": 1.0, "max": 5.0, "mean": 3.2}}}
    view = get_view("regression")
    text = view.answer(Prediction("6.5", None, {}, value=6.5), None, data).text
    assert "6.5" in text and "from 1 to 5" in text and "outside that range" in text
    assert view.meaning(["stars"], None, data) == ("Predicts a number: the value of column **stars** "
                                                    "(from 1 to 5 in the training rows)")


def test_waiting_views_say_what_to_do_for_each_task():
    assert get_view("single_label").waiting().text == ""
    assert "each label's probability" in get_view("multi_label").waiting().text
    assert get_view("multi_label").waiting().chart is not None
    assert "value the model gives" in get_view("regression").waiting().text


def test_several_labels_say_any_number_per_text_in_the_meaning():
    meaning = get_view("multi_label").meaning(["joy", "anger"], "tags", {"file_name": "reviews"})
    assert meaning.startswith("Labels (any number per text") and meaning.endswith("joy, anger (from column **tags** of reviews)")


def test_a_masked_lm_results_figure_names_its_loss_perplexity_and_words_guessed():
    view = get_view("masked_lm")
    figure = view.results_figure(RunResults(run_id="r", status="finished", task="masked_lm",
                                            metrics={"loss": 4.5, "perplexity": 90.017, "accuracy": 0.314}))
    assert figure.layout.annotations[0].text == ("Loss on hidden words: 4.500 · perplexity 90.0 · "
                                                 "31% of hidden words guessed right")
    empty = view.results_figure(RunResults(run_id="r", status="stopped", task="masked_lm", metrics={}))
    assert empty.layout.annotations[0].text == "No evaluation"
