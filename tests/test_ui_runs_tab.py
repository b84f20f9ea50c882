"""Runs tab handlers: list runs, open one (charts rebuilt from its events), delete one."""

import csv

import pytest

from pathlib import Path

from bertstudio.config import TrainConfig
from bertstudio.hosting import record_owner
from bertstudio.training.trainer import train
from bertstudio.ui import runs_tab
from bertstudio.ui.session import SessionObjects

DETAIL = ["detail", "summary", "loss", "metrics", "confusion", "per_class", "settings", "downloads", "confirm",
          "problem", "resume", "stop"]


@pytest.fixture
def runs_dir(tmp_path, tiny_model_dir):
    data = tmp_path / "train.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(24):
            writer.writerow([f"{'good' if i % 2 else 'bad'} {i}", "pos" if i % 2 else "neg"])
    for name in ("first", "second"):
        result = train(TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(tmp_path / "runs"),
                                   epochs=1, batch_size=8, max_length=16, logging_steps=1, run_name=name))
        assert result.status == "finished", result.message
    return tmp_path / "runs"


@pytest.fixture
def objects():
    made = SessionObjects()
    yield made
    made.close()


def ids(runs_dir):
    return sorted(p.name for p in runs_dir.iterdir() if not p.name.startswith("."))  # not .owners


def test_every_run_is_listed_newest_first_with_its_status(runs_dir):
    table, picker = runs_tab.refresh(runs_dir, False, {}, None)
    assert [row[-1] for row in table["data"]] == sorted(ids(runs_dir), reverse=True)
    # One epoch at 5e-5 leaves a tiny random model answering one class: the status says so too.
    assert {row[1] for row in table["data"]} == {"finished · learned nothing"}
    assert picker["value"] is None and len(picker["choices"]) == 2


def test_a_shared_deployment_lists_only_the_browsers_own_runs(runs_dir):
    mine, theirs = ids(runs_dir)
    record_owner(runs_dir, mine, "o")
    record_owner(runs_dir, theirs, "someone-else")
    table, _ = runs_tab.refresh(runs_dir, True, {"owner": "o", "runs": [mine]}, None)
    assert [row[-1] for row in table["data"]] == [mine]


def test_naming_a_strangers_run_in_the_browsers_memory_grants_nothing(runs_dir, objects):
    mine, theirs = ids(runs_dir)
    record_owner(runs_dir, theirs, "someone-else")
    forged = {"owner": "o", "run_id": theirs, "runs": [mine, theirs]}
    table, _ = runs_tab.refresh(runs_dir, True, forged, None)
    assert table["data"] == []
    out = dict(zip(DETAIL, runs_tab.open_run(runs_dir, True, objects.downloads_dir, forged, theirs)))
    assert out["detail"]["visible"] is False and "no longer there" in out["problem"]
    problem, *_ = runs_tab.delete(runs_dir, True, forged, theirs)
    assert "Pick one of your runs" in problem and theirs in ids(runs_dir)


def test_every_download_of_a_run_is_a_copy_in_the_visitors_own_folder(runs_dir, objects):
    run_id = ids(runs_dir)[0]
    out = dict(zip(DETAIL, runs_tab.open_run(runs_dir, False, objects.downloads_dir, {}, run_id)))
    folder = objects.downloads_dir().resolve()
    assert len(out["downloads"]) == 2
    assert all(Path(path).resolve().parent == folder for path in out["downloads"])
    assert any(path.endswith("README.md") for path in out["downloads"])


def test_opening_a_run_rebuilds_its_charts_and_shows_its_settings(runs_dir, objects):
    run_id = ids(runs_dir)[0]
    out = dict(zip(DETAIL, runs_tab.open_run(runs_dir, False, objects.downloads_dir, {}, run_id)))
    assert out["detail"]["visible"] is True and "Finished" in out["summary"]
    assert len(out["loss"].data[0].x) >= 1
    settings = dict(out["settings"]["data"])
    assert settings["Epochs"] == "1" and settings["Training data"] == "train.csv"
    assert any(path.endswith("model.zip") for path in out["downloads"])


