"""The figures of one kind of target are pure too: numbers in, a plotly figure out, label names as typed."""

from bertstudio.ui import charts, task_charts
from test_charts import HOSTILE, _shown, _strings


# --- data tab: several labels per row, a number per row --------------------------------------------

def test_a_few_whole_values_get_one_bar_each_and_many_values_round_bins_of_at_most_thirty():
    stars = task_charts.value_histogram_figure([1, 2, 2, 5, 5, 5], name="stars")
    assert list(stars.data[0].x) == [1.0, 2.0, 5.0] and list(stars.data[0].y) == [1, 2, 3]
    scores = task_charts.value_histogram_figure([i / 97 for i in range(2000)], name="score")
    assert 15 <= len(scores.data[0].y) <= 31 and sum(scores.data[0].y) == 2000
    few = task_charts.value_histogram_figure([i / 97 for i in range(60)])
    assert len(few.data[0].y) <= 11  # not 30 bars for 60 rows
    # Scores mostly in steps of 0.2 from 0 to 5 (STS-B): 30 equal bins left some bars empty
    stepped = [round(0.2 * (i % 26), 1) for i in range(2600)] + [0.005 * i for i in range(1, 40)]
    steps = task_charts.value_histogram_figure(stepped, name="score")
    assert min(steps.data[0].y) > 0 and sum(steps.data[0].y) == len(stepped)
    assert any("mean" in (a.text or "") for a in scores.layout.annotations)
    assert not task_charts.value_histogram_figure([]).data  # an empty figure says what to choose


def test_label_names_in_the_frequency_chart_read_as_typed():
    fig = task_charts.label_frequency_figure({"<b>bold</b>": 3, "plain": 5}, rows=8)
    assert list(fig.data[0].y) == ["plain", "&lt;b&gt;bold&lt;/b&gt;"]  # most frequent first, escaped
    assert list(fig.data[0].text) == ["5 (62%)", "3 (38%)"]
    rare = task_charts.label_frequency_figure({"common": 14_219, "rare": 77}, rows=43_410)
    assert list(rare.data[0].text) == ["14,219 (33%)", "77 (<1%)"]


def test_labels_per_row_are_bars_from_none_of_the_labels_up():
    fig = task_charts.labels_per_row_figure({2: 5, 0: 3, 1: 9})
    assert list(fig.data[0].x) == ["0", "1", "2"] and list(fig.data[0].y) == [3, 9, 5]


# --- results and the predict tab ---------------------------------------------------------------------

def test_per_label_f1_chart_has_a_bar_per_label_with_its_rows_in_the_hover():
    fig = task_charts.per_label_f1_figure({"joy": {"f1": 0.6, "support": 12}, "anger": {"f1": 0.1, "support": 3}})
    bar = fig.data[0]
    assert list(bar.y) == ["joy", "anger"] and list(bar.x) == [0.6, 0.1] and list(bar.customdata) == [12, 3]


def test_regression_scatter_puts_true_values_on_x_with_the_equality_line():
    fig = task_charts.regression_scatter_figure([1.0, 2.0, 5.0], [1.5, 2.0, 3.0], "score")
    line, points = fig.data
    assert list(points.x) == [1.0, 2.0, 5.0] and list(points.y) == [1.5, 2.0, 3.0]
    assert list(line.x) == [1.0, 5.0] and list(line.y) == [1.0, 5.0]
    assert fig.layout.xaxis.title.text == "true score"


def test_a_large_validation_set_is_sampled_in_the_scatter():
    gold = [float(i) for i in range(10_000)]
    fig = task_charts.regression_scatter_figure(gold, gold)
    assert len(fig.data[1].x) == task_charts.SCATTER_POINTS and fig.data[1].x[0] == 0.0


def test_label_bars_mark_each_threshold_and_colour_the_labels_that_passed():
    fig = task_charts.label_probabilities_figure({"joy": 0.8, "anger": 0.3, "love": 0.2},
                                            {"joy": 0.5, "anger": 0.25, "love": 0.4}, ["joy", "anger"])
    bars, marks = fig.data
    assert list(bars.x) == [0.8, 0.3, 0.2]
    assert list(bars.marker.color) == [charts.PRIMARY, charts.PRIMARY, charts.MUTED]
    assert list(marks.y) == ["joy", "anger", "love"] and list(marks.x) == [0.5, 0.25, 0.4]
    # Plotly never wraps a title: at 15 px a 390 px phone shows about 30 characters of it (the old
    # title, with the threshold's legend in it, was cut off there); the axis title says what red means.
    assert len(fig.layout.title.text) <= 30 and len(fig.layout.xaxis.title.text) <= 36
    assert "threshold" in fig.layout.xaxis.title.text


def test_markup_in_label_names_stays_text_in_the_multi_label_charts():
    per_label = {label: {"f1": 0.5, "support": 2} for label in HOSTILE}
    figures = [task_charts.per_label_f1_figure(per_label),
               task_charts.label_probabilities_figure({label: 0.5 for label in HOSTILE},
                                                 {label: 0.4 for label in HOSTILE}, HOSTILE[:1]),
               task_charts.regression_scatter_figure([1.0], [2.0], HOSTILE[0])]
    for fig in figures:
        for _, text in _strings(fig.to_plotly_json()):
            _shown(text)
    assert [_shown(y) for y in figures[0].data[0].y] == HOSTILE
