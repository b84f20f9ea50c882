import json
import os

import pytest

from bertstudio.errors import StudioError
from bertstudio.events import Finished, JsonlSink, Started
from bertstudio.runs import (RunFolder, delete_run, latest_finished_run, list_runs, model_dir_of, new_run_id)


def make_run(root, run_id, *, finished=True, alive=False, with_model=True):
    run = RunFolder.create(root, run_id)
    run.write_json("config.json", {"model": "bundled", "data": "/x/data.csv"})
    run.write_json("data.json", {"file_name": "data.csv", "labels": ["a", "b"]})
    run.write_json("process.json", {"pid": os.getpid() if alive else 999_999_999, "host": os.uname().nodename})
    sink = JsonlSink(run.file("events.jsonl"))
    sink.emit(Started(run_id=run_id, run_dir=str(run.path), config={}, labels=["a", "b"], train_size=1,
                      validation_size=1, total_steps=1, steps_per_epoch=1, device="cpu", precision="no"))
    if finished:
        sink.emit(Finished(run_dir=str(run.path), metrics={"accuracy": 0.9}, steps=1, elapsed_seconds=1.0))
        run.write_json("metrics.json", {"accuracy": 0.9})
    if with_model:
        (run.path / "model").mkdir()
        (run.path / "model" / "config.json").write_text("{}")
    return run


def test_run_ids_are_unique_readable_and_unguessable():
    ids = {new_run_id("My Great Run!") for _ in range(50)}
    assert len(ids) == 50
    assert all("my-great-run" in i and len(i.rsplit("-", 1)[1]) == 12 for i in ids)


def test_status_comes_from_the_event_log_and_the_process(tmp_path):
    assert make_run(tmp_path, "done").status() == "finished"
    assert make_run(tmp_path, "live", finished=False, alive=True).status() == "running"
    assert make_run(tmp_path, "dead", finished=False, alive=False).status() == "interrupted"


def test_listing_reads_files_not_folder_names(tmp_path):
    make_run(tmp_path, "zzz-first")
    (tmp_path / "not-a-run").mkdir()
    make_run(tmp_path, "aaa-second", finished=False, alive=False)
    summaries = list_runs(tmp_path)
    assert [s.run_id for s in summaries] == ["aaa-second", "zzz-first"]  # newest first, by file time
    assert summaries[1].metrics["accuracy"] == 0.9 and summaries[1].data == "data.csv"
    assert latest_finished_run(tmp_path).run_id == "zzz-first"


def test_delete_refuses_paths_outside_the_runs_folder_and_running_runs(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "keep")
    make_run(tmp_path, "outside")
    with pytest.raises(StudioError):
        delete_run(runs, "../outside")
    make_run(runs, "busy", finished=False, alive=True)
    with pytest.raises(StudioError, match="stop it"):
        delete_run(runs, "busy")
    delete_run(runs, "keep")
    assert not (runs / "keep").exists() and (tmp_path / "outside").exists()


def test_model_dir_of_accepts_a_run_or_a_model_folder(tmp_path):
    run = make_run(tmp_path, "r")
    assert model_dir_of(run.path) == run.path / "model"
    assert model_dir_of(run.path / "model") == run.path / "model"


def test_written_files_are_whole_and_world_readable(tmp_path):
    run = RunFolder.create(tmp_path, "r")
    path = run.write_json("metrics.json", {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    with pytest.raises(StudioError, match="already exists"):
        RunFolder.create(tmp_path, "r")
