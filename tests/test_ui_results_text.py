"""A run's scores and a model's predictions as the tabs write them, for each task."""

from bertstudio.ui import results_text


MULTI_METRICS = {"loss": 0.21, "macro_f1": 0.4, "micro_f1": 0.5, "subset_accuracy": 0.25,
                 "macro_f1_at_0.5": 0.26, "micro_f1_at_0.5": 0.46, "subset_accuracy_at_0.5": 0.2,
                 "per_label": {"joy": {"precision": 0.5, "recall": 0.75, "f1": 0.6, "support": 8, "threshold": 0.35},
                               "<b>anger</b>": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2,
                                                "threshold": 0.5}},
                 "thresholds": {"joy": 0.35, "<b>anger</b>": 0.5}, "labels": ["joy", "<b>anger</b>"], "count": 20}


def test_a_multi_label_summary_names_the_scores_at_tuned_thresholds_and_at_one_half():
    tuned, at_half, tail = results_text.metrics_summary(MULTI_METRICS).split("\n\n")
    assert tuned.startswith("**At the tuned thresholds**") and "**Macro F1:** 0.4000" in tuned
    assert "**Micro F1:** 0.5000" in tuned and "**Exact-match accuracy:** 0.2500" in tuned
    assert at_half.startswith("**At a fixed threshold of 0.5**") and "**Macro F1 at 0.5:** 0.2600" in at_half
    assert "Validation loss" in tail


def test_a_regression_summary_gives_pearson_spearman_and_the_errors():
    text = results_text.metrics_summary({"pearson": 0.83, "spearman": 0.81, "rmse": 0.7, "mae": 0.5, "r2": 0.66,
                                   "loss": 0.4})
    assert text.startswith("**Pearson:** 0.8300 · **Spearman:** 0.8100 · **RMSE:** 0.7000")
    assert "**R²:** 0.6600" in text and "Accuracy" not in text


def test_a_single_label_summary_is_unchanged():
    assert results_text.metrics_summary({"accuracy": 0.8, "macro_f1": 0.75, "loss": 0.4, "best_step": 6}) == (
        "**Accuracy:** 0.8000 · **Macro F1:** 0.7500 · **Validation loss:** 0.4000 · **Best step:** 6")


def test_the_results_table_follows_the_task():
    label, headers, rows = results_text.results_table(MULTI_METRICS)
    assert headers == results_text.PER_LABEL_HEADERS and "tuned threshold" in label
    assert rows[0] == ["joy", "0.600", "0.35", "0.500", "0.750", 8]
    assert results_text.results_table({"accuracy": 0.5, "per_class": {"a": {"f1": 1.0, "support": 2}}})[1] == \
        results_text.PER_CLASS_HEADERS
    assert results_text.results_table({"pearson": 0.8, "rmse": 0.2})[2] == []


def test_a_value_is_shown_with_the_training_range_and_a_warning_outside_it():
    inside = results_text.value_words(3.25, {"min": 0.0, "max": 5.0, "mean": 2.6})
    assert "3.25" in inside and "from 0 to 5 (mean 2.6)" in inside and "outside" not in inside
    assert "outside that range" in results_text.value_words(7.5, {"min": 0.0, "max": 5.0})


def test_the_predicted_set_escapes_label_names_and_says_when_it_is_empty():
    shown = results_text.label_set_words(["<b>x</b>"])
    assert "&lt;b&gt;" in shown and "<b>" not in shown
    assert "none" in results_text.label_set_words([])