def test_deleting_asks_first_then_removes_the_run_and_forgets_it(runs_dir):
    run_id = ids(runs_dir)[0]
    confirm, problem = runs_tab.ask_delete(run_id)
    assert confirm["visible"] is True and problem == ""
    memory = {"owner": "o", "run_id": run_id, "runs": [run_id]}
    problem, confirm, detail, memory = runs_tab.delete(runs_dir, False, memory, run_id)
    assert problem == "" and run_id not in ids(runs_dir) and memory["runs"] == [] and memory["owner"] == "o"


def test_a_run_outside_the_browsers_own_cannot_be_deleted_on_a_shared_deployment(runs_dir):
    run_id = ids(runs_dir)[0]
    problem, *_ = runs_tab.delete(runs_dir, True, {"owner": "o", "runs": []}, run_id)
    assert "Pick one of your runs" in problem and run_id in ids(runs_dir)


def test_a_path_instead_of_a_run_id_is_refused(runs_dir, objects):
    out = dict(zip(DETAIL, runs_tab.open_run(runs_dir, False, objects.downloads_dir, {}, "../..")))
    assert out["detail"]["visible"] is False and "no longer there" in out["problem"]


def _interrupt(run_dir):
    """Make a run look cut off by a killed process: no end event, a process that is gone, and the
    checkpoint's state file (what makes a run resumable; its weights are not faked)."""
    import json

    events = run_dir / "events.jsonl"
    lines = [line for line in events.read_text().splitlines() if '"type": "finished"' not in line]
    events.write_text("\n".join(lines) + "\n")
    (run_dir / "process.json").write_text(json.dumps({"pid": 2**22 + 12345, "host": "gone", "started": 0}))
    (run_dir / "checkpoint").mkdir(exist_ok=True)
    (run_dir / "checkpoint" / "trainer_state.json").write_text(
        json.dumps({"step": 0, "epoch": 0, "batches_done_in_epoch": 0}))


def test_an_interrupted_run_offers_resume_to_its_owner_and_queues_it_under_its_own_id(runs_dir, objects):
    from bertstudio.worker import JobManager

    run_id = ids(runs_dir)[0]
    _interrupt(runs_dir / run_id)
    record_owner(runs_dir, run_id, "o")
    mine = {"owner": "o", "runs": [run_id]}
    out = dict(zip(DETAIL, runs_tab.open_run(runs_dir, True, objects.downloads_dir, mine, run_id)))
    assert "Interrupted" in out["summary"] and out["resume"]["visible"] is True
    table, _ = runs_tab.refresh(runs_dir, True, mine, None)
    assert table["data"][0][1] == "interrupted"

    jobs = JobManager()
    try:
        problem, *_ = runs_tab.resume(jobs, runs_dir, True, {"owner": "mallory"}, run_id)
        assert "Pick one of your runs" in problem and jobs.get(run_id) is None
        problem, button, memory, followed = runs_tab.resume(jobs, runs_dir, True, mine, run_id)
        assert "Resuming" in problem and button["visible"] is False
        assert followed.run_id == run_id and memory["run_id"] == run_id
        assert jobs.get(run_id).resume_from == (runs_dir / run_id).resolve()
        jobs.wait(run_id, timeout=120)  # this fake checkpoint has no weights: the trainer says so
    finally:
        jobs.shutdown(timeout=60)


def test_a_finished_run_offers_no_resume(runs_dir, objects):
    out = dict(zip(DETAIL, runs_tab.open_run(runs_dir, False, objects.downloads_dir, {}, ids(runs_dir)[0])))
    assert out["resume"]["visible"] is False


