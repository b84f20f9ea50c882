import json
import os

import pytest

from bertstudio.errors import StudioError
from bertstudio.events import Finished, JsonlSink, Started
from bertstudio.runs.folder import (RunFolder, delete_run, latest_finished_run, list_runs, model_dir_of, new_run_id)


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


# --- damaged run folders ------------------------------------------------------------------------

DAMAGE = {  # file -> (bytes written over it, the words the damage sentence must hold)
    "binary events": ("events.jsonl", b"\x00\xff\xfe\x81binary\n" * 50, "events.jsonl holds no readable event"),
    "data is a list": ("data.json", b"[1]", "data.json is malformed: it is not a JSON object"),
    "labels a number": ("data.json", b'{"labels": 5}', "data.json is malformed: its labels are not a list"),
    "config not JSON": ("config.json", b"{oops", "config.json is not valid JSON"),
    "config binary": ("config.json", b"\xff\xfe\x00\x81", "config.json is not text"),
    "config wrong type": ("config.json", b'{"model": "bundled", "max_length": "abc"}',
                          "config.json is not a valid config (Setting 'max_length' must be a whole number"),
    "config a list": ("config.json", b"[]", "config.json is not a valid config"),
    "metrics text": ("metrics.json", b'"great"', "metrics.json is malformed"),
    "accuracy text": ("metrics.json", b'{"accuracy": "high"}', "metrics.json is malformed: its 'accuracy'"),
    "run.json not JSON": ("run.json", b"{oops", "run.json is not valid JSON"),
    "format text": ("run.json", b'{"format": "two"}', "run.json is malformed: its 'format' is not a whole number"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_run_is_listed_as_damaged_with_a_sentence_naming_the_file(tmp_path, case):
    name, raw, words = DAMAGE[case]
    make_run(tmp_path, "healthy")
    bad = make_run(tmp_path, "bad")
    bad.file(name).write_bytes(raw)
    runs = {r.run_id: r for r in list_runs(tmp_path)}
    assert set(runs) == {"healthy", "bad"}
    assert runs["healthy"].status == "finished" and runs["healthy"].damage is None
    assert runs["bad"].status == "damaged" and words in runs["bad"].damage
    assert runs["bad"].status_text == f"damaged ({name})" and runs["healthy"].status_text == "finished"
    assert runs["bad"].damage.startswith("This run is damaged: ") and runs["bad"].damage.count(". ") == 0
    assert not runs["bad"].resumable and latest_finished_run(tmp_path).run_id == "healthy"
    delete_run(tmp_path, "bad")  # a damaged run can still be deleted
    assert not bad.path.exists()


def test_the_typed_reader_returns_the_config_as_a_train_config_and_the_data_record(tmp_path):
    from bertstudio.config import TrainConfig
    from bertstudio.runs.folder import read_run

    run = make_run(tmp_path, "r")
    run.write_json("config.json", TrainConfig(model="bundled", max_length=64).to_dict())
    record = read_run(run.path)
    assert isinstance(record.config, TrainConfig) and record.config.max_length == 64
    assert record.data_record["labels"] == ["a", "b"] and record.model == "bundled"
    assert read_run(tmp_path / "missing") is None and read_run(tmp_path) is None


def test_junk_lines_in_a_readable_log_are_skipped_not_counted_as_damage(tmp_path):
    run = make_run(tmp_path, "r")
    with open(run.file("events.jsonl"), "ab") as handle:
        handle.write(b'\xff\xfe junk\n{"type": "from-the-future"}\n{"type": "step", "step": "x"}\n')
    record = list_runs(tmp_path)[0]
    assert record.status == "finished" and record.damage is None


def test_a_run_whose_process_ended_without_an_end_event_is_interrupted_not_running(tmp_path):
    run = make_run(tmp_path, "r", finished=False, alive=True)
    assert run.status() == "running"
    run.clear_process()
    assert run.status() == "interrupted"


def test_resume_is_refused_in_one_sentence_for_damaged_finished_and_checkpointless_runs(tmp_path):
    from bertstudio.runs.folder import run_to_resume

    with pytest.raises(StudioError, match="not a run folder"):
        run_to_resume(tmp_path / "nope")
    with pytest.raises(StudioError, match="finished, not interrupted"):
        run_to_resume(make_run(tmp_path, "done").path)
    with pytest.raises(StudioError, match="no checkpoint"):
        run_to_resume(make_run(tmp_path, "cut", finished=False).path)
    broken = make_run(tmp_path, "broken", finished=False)
    broken.file("config.json").write_text("{oops")
    with pytest.raises(StudioError, match="config.json is not valid JSON"):
        run_to_resume(broken.path)


# --- the layout a folder says it has, run ids, the typed config reader -------------------------

def test_a_new_run_folder_names_its_layout_and_one_from_before_run_json_loads_as_format_1(tmp_path):
    from bertstudio.runs.folder import RUN_FORMAT, read_run

    new = make_run(tmp_path, "new")
    assert json.loads(new.file("run.json").read_text()) == {"format": RUN_FORMAT}
    assert read_run(new.path).format == RUN_FORMAT
    old = make_run(tmp_path, "old")
    old.file("run.json").unlink()
    record = read_run(old.path)
    assert record.format == 1 and record.status == "finished" and record.damage is None
    assert record.data == "data.csv" and record.metrics == {"accuracy": 0.9}


def test_a_run_of_a_newer_format_is_listed_with_a_sentence_to_update_and_not_resumed(tmp_path):
    from bertstudio.runs.folder import RUN_FORMAT, run_to_resume

    make_run(tmp_path, "today")
    future = make_run(tmp_path, "future", finished=False)
    future.write_json("run.json", {"format": RUN_FORMAT + 1})
    runs = {r.run_id: r for r in list_runs(tmp_path)}
    assert set(runs) == {"today", "future"} and runs["today"].damage is None
    assert runs["future"].status == "damaged" and "update BERT Studio" in runs["future"].damage
    assert runs["future"].config is None and runs["future"].format == RUN_FORMAT + 1
    with pytest.raises(StudioError, match="newer BERT Studio"):
        run_to_resume(future.path)


def test_a_run_id_is_one_plain_folder_name_inside_the_runs_folder():
    from bertstudio.runs.folder import is_safe_run_id

    assert is_safe_run_id(new_run_id("My run")) and is_safe_run_id("a..b")
    for unsafe in ("", ".", "..", ".owners", "../outside", "a/b", "a\\b", "a\x00b", None, 5):
        assert not is_safe_run_id(unsafe), unsafe


def test_read_config_gives_the_typed_settings_or_none_and_never_raises(tmp_path):
    from bertstudio.config import TrainConfig
    from bertstudio.runs.folder import read_config

    run = make_run(tmp_path, "r")
    run.write_json("config.json", TrainConfig(model="bundled", epochs=7).to_dict())
    config = read_config(run.path)
    assert isinstance(config, TrainConfig) and config.epochs == 7
    run.file("config.json").write_text("{oops")
    assert read_config(run.path) is None
    assert read_config(tmp_path / "missing") is None
    model = tmp_path / "bare-model"  # a saved model's config.json is not a run's
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}')
    (model / "model.safetensors").write_bytes(b"")
    assert read_config(model) is None


def test_a_run_that_learned_nothing_reads_back_its_sentence_only_once_it_has_ended(tmp_path):
    from bertstudio.runs.folder import read_run, run_warning

    done = make_run(tmp_path, "20260101-000000-done")
    done.write_json("metrics.json", {"accuracy": 0.5, "warning": "The model predicts 'a' for every row."})
    assert read_run(done.path).warning == run_warning(done.path) == "The model predicts 'a' for every row."
    cut = make_run(tmp_path, "20260101-000001-cut", finished=False)  # metrics written, end event never came
    cut.write_json("metrics.json", {"accuracy": 0.5, "warning": "The model predicts 'a' for every row."})
    assert read_run(cut.path).status == "interrupted" and read_run(cut.path).warning is None
    odd = make_run(tmp_path, "20260101-000002-odd")
    odd.write_json("metrics.json", {"accuracy": 0.9, "warning": {"not": "text"}})
    assert read_run(odd.path).warning is None and run_warning(odd.path) is None
    assert read_run(make_run(tmp_path, "20260101-000003-fine").path).warning is None
