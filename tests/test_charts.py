"""Chart functions are pure: numbers or a TrainHistory in, a plotly figure out."""

from bertstudio.events import Evaluation, Started, Step
from bertstudio.ui import charts
from bertstudio.ui.history import TrainHistory


def _history(points=5, evals=2):
    history = TrainHistory()
    events = [Started(run_id="r", run_dir="/x", config={}, labels=["a", "b"], train_size=10, validation_size=4,
                      total_steps=20, steps_per_epoch=10, device="cpu", precision="no")]
    events += [Step(step=i * 2, total_steps=20, epoch=i / 5, loss=1.0 / i, learning_rate=1e-5 * i, grad_norm=None,
                    samples_per_second=5.0, tokens_per_second=50.0, elapsed_seconds=float(i), eta_seconds=3.0)
               for i in range(1, points + 1)]
    events += [Evaluation(step=10 * i, epoch=float(i), metrics={"loss": 0.5 / i, "accuracy": 0.6 + 0.1 * i,
                                                                 "macro_f1": 0.5 + 0.1 * i}) for i in range(1, evals + 1)]
    return history.add(events)


def test_smoothing_starts_at_the_first_value_and_follows_a_constant():
    assert charts.smooth([2.0, 2.0, 2.0]) == [2.0, 2.0, 2.0]
    smoothed = charts.smooth([1.0, 0.0])
    assert smoothed[0] == 1.0 and 0.0 < smoothed[1] < 1.0


def test_loss_chart_has_raw_smoothed_and_validation_lines_on_one_axis():
    fig = charts.loss_figure(_history())
    names = [trace.name for trace in fig.data]
    assert names == ["training (raw)", "training (smoothed)", "validation"]
    assert list(fig.data[0].x) == [2, 4, 6, 8, 10]
    assert list(fig.data[2].y) == [0.5, 0.25]
    assert all(trace.yaxis in (None, "y") for trace in fig.data)


def test_loss_chart_gains_points_as_events_are_added():
    history = _history(points=2, evals=0)
    before = len(charts.loss_figure(history).data[0].x)
    history.add([Step(step=6, total_steps=20, epoch=0.6, loss=0.3, learning_rate=1e-5, grad_norm=1.0,
                      samples_per_second=5.0, tokens_per_second=50.0, elapsed_seconds=3.0, eta_seconds=1.0)])
    assert len(charts.loss_figure(history).data[0].x) == before + 1


def test_empty_history_gives_a_message_not_an_empty_axis():
    fig = charts.loss_figure(TrainHistory())
    assert not fig.data and "appears here" in fig.layout.annotations[0].text


def test_metrics_chart_plots_accuracy_and_f1_per_evaluation():
    fig = charts.metrics_figure(_history())
    assert [t.name for t in fig.data] == ["accuracy", "macro F1"]
    assert list(fig.data[0].y) == [0.7, 0.8] and list(fig.data[1].x) == [10, 20]


def test_learning_rate_chart_follows_the_logged_rates():
    fig = charts.learning_rate_figure(_history(points=3))
    assert list(fig.data[0].y) == [1e-5 * i for i in (1, 2, 3)]


def _tiny_run(steps=3, logged=(3,)):
    """A run shorter than its logging interval: Started, then a Step only at the last step, which
    carries the rate after the last scheduler update (0 at the end of a linear decay)."""
    events = [Started(run_id="r", run_dir="/x", config={}, labels=["a", "b"], train_size=6, validation_size=2,
                      total_steps=steps, steps_per_epoch=steps, device="cpu", precision="no")]
    events += [Step(step=s, total_steps=steps, epoch=s / steps, loss=0.7, learning_rate=1e-4 * (steps - s) / steps,
                    grad_norm=None, samples_per_second=5.0, tokens_per_second=50.0, elapsed_seconds=1.0,
                    eta_seconds=0.0) for s in logged]
    return TrainHistory().add(events)


def test_a_run_that_logged_one_step_shows_that_rate_as_a_dot_not_an_empty_line():
    fig = charts.learning_rate_figure(_tiny_run())
    (logged,) = fig.data
    assert list(logged.x) == [3] and list(logged.y) == [0.0]
    assert "markers" in logged.mode and logged.cliponaxis is False


def test_a_tiny_runs_chart_draws_its_planned_schedule_under_the_logged_rate():
    from bertstudio.config import TrainConfig
    from bertstudio.ui.estimate import schedule_points

    config = TrainConfig(learning_rate=1e-4, warmup_ratio=0.0, scheduler="linear")
    fig = charts.learning_rate_figure(_tiny_run(), planned=schedule_points(config, 3))
    planned, logged = fig.data
    assert planned.name == "planned" and list(planned.x) == [0, 1, 2, 3]
    assert planned.y[0] == 1e-4 and planned.y[-1] == logged.y[-1] == 0.0  # one convention: the rate after a step
    assert fig.layout.showlegend is True