def test_a_waiting_run_is_listed_as_waiting_and_its_owner_can_stop_it_from_here(runs_dir, objects, tiny_model_dir):
    import time

    from bertstudio.worker import JobManager

    config = TrainConfig(data=str(runs_dir.parent / "train.csv"), model=str(tiny_model_dir),
                         output_dir=str(runs_dir), epochs=50, batch_size=8, max_length=16)
    jobs = JobManager(one_per_owner=True)
    alice, bob = {"owner": "alice"}, {"owner": "bob"}
    try:
        training = jobs.submit(config, owner="alice")
        waiting = jobs.submit(config.replace(epochs=1), owner="bob")
        table, picker = runs_tab.refresh(runs_dir, True, bob, None, jobs=jobs)
        assert [row[1] for row in table["data"]] == ["waiting"] and table["data"][0][-1] == waiting.run_id
        assert waiting.run_id in [value for _, value in picker["choices"]]
        table, _ = runs_tab.refresh(runs_dir, True, alice, None, jobs=jobs)
        assert waiting.run_id not in [row[-1] for row in table["data"]]  # not Alice's to see

        out = dict(zip(DETAIL, runs_tab.open_run(runs_dir, True, objects.downloads_dir, bob, waiting.run_id,
                                                 jobs)))
        assert out["detail"]["visible"] is True and "Waiting in line: number 1" in out["summary"]
        assert out["stop"]["visible"] is True
        out = dict(zip(DETAIL, runs_tab.open_run(runs_dir, True, objects.downloads_dir, alice, waiting.run_id,
                                                 jobs)))
        assert out["stop"]["visible"] is False and out["detail"]["visible"] is False
        problem, _ = runs_tab.stop_run(jobs, alice, waiting.run_id)
        assert "not waiting or training" in problem and jobs.get(waiting.run_id).state == "queued"
        problem, button = runs_tab.stop_run(jobs, bob, waiting.run_id)
        assert "out of the queue" in problem and button["visible"] is False
        assert jobs.get(waiting.run_id).state == "cancelled"

        # The run in training shows Stop to its owner once its folder exists, and stops.
        deadline = time.monotonic() + 60
        while not (runs_dir / training.run_id / "config.json").exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        out = dict(zip(DETAIL, runs_tab.open_run(runs_dir, True, objects.downloads_dir, alice, training.run_id,
                                                 jobs)))
        assert "Still training" in out["summary"] and out["stop"]["visible"] is True
        problem, _ = runs_tab.stop_run(jobs, alice, training.run_id)
        assert "Stopping after the current step" in problem
        assert jobs.wait(training.run_id, timeout=60).state == "stopped"
    finally:
        jobs.shutdown(timeout=60)


def test_a_run_id_the_page_never_offered_is_refused_with_one_log_line_and_no_traceback(tmp_path, capsys):
    import asyncio

    import gradio as gr

    from bertstudio.ui.app import AppSettings, build_app
    from bertstudio.worker import JobManager

    jobs = JobManager()
    demo = build_app(AppSettings(runs_dir=tmp_path / "runs"), jobs)
    on_open = next(fn for fn in demo.fns.values() if fn.api_name == "on_open")
    forged = {"owner": "x", "run_id": "nope", "runs": []}
    with pytest.raises(gr.Error) as refused:  # gradio's own check, before our handler runs
        asyncio.run(demo.preprocess_data(on_open, [forged, "nope\nwith a second line"], None))
    assert "not in the list of choices" in refused.value.message
    assert refused.value.print_exception is False  # gradio's queue prints no traceback for it
    logged = capsys.readouterr().out.splitlines()
    assert len(logged) == 1 and logged[0].startswith("bertstudio: refused a request: ")
    jobs.shutdown()


def test_a_regression_run_is_listed_with_its_task_and_pearson_and_opens_on_its_scatter(tmp_path, tiny_model_dir,
                                                                                       objects):
    from bertstudio.ui.results import RUNS_HEADERS

    data = tmp_path / "scores.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "score"])
        for i in range(30):
            writer.writerow([" ".join(["good"] * (i % 6)) + f" item {i}", f"{i % 6 + 0.25:.2f}"])
    result = train(TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(tmp_path / "runs"),
                               label_column="score", epochs=1, batch_size=8, max_length=16))
    assert result.status == "finished", result.message
    table, _ = runs_tab.refresh(tmp_path / "runs", False, {}, None)
    row = dict(zip(RUNS_HEADERS, table["data"][0]))
    assert (row["task"], row["metric"], row["labels"]) == ("regression", "Pearson", "—")
    assert row["score"] == f"{result.metrics['pearson']:.4f}"
    shown = dict(zip(DETAIL, runs_tab.open_run(tmp_path / "runs", False, objects.downloads_dir, {},
                                                Path(result.run_dir).name)))
    assert "**Pearson:**" in shown["summary"] and shown["per_class"]["visible"] is False
    assert shown["confusion"].data[1].mode == "markers"  # predicted against true, not a confusion matrix
    assert [trace.name for trace in shown["metrics"].data][0] == "Pearson"


