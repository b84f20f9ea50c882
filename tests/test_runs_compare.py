"""Runs told apart and compared: the settings that differ, the overlaid curves, the tables, train again."""

import csv
import html

import gradio as gr
import pytest

from bertstudio.config import TrainConfig
from bertstudio.data.tabular import read_table
from bertstudio.errors import StudioError
from bertstudio.training.trainer import train
from bertstudio.ui import compare, runs_compare, runs_tab, train_again
from bertstudio.ui.data_view import LoadedData
from bertstudio.ui.history import TrainHistory
from bertstudio.ui.results import RUNS_HEADERS
from bertstudio.ui.run_diff import differences_by_run, setting_text, settings_side_by_side

from ui_support import page_form, values


def _config(**changed):
    return TrainConfig(data="/uploads/a/train.csv", model="bundled", **changed).to_dict()


def test_runs_of_one_file_are_told_apart_by_the_settings_that_differ_only():
    cells = differences_by_run([
        ("r1", "train.csv", _config(learning_rate=1e-4, epochs=10)),
        ("r2", "train.csv", _config(learning_rate=5e-5, epochs=3)),
        ("r3", "other.csv", _config(learning_rate=1e-3)),  # alone with its file
        ("r4", "train.csv", None),                          # no readable config
    ])
    assert cells == {"r1": "lr 1e-4 · 10 epochs", "r2": "lr 5e-5 · 3 epochs", "r3": "—", "r4": "—"}


def test_the_same_file_uploaded_twice_and_a_new_run_name_are_no_difference():
    first = _config(run_name="a", output_dir="runs")
    second = {**_config(run_name="b", output_dir="elsewhere"), "data": "/uploads/b/train.csv"}
    assert differences_by_run([("1", "train.csv", first), ("2", "train.csv", second)]) == {"1": "—", "2": "—"}


def test_small_numbers_read_as_people_type_them():
    assert [setting_text("learning_rate", v) for v in (1e-4, 5e-5, 2.5e-5, 0.1)] == ["1e-4", "5e-5", "2.5e-5", "0.1"]
    assert setting_text("data", "/somewhere/deep/train.csv") == "train.csv"


def test_settings_side_by_side_mark_the_differing_rows_and_can_keep_only_those():
    configs = [_config(learning_rate=1e-4), _config(learning_rate=5e-5)]
    rows, differs = settings_side_by_side(configs)
    assert sum(differs) == 1 and rows[differs.index(True)] == ["Learning rate", "1e-4", "5e-5"]
    only, flags = settings_side_by_side(configs, only_differences=True)
    assert only == [["Learning rate", "1e-4", "5e-5"]] and flags == [True]


def _history(task, losses, scores):
    history = TrainHistory(task=task)
    history.step, history.loss = list(range(1, len(losses) + 1)), list(losses)
    history.eval_step, history.eval_loss = [len(losses)], [losses[-1]]
    history.eval_scores = {name: [value] for name, value in scores.items()}
    return history


def _run(run_id, task="single_label", headline="macro_f1", lr=5e-5, score=0.5, name=None):
    return compare.ComparedRun(run_id=run_id, name=name or run_id, task=task, headline=headline,
                               history=_history(task, [1.0, 0.8, 0.6], {headline: score}),
                               config=_config(learning_rate=lr), metrics={headline: score, "loss": 0.6},
                               status="finished")


def test_the_loss_overlay_draws_each_run_in_its_own_colour():
    fig = compare.loss_overlay_figure([_run("a"), _run("b")])
    names = [trace.name for trace in fig.data]
    assert names == ["a · training", "a · validation", "b · training", "b · validation"]
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[2].line.color


def test_the_metric_overlay_charts_the_tasks_headline_for_runs_of_one_task():
    fig = compare.metric_overlay_figure([_run("a", score=0.4), _run("b", score=0.7)])
    assert [list(trace.y) for trace in fig.data] == [[0.4], [0.7]] and "macro F1" in fig.layout.title.text


def test_runs_of_different_tasks_compare_on_loss_and_the_metric_chart_says_so():
    runs = [_run("a"), _run("b", task="regression", headline="pearson")]
    fig = compare.metric_overlay_figure(runs)
    assert not fig.data and "compare on loss" in fig.layout.annotations[0].text
    assert len(compare.loss_overlay_figure(runs).data) == 4
    table = compare.metrics_table(runs)
    assert [row[0] for row in table["data"]] == ["macro F1", "validation loss", "Pearson"]
    assert table["data"][0][1:] == ["0.5000", "—"]


def test_two_runs_of_one_name_get_their_ids_in_the_columns():
    assert compare.distinct_names([_run("x-111111", name="base"), _run("x-222222", name="base")]) == [
        "base (111111)", "base (222222)"]