def test_a_long_runs_logged_rates_are_a_plain_line_and_an_empty_plan_draws_nothing():
    fig = charts.learning_rate_figure(_tiny_run(steps=200, logged=range(1, 201)), planned=([], []))
    assert [trace.mode for trace in fig.data] == ["lines"]


def test_length_histogram_marks_max_length_and_greys_truncated_bars():
    fig = charts.length_histogram_figure([0, 10, 20, 30], [5, 3, 1], max_length=16, suggested=24)
    bar = fig.data[0]
    assert list(bar.y) == [5, 3, 1]
    assert bar.marker.color[0] == charts.PRIMARY and bar.marker.color[2] == charts.MUTED
    lines = [shape.x0 for shape in fig.layout.shapes]
    assert 16 in lines and 24 in lines


def test_schedule_chart_draws_the_given_rates_and_shades_warmup():
    fig = charts.schedule_figure([0.0, 1e-5, 2e-5], warmup_steps=2, steps=[0, 1, 2])
    assert list(fig.data[0].x) == [0, 1, 2] and list(fig.data[0].y) == [0.0, 1e-5, 2e-5]
    assert any(shape.x1 == 2 for shape in fig.layout.shapes)


def test_confusion_matrix_puts_true_labels_on_rows_with_counts_written_in():
    fig = charts.confusion_figure([[3, 1], [0, 4]], ["neg", "pos"])
    heat = fig.data[0]
    assert [list(row) for row in heat.z] == [[3, 1], [0, 4]]
    assert list(heat.y) == ["neg", "pos"] and heat.texttemplate == "%{text}"


def test_label_distribution_shows_one_bar_per_label_in_order():
    fig = charts.label_distribution_figure({"b": 2, "a": 5})
    assert list(fig.data[0].x) == ["b", "a"] and list(fig.data[0].y) == [2, 5]