# --- lineage: adapted models and the runs fine-tuned from them ---------------------------------------

def _unescaped(markdown: str) -> str:
    """The text as a reader sees it: Markdown's escapes dropped (run ids hold '-')."""
    return markdown.replace("\\", "")


@pytest.fixture(scope="module")
def adapted(tmp_path_factory, tiny_model_dir):
    from adapted_support import make_adapted_runs

    return make_adapted_runs(tmp_path_factory.mktemp("lineage"), tiny_model_dir)


def test_a_run_fine_tuned_from_an_adapted_model_names_it_and_how_many_texts_it_read(adapted, objects):
    import json

    data = json.loads((adapted.pretrained / "data.json").read_text())
    texts = data["train_size"] + data["validation_size"]
    out = dict(zip(DETAIL, runs_tab.open_run(adapted.runs_dir, False, objects.downloads_dir, {},
                                             adapted.fine_tuned.name)))
    said = (f"Started from the adapted model **tickets ({adapted.pretrained.name})** "
            f"(continued pretraining on {texts} texts).")
    assert said in _unescaped(out["summary"])
    assert "Fine-tuned from this adapted model" not in out["summary"]


def test_an_adapted_model_lists_the_runs_fine_tuned_from_it_and_a_stranger_sees_none(adapted, objects):
    from bertstudio.ui.session import BrowserMemory

    opened = runs_tab.open_run(adapted.runs_dir, False, objects.downloads_dir, {}, adapted.pretrained.name)
    summary = dict(zip(DETAIL, opened))["summary"]
    assert f"Fine-tuned from this adapted model: **{adapted.fine_tuned.name}**." in _unescaped(summary)
    mine = BrowserMemory.from_value({}).with_owner()
    record_owner(adapted.runs_dir, adapted.pretrained.name, mine.owner)
    private = dict(zip(DETAIL, runs_tab.open_run(adapted.runs_dir, True, objects.downloads_dir, mine.to_value(),
                                                 adapted.pretrained.name)))["summary"]
    assert "No run has been fine-tuned from this adapted model yet" in private  # the fine-tuning run is not theirs


def test_a_run_that_adapted_first_is_linked_by_its_adaptation_record(adapted, tmp_path):
    import json
    import shutil

    from bertstudio.runs.lineage import adapted_origin, fine_tuned_from
    from bertstudio.training.adaptation import ADAPTATION_FILE

    folder = tmp_path / "runs"
    shutil.copytree(adapted.runs_dir, folder)
    pre, fine = folder / adapted.pretrained.name, folder / adapted.fine_tuned.name
    config = json.loads((fine / "config.json").read_text())
    # As "adapt first" leaves it: the config keeps the base model, adaptation.json names the run.
    config["model"] = "bundled"
    (fine / "config.json").write_text(json.dumps(config))
    assert [r.path for r in fine_tuned_from(folder, pre)] == []
    (fine / ADAPTATION_FILE).write_text(json.dumps({"run_dir": str(pre), "status": "finished",
                                                    "model": str(pre / "model")}))
    from bertstudio.runs.folder import read_config

    assert adapted_origin(fine, read_config(fine))[0] == pre.resolve()
    assert [r.path for r in fine_tuned_from(folder, pre)] == [str(fine)]


def test_a_run_from_a_plain_model_tells_no_lineage(runs_dir, objects):
    out = dict(zip(DETAIL, runs_tab.open_run(runs_dir, False, objects.downloads_dir, {}, ids(runs_dir)[0])))
    assert "adapted model" not in out["summary"]
