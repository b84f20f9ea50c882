"""A run killed with SIGKILL resumes from its last checkpoint to the same final metrics."""

import errno
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
from bertstudio.runs import RunFolder
from bertstudio.trainer import train
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


def test_disk_full_while_checkpointing_fails_plainly_and_keeps_the_previous_checkpoint(
        tmp_path, tiny_model_dir, learnable_csv, monkeypatch):
    import bertstudio.checkpoints as checkpoints

    saves = []
    real_save = checkpoints._save_state

    def save_until_the_disk_fills(accelerator, folder):
        saves.append(folder)
        if len(saves) >= 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(accelerator, folder)

    monkeypatch.setattr(checkpoints, "_save_state", save_until_the_disk_fills)
    result = train(resumable_config(tmp_path, learnable_csv, tiny_model_dir))
    assert result.status == "failed"
    assert "disk" in result.message.lower() and "space" in result.message.lower()
    state = json.loads((Path(result.run_dir) / "checkpoint" / "trainer_state.json").read_text())
    assert state["step"] == 7  # the first checkpoint, whole
    assert not list(Path(result.run_dir).glob(".checkpoint*"))