def test_the_settings_table_highlights_only_the_rows_that_differ():
    table = compare.settings_table([_run("a", lr=1e-4), _run("b", lr=5e-5)])
    styled = [row for row, style in zip(table["data"], table["metadata"]["styling"]) if style[0]]
    assert styled == [["Learning rate", "1e-4", "5e-5"]]
    assert table["metadata"]["display_value"] == table["data"]


@pytest.mark.parametrize("picked", [[], ["a"], ["a", "b", "c", "d", "e", "f"]])
def test_fewer_than_two_or_more_than_five_runs_are_refused_in_a_sentence(picked):
    with pytest.raises(StudioError, match="Pick at (least|most)"):
        compare.check_selection(picked)


def test_a_clicked_row_opens_the_run_it_names():
    assert runs_tab.run_of_row(["2026-01-01", "finished", "x", "20260101-abc"]) == "20260101-abc"
    assert runs_tab.run_of_row([]) == gr.skip()


# --- two real runs of one file ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("compare")
    data = folder / "train.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(24):
            writer.writerow([f"{'good' if i % 2 else 'bad'} {i}", "pos" if i % 2 else "neg"])
    for name, lr, epochs in (("slow", 5e-5, 1), ("fast", 1e-3, 2)):
        result = train(TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(folder / "runs"),
                                   epochs=epochs, batch_size=8, max_length=16, logging_steps=1, run_name=name,
                                   learning_rate=lr, text_column="text", label_column="label"))
        assert result.status == "finished", result.message
    return folder / "runs", data


def _ids(runs_dir):
    return sorted(p.name for p in runs_dir.iterdir() if not p.name.startswith("."))


def test_the_runs_table_names_each_run_and_what_sets_it_apart(trained):
    runs_dir, _ = trained
    table, _ = runs_tab.refresh(runs_dir, False, {}, None)
    rows = {row["name"]: row for row in (dict(zip(RUNS_HEADERS, r)) for r in table["data"])}
    assert rows["slow"]["settings that differ"] == "lr 5e-5 · 1 epoch"
    assert rows["fast"]["settings that differ"] == "lr 1e-3 · 2 epochs"


def test_comparing_two_real_runs_shows_both_curves_their_settings_and_metrics(trained):
    runs_dir, _ = trained
    picks = runs_compare.choices(runs_dir, False, {}, ["gone"])
    assert len(picks["choices"]) == 2 and picks["value"] == []
    problem, shown, note, loss, metric, settings, metrics = runs_compare.show(runs_dir, False, {}, _ids(runs_dir),
                                                                              True)
    assert problem == "" and shown["visible"] is True and "slow" in note and "fast" in note
    assert {trace.name for trace in loss.data} >= {"slow · training", "fast · training"}
    assert len(metric.data) == 2
    assert {row[0] for row in settings["data"]} == {"Learning rate", "Epochs"}
    assert metrics["headers"][1:] == [compare.read_compared(runs_dir / i).name for i in _ids(runs_dir)]


def test_a_forged_or_gone_run_is_not_compared(trained):
    runs_dir, _ = trained
    out = runs_compare.show(runs_dir, False, {}, [_ids(runs_dir)[0], "../etc"], False)
    assert "no longer there" in out[0] and out[1]["visible"] is False


def _slow_run(runs_dir):
    return next(i for i in _ids(runs_dir) if compare.read_compared(runs_dir / i).name == "slow")


def test_train_again_fills_the_form_from_the_run_and_says_what_it_applied(trained, tmp_path):
    runs_dir, data = trained
    form = page_form(tmp_path / "runs")
    loaded = LoadedData(path=str(data), table=read_table(data))
    out = train_again.fill_from_run(form, runs_dir / _slow_run(runs_dir), loaded, values(form))
    filled = dict(zip([c.name for c in form.controls], out[:len(form.controls)]))
    assert filled["epochs"] == 1 and filled["text_column"] == "text"
    said = out[-1]
    assert "Applied" in said and "1 epoch" in said and "is the one loaded on the Data tab" in said


def test_train_again_names_the_file_to_load_when_it_is_gone(trained, tmp_path):
    runs_dir, data = trained
    moved = tmp_path / "elsewhere.csv"
    data.rename(moved)
    try:
        form = page_form(tmp_path / "runs")
        out = train_again.fill_from_run(form, runs_dir / _slow_run(runs_dir), None, values(form))
    finally:
        moved.rename(data)
    said = html.unescape(out[-1])
    assert "train.csv, is no longer there: load train.csv on the Data tab" in said
    assert "Not applied" in said and "text column 'text'" in said  # no file loaded: no columns to set
