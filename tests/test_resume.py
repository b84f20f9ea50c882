"""A run killed with SIGKILL resumes from its last checkpoint to the same final metrics."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.events import CallbackSink, read_events
from bertstudio.runs.folder import RunFolder
from bertstudio.training.trainer import train
from conftest import LEARNABLE_SETTINGS

REPO = Path(__file__).resolve().parents[1]


def resumable_config(tmp_path, data, model):
    # Evaluating (and so checkpointing) every few steps gives the kill a checkpoint mid-epoch,
    # which exercises the data position as well as the weights, optimizer and RNG.
    settings = {**LEARNABLE_SETTINGS, "epochs": 3}
    return TrainConfig(data=str(data), model=str(model), output_dir=str(tmp_path / "runs"), seed=11,
                       eval_strategy="steps", eval_steps=7, **settings)


def kill_after_first_checkpoint(config: TrainConfig, tmp_path) -> Path:
    config_path = tmp_path / "config.json"
    config_path.write_text(config.to_json())
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "bertstudio", "train", "--config", str(config_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            states = list((tmp_path / "runs").glob("*/checkpoint/trainer_state.json"))
            if states and json.loads(states[0].read_text())["step"] >= 14:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)
                return states[0].parent.parent
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
    pytest.fail("no checkpoint appeared in time")


@pytest.mark.slow
def test_killed_run_is_interrupted_with_files_intact_and_resumes_to_identical_metrics(tmp_path, tiny_model_dir,
                                                                                       learnable_csv):
    config = resumable_config(tmp_path, learnable_csv, tiny_model_dir)
    uninterrupted = train(config.replace(output_dir=str(tmp_path / "reference")))
    assert uninterrupted.status == "finished"

    run_dir = kill_after_first_checkpoint(config, tmp_path)
    run = RunFolder(run_dir)
    assert run.status() == "interrupted"
    for name in ("config.json", "data.json", "environment.json"):
        assert json.loads(run.file(name).read_text())
    events_before, _ = read_events(run.file("events.jsonl"))
    assert events_before and events_before[-1].type != "finished"

    events = []
    resumed = train(TrainConfig.load(run.file("config.json")), sink=CallbackSink(events.append), resume_from=run_dir)
    assert resumed.status == "finished" and resumed.run_dir == str(run_dir)
    assert any(e.type == "notice" and "Resumed" in e.message for e in events)
    for key in ("accuracy", "macro_f1", "loss"):
        assert resumed.metrics[key] == uninterrupted.metrics[key], key
    assert run.status() == "finished"
    assert not (run_dir / "checkpoint").exists()  # a finished run keeps its model, not its checkpoint


def test_resuming_a_finished_run_is_refused_in_plain_words(tmp_path, tiny_model_dir, learnable_csv):
    config = resumable_config(tmp_path, learnable_csv, tiny_model_dir).replace(epochs=1)
    done = train(config)
    with pytest.raises(StudioError, match="no checkpoint"):
        train(config, resume_from=done.run_dir)


def _steps_in_log(run_dir) -> list[int]:
    """Step numbers as any reader of events.jsonl sees them: the raw lines, not a typed reader."""
    lines = (Path(run_dir) / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["step"] for line in lines if json.loads(line)["type"] == "step"]


def test_a_failed_torch_save_fails_plainly_cleans_up_and_resumes_with_each_step_logged_once(
        tmp_path, tiny_model_dir, learnable_csv, monkeypatch):
    import bertstudio.training.checkpoints as checkpoints
    from bertstudio.events import truncate_after_step
    from bertstudio.runs.folder import read_run
    from bertstudio.ui.results_text import metrics_summary
    from bertstudio.ui.results import read_results

    saves = []
    real_save = checkpoints._save_state

    def save_until_the_disk_fills(accelerator, folder):
        saves.append(folder)
        real_save(accelerator, folder)  # the files really are written, as far as they got
        if len(saves) == 2:  # torch.save's own words for a full disk: a RuntimeError, no errno
            error = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 853056 vs 852944")
            error.__context__ = RuntimeError("PytorchStreamWriter failed writing file data/2: file write failed")
            raise error

    monkeypatch.setattr(checkpoints, "_save_state", save_until_the_disk_fills)
    config = resumable_config(tmp_path, learnable_csv, tiny_model_dir)
    result = train(config)
    run_dir = Path(result.run_dir)
    assert result.status == "failed"
    # This test's disk has room, so the sentence names the write, not the space (the tmpfs test does).
    assert result.message == ("Writing to the runs folder failed, so the checkpoint could not be saved; check that "
                              "the runs folder is writable, then resume the run from its checkpoint at step 7.")
    assert json.loads((run_dir / "checkpoint" / "trainer_state.json").read_text())["step"] == 7
    assert not list(run_dir.glob(".checkpoint*")) and not (run_dir / "process.json").exists()
    record = read_run(run_dir)
    assert record.status == "failed" and record.failure == result.message and record.resumable

    # Interrupted instead (the end event never written): the summary is the checkpoint's evaluation.
    truncate_after_step(run_dir / "events.jsonl", 14)
    results = read_results(run_dir)
    assert read_run(run_dir).status == "interrupted" and results.resumable and results.checkpoint_step == 7
    assert "Accuracy" in metrics_summary(results.metrics)

    monkeypatch.setattr(checkpoints, "_save_state", real_save)
    resumed = train(TrainConfig.load(run_dir / "config.json"), resume_from=run_dir)
    assert resumed.status == "finished" and read_run(run_dir).status == "finished"
    steps = _steps_in_log(run_dir)
    assert steps == sorted(set(steps)) and steps[-1] == resumed.metrics["steps"]
    typed = [e.step for e in read_events(run_dir / "events.jsonl")[0] if e.type == "step"]
    assert typed == steps


def test_the_disk_filling_up_for_real_during_a_checkpoint_leaves_a_failed_resumable_run(
        tmp_path, tiny_model_dir, learnable_csv):
    from disk_support import fill, small_disk
    from bertstudio.runs.folder import list_runs

    with small_disk(tmp_path / "disk", 30) as disk:
        config = resumable_config(tmp_path, learnable_csv, tiny_model_dir).replace(output_dir=str(disk / "runs"))
        filler = fill(disk, 8_000_000)  # room for one checkpoint of the tiny model, not for two
        result = train(config)
        run_dir = Path(result.run_dir)
        assert result.status == "failed", result.message
        assert result.message.startswith("The disk is full, so the checkpoint could not be saved; free some space, "
                                         "then resume the run from its checkpoint at step ")
        assert not list(run_dir.glob(".checkpoint*"))  # the half-written checkpoint went: the disk has room again
        (record,) = list_runs(disk / "runs")
        assert record.status == "failed" and record.resumable and record.failure == result.message
        filler.unlink()
        resumed = train(TrainConfig.load(run_dir / "config.json"), resume_from=run_dir)
        assert resumed.status == "finished", resumed.message
        steps = _steps_in_log(run_dir)
        assert steps == sorted(set(steps))
