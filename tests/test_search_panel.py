""""Find good settings for me": a real tiny search run by the worker, the panel's table, summary and
chart read from its folder, following it from the page, and "Use the best settings" filling the form."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import gradio as gr
import pytest

from bertstudio.config import TrainConfig
from bertstudio.hosting import HostingSettings
from bertstudio.search.jobs import SearchProgress
from bertstudio.search.record import BEST_CONFIG_FILE
from bertstudio.ui import search_panel
from bertstudio.ui.data_tab import LoadedData
from bertstudio.ui.search_charts import trial_scores_figure
from bertstudio.worker import JobManager
from ui_support import page_form, values

OWNER = "alice"
# One short epoch of a 2-layer BERT over 60 rows per try: the search's bookkeeping is what is checked.
QUICK = dict(max_length=16, epochs=1, logging_steps=1, seed=3)


@pytest.fixture(scope="module")
def data_path(tmp_path_factory, learnable_rows) -> Path:
    path = tmp_path_factory.mktemp("panel-data") / "rows.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["text", "label"], *learnable_rows[:60]])
    return path.resolve()


@pytest.fixture(scope="module")
def searched(tmp_path_factory, data_path, tiny_model_dir):
    """(jobs, the finished search job, the runs folder): two tries through the JobManager, epochs fixed."""
    runs = tmp_path_factory.mktemp("panel-runs").resolve()
    jobs = JobManager()
    config = TrainConfig(data=str(data_path), model=str(tiny_model_dir), output_dir=str(runs), **QUICK)
    job = jobs.submit_search(config, owner=OWNER, trials=2, fixed=["epochs"])
    assert jobs.wait(job.run_id, timeout=240).state == "finished", job.message
    yield jobs, job, runs
    jobs.shutdown(timeout=60)


def record_of(job) -> dict:
    return search_panel.read_record(job.search.search_dir)


def test_the_table_shows_each_try_with_its_settings_score_and_state(searched):
    _, job, _ = searched
    record = record_of(job)
    rows = search_panel.trial_rows(record)
    assert [row[0] for row in rows] == [1, 2]
    for row, trial in zip(rows, record["trials"]):
        assert row[2] == f"{trial['value']:.4f}"
        assert row[3].startswith("complete")
        assert f"learning rate {trial['params']['learning_rate']:.1e}" in row[1]
        assert f"batch {trial['params']['batch_size']}" in row[1] and "epochs" not in row[1]  # epochs was fixed
    assert [row[0] for row in rows if row[3].endswith("★ best")] == [record["best_number"]]
    table = search_panel.trials_table(record)
    assert list(table.columns) == ["Try", "Settings", "macro F1 on validation", "State"]


def test_the_try_training_now_is_the_tables_last_row():
    record = {"metric": "macro_f1", "trials": [{"number": 1, "state": "pruned", "params": {"batch_size": 8},
                                                "value": 0.25}], "best_number": 1}
    running = SearchProgress(trial_number=2, trial_params={"learning_rate": 3e-5, "batch_size": 16})
    rows = search_panel.trial_rows(record, running)
    assert rows[0][3] == "stopped early (pruned) ★ best"
    assert rows[-1] == [2, "learning rate 3.0e-05 · batch 16", "…", "running"]


def test_the_summary_names_the_best_try_and_what_to_do_with_it(searched):
    _, job, _ = searched
    record = record_of(job)
    best = next(t for t in record["trials"] if t["number"] == record["best_number"])
    text = search_panel.summary_text(record, job)
    assert text.startswith("**Search finished**: 2 tries.")
    assert f"Best: **try {best['number']}**, macro F1 **{best['value']:.4f}**" in text
    assert "Use the best settings" in text
    # The app restarted mid-search: no job, a folder still marked running
    assert "interrupted" in search_panel.summary_text({**record, "status": "running"}, None)


def test_the_chart_has_a_point_per_try_and_the_best_so_far(searched):
    _, job, _ = searched
    record = record_of(job)
    fig = trial_scores_figure(record["trials"], "macro F1")
    points = next(trace for trace in fig.data if trace.mode == "markers")
    assert list(points.x) == [1, 2] and list(points.y) == [t["value"] for t in record["trials"]]
    best_line = next(trace for trace in fig.data if trace.name == "best so far")
    values_ = [t["value"] for t in record["trials"]]
    assert list(best_line.y) == [values_[0], max(values_)]
    empty = trial_scores_figure([], "macro F1")
    assert not empty.data and "once it has trained" in empty.layout.annotations[0].text


def test_the_page_follows_the_search_of_its_own_browser_only(searched):
    jobs, job, _ = searched
    followed, summary, table, _, use_best, start, stop, timer = search_panel.render_view(
        jobs, {"job": job.run_id, "dir": None}, OWNER)
    assert followed == {"job": job.run_id, "dir": job.search.search_dir}
    assert summary.startswith("**Search finished**") and len(table) == 2
    assert use_best["interactive"] and start["interactive"] and not stop["interactive"] and not timer.active
    # Another browser that somehow holds the job's id sees nothing of it
    other = search_panel.render_view(jobs, {"job": job.run_id, "dir": None}, "bob")
    assert other[0] is None and other[1] == "" and len(other[2]) == 0 and not other[4]["interactive"]
    # A reloaded page picks up the browser's latest search
    assert search_panel.reattach(jobs, {"owner": OWNER})[0]["job"] == job.run_id
    assert search_panel.reattach(jobs, {"owner": "bob"})[0] is None


def test_use_the_best_settings_fills_the_form_with_the_best_config(searched, data_path, tmp_path):
    from bertstudio.data.tabular import read_table

    jobs, job, runs = searched
    best = TrainConfig.load(Path(job.search.search_dir) / BEST_CONFIG_FILE)
    form = page_form(str(runs))
    before = values(form)
    loaded = LoadedData(path=str(data_path), table=read_table(data_path.read_bytes(), name=data_path.name))
    out = search_panel.use_best(form, loaded, {"job": job.run_id, "dir": job.search.search_dir})
    updates, problem = out[:len(form.controls)], out[len(form.controls)]
    assert "settings are in the form above" in problem
    shown = [_shown(update, old) for update, old in zip(updates, before)]
    filled = form.build_config(loaded.path, None, shown)
    # Trials draw the learning rate in the slider's two significant digits, so the form holds
    # exactly what the best try trained.
    assert filled.to_dict() == best.to_dict()
    assert form.build_config(loaded.path, None, before).learning_rate != best.learning_rate  # it did change
    assert out[len(form.controls) + 1] is None  # the form no longer equals a preset
    # Before any try has finished, nothing moves and the panel says why
    empty = search_panel.use_best(form, loaded, {"job": "x", "dir": str(tmp_path)})
    assert all(update == gr.skip() for update in empty[:len(form.controls)])
    assert "No try has given a model yet" in empty[len(form.controls)]


def _shown(update, old):
    """The value a control shows after `update` (a skip leaves the old one)."""
    if isinstance(update, dict):
        return update.get("value", old)
    return update


def test_start_is_refused_on_a_shared_demo_without_data_and_for_a_budget_not_offered(tmp_path, data_path):
    from bertstudio.data.tabular import read_table

    jobs = JobManager()
    form = page_form(str(tmp_path / "runs"))
    loaded = LoadedData(path=str(data_path), table=read_table(data_path.read_bytes(), name=data_path.name))
    hosted = search_panel.start(form, jobs, loaded, {}, 8, 30, *values(form), hosting=HostingSettings(hosted=True))
    assert "not offered on this shared demo" in hosted[1]
    assert "Load a dataset" in search_panel.start(form, jobs, None, {}, 8, 30, *values(form))[1]
    assert "Pick a time budget" in search_panel.start(form, jobs, loaded, {}, 8, 45, *values(form))[1]
    assert "number of tries" in search_panel.start(form, jobs, loaded, {}, "eight", 30, *values(form))[1]
    assert not jobs.busy() and not (tmp_path / "runs").exists()
    assert [search_panel.budget_seconds(m) for m in (15, 60, 0)] == [900, 3600, None]


def test_the_search_folder_is_what_the_panel_reads(searched):
    _, job, runs = searched
    folder = Path(job.search.search_dir)
    assert folder.parent == runs and folder.name.startswith("search-")
    assert search_panel.read_record(str(folder)) == json.loads((folder / "search.json").read_text())
    assert search_panel.read_record(str(runs / "no-such-search")) is None


def test_a_search_training_now_is_followed_live_and_the_train_tab_does_not_take_it_for_a_run(
        tmp_path, data_path, tiny_model_dir):
    from bertstudio.ui import train_tab

    jobs = JobManager()
    try:
        config = TrainConfig(data=str(data_path), model=str(tiny_model_dir), output_dir=str(tmp_path / "runs"),
                             **{**QUICK, "epochs": 3})
        job = jobs.submit_search(config, owner=OWNER, trials=5, fixed=["epochs"])
        deadline = time.monotonic() + 120
        while job.search.trial_number != 1:
            assert time.monotonic() < deadline, "the first try never started"
            time.sleep(0.05)
        _, summary, table, _, _, start, stop, timer = search_panel.render_view(jobs, {"job": job.run_id}, OWNER)
        assert summary.startswith("**Try 1 of 5 is training**") and table.iloc[-1].tolist()[2:] == ["…", "running"]
        assert stop["interactive"] and not start["interactive"] and timer.active
        followed, memory, *_, start_button, hint = train_tab.reattach(jobs, tmp_path / "runs", lambda: tmp_path,
                                                                    {"owner": OWNER})
        assert followed is None and memory.get("run_id") is None  # the Train tab follows no run ...
        assert not start_button["interactive"] and "your run" in hint["value"]  # ... and keeps Start off
        assert "Stopping" in search_panel.stop(jobs, {"job": job.run_id}, {"owner": OWNER})
        assert jobs.wait(job.run_id, timeout=120).state == "stopped"
    finally:
        jobs.shutdown(timeout=60)