def test_charts_module_does_not_import_gradio():
    import subprocess
    import sys

    code = ("import sys, bertstudio.ui.charts, bertstudio.ui.task_charts, bertstudio.ui.history; "
            "print('gradio' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


HOSTILE = ['<a href="https://phish.example/login">Click to verify</a>', "<b>bold</b>",
           '<span style="color:red">red</span>', "AT&amp;T &lt;b&gt;"]
TEMPLATES = ("hovertemplate", "texttemplate")  # ours, with plotly's own <extra> markup


def _strings(node, key=""):
    """Every string in a figure's JSON, except the templates we write ourselves."""
    if isinstance(node, str):
        yield key, node
    elif isinstance(node, dict):
        for k, v in node.items():
            if k not in TEMPLATES:
                yield from _strings(v, k)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _strings(v, key)


def _shown(text: str) -> str:
    """What plotly.js draws for a string: tags are split off first, then only the text between
    them has its entities (&lt; &gt; &amp; and numeric ones) decoded."""
    import html
    import re

    assert not re.search(r"<[a-zA-Z/]", text), f"markup reaches plotly: {text!r}"
    return html.unescape(text)


def test_markup_in_labels_and_titles_reaches_plotly_as_text_only():
    figures = [charts.label_distribution_figure({label: i + 1 for i, label in enumerate(HOSTILE)},
                                                title=f"Rows per {HOSTILE[0]}"),
               charts.confusion_figure([[1] * 4] * 4, HOSTILE)]
    for fig in figures:
        for _, text in _strings(fig.to_plotly_json()):
            _shown(text)
    bars, heat = figures[0].data[0], figures[1].data[0]
    assert [_shown(x) for x in bars.x] == HOSTILE  # read exactly as typed, entities and all
    assert [_shown(y) for y in heat.y] == HOSTILE and [_shown(x) for x in heat.x] == HOSTILE
    assert _shown(figures[0].layout.title.text) == f"Rows per {HOSTILE[0]}"


def _scored(task, metrics_per_eval):
    history = TrainHistory()
    history.add([Started(run_id="r", run_dir="/x", config={"task": task}, labels=["a", "b"], train_size=10,
                         validation_size=4, total_steps=20, steps_per_epoch=10, device="cpu", precision="no")])
    return history.add([Evaluation(step=10 * (i + 1), epoch=float(i + 1), metrics=m)
                        for i, m in enumerate(metrics_per_eval)])


def test_a_multi_label_run_charts_macro_and_micro_f1_on_a_zero_to_one_axis():
    fig = charts.metrics_figure(_scored("multi_label", [{"macro_f1": 0.3, "micro_f1": 0.4, "loss": 0.2},
                                                        {"macro_f1": 0.35, "micro_f1": 0.5, "loss": 0.1}]))
    assert [t.name for t in fig.data] == ["macro F1", "micro F1"] and list(fig.data[1].y) == [0.4, 0.5]
    assert tuple(fig.layout.yaxis.range) == (0, 1.05) and "macro F1 and micro F1" in fig.layout.title.text


def test_a_regression_run_charts_rmse_on_its_own_axis_beside_pearson():
    fig = charts.metrics_figure(_scored("regression", [{"pearson": 0.5, "rmse": 1.2, "loss": 0.9},
                                                       {"pearson": 0.8, "rmse": 0.7, "loss": 0.5}]))
    pearson, rmse = fig.data
    assert pearson.name == "Pearson" and pearson.yaxis == "y" and list(pearson.y) == [0.5, 0.8]
    assert rmse.name.startswith("RMSE") and rmse.yaxis == "y2" and fig.layout.yaxis2.overlaying == "y"
    assert fig.layout.yaxis.range is None  # Pearson may go below zero: no fixed 0–1 range


# --- a run that adapts its model to the texts first, and a masked-LM run -----------------------------

def _followed(tmp_path, **parts):
    from adaptation_events import write_log
    from bertstudio.ui.history import FollowedRun

    followed = FollowedRun(run_id="x", events_path=str(write_log(tmp_path / "events.jsonl", **parts)))
    followed.poll()
    return followed.history


def test_an_adapting_runs_loss_chart_shows_the_adaptation_as_its_own_earlier_panel(tmp_path):
    fig = charts.loss_figure(_followed(tmp_path))
    by_name = {trace.name: trace for trace in fig.data}
    assert list(by_name) == ["adapting: training (raw)", "adapting: training", "adapting: validation",
                             "training (raw)", "training (smoothed)", "validation"]
    adapt, fine = by_name["adapting: training"], by_name["training (smoothed)"]
    assert (adapt.xaxis, adapt.yaxis, fine.xaxis, fine.yaxis) == ("x", "y", "x2", "y2")
    assert list(adapt.x) == [10, 20, 30, 40] and list(fine.x) == [10, 20]
    assert adapt.line.color == charts.ADAPTATION != fine.line.color
    validation = by_name["adapting: validation"]
    assert list(validation.y) == [8.0, 6.5] and round(validation.customdata[1], 1) == 665.1
    assert "perplexity" in validation.hovertemplate
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]  # side by side, the adaptation first
    assert tuple(fig.layout.xaxis.range) == (0, 40 * 1.02) and tuple(fig.layout.xaxis2.range) == (0, 20 * 1.02)
    assert fig.layout.yaxis.title.text == "masked-LM loss"
    assert [a.text for a in fig.layout.annotations] == ["1. Adapting to your texts", "2. Fine-tuning"]


def test_while_adapting_the_fine_tuning_panel_says_when_it_starts(tmp_path):
    history = _followed(tmp_path, fine_tune=False, end=False)
    fig = charts.loss_figure(history)
    assert {trace.xaxis for trace in fig.data} == {"x"}
    assert "Fine-tuning starts when the adaptation ends." in [a.text for a in fig.layout.annotations]
    assert fig.layout.xaxis2.visible is False and fig.layout.xaxis.visible is not False
    assert "adapting to your texts first" in charts.metrics_figure(history).layout.annotations[0].text


def test_a_run_without_adaptation_keeps_its_one_loss_panel():
    fig = charts.loss_figure(_history())
    assert "xaxis2" not in fig.layout and not fig.layout.annotations


def test_a_masked_lm_run_charts_perplexity_on_its_own_axis_beside_the_words_guessed():
    from adaptation_events import mlm_metrics, started

    history = TrainHistory().add([started("masked_lm", 40)] + [
        Evaluation(step=20 * i, epoch=float(i), metrics=mlm_metrics(6.0 - i, 0.1 * i)) for i in (1, 2)])
    fig = charts.metrics_figure(history)
    perplexity, guessed = fig.data
    assert perplexity.name == "perplexity (lower is better)" and perplexity.yaxis == "y2"
    assert guessed.name == "hidden words guessed right" and guessed.yaxis == "y" and list(guessed.y) == [0.1, 0.2]
    assert tuple(fig.layout.yaxis.range) == (0, 1.05) and fig.layout.yaxis2.range is None
    assert fig.layout.title.text == "Validation perplexity and accuracy"
    loss = charts.loss_figure(history)
    assert loss.layout.title.text == "Loss on hidden words" and "perplexity" in loss.data[0].hovertemplate
