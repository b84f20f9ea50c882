"""Runs in processes of their own (`bertstudio.launch.process`): the studio's launcher.

Real child processes training a tiny BERT: killed with SIGKILL, stopped once and twice, followed
again by a restarted manager, and two CPU processes training one run together.
"""

import json
import os
import signal
import time
from pathlib import Path

import pytest

from bertstudio.config import TrainConfig
from bertstudio.events import read_events
from bertstudio.launch.base import Launch
from bertstudio.launch.child import LAUNCH_FILE, LOG_FILE, describe_exit
from bertstudio.launch.process import ProcessLauncher, child_command
from bertstudio.runs.folder import RunFolder, read_run
from bertstudio.training.trainer import train
from bertstudio.worker import JobManager
from conftest import LEARNABLE_SETTINGS

OWNER = "owner-token-of-one-browser"


def config_for(tmp_path, data, model, **changes) -> TrainConfig:
    # Evaluating, and so checkpointing, every few steps gives a kill a checkpoint mid-run.
    settings = {**LEARNABLE_SETTINGS, "epochs": 3, "eval_strategy": "steps", "eval_steps": 7, **changes}
    return TrainConfig(data=str(data), model=str(model), output_dir=str(tmp_path / "runs"), seed=11, **settings)


def wait_for(predicate, timeout: float = 240, what: str = "the condition", job=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if job is not None and job.ended:  # a child that failed at its start: say why, now
            pytest.fail(f"the job ended ({job.state}) before {what}: {job.message}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def steps_logged(run_dir: Path) -> int:
    events, _ = read_events(run_dir / "events.jsonl")
    return sum(1 for event in events if event.type == "step")


def checkpoint_at(run_dir: Path, step: int) -> bool:
    state = run_dir / "checkpoint" / "trainer_state.json"
    try:
        return json.loads(state.read_text())["step"] >= step
    except (OSError, ValueError, KeyError):
        return False


def training_pid(run_dir: Path) -> int:
    return int(json.loads((run_dir / "process.json").read_text())["pid"])


def test_the_child_runs_the_command_a_person_would_type():
    config = TrainConfig(data="/data/tickets.csv", model="bundled", output_dir="/srv/runs")
    one = child_command(Launch(run_id="r1", config=config), python="python")
    assert one == ["python", "-m", "bertstudio", "train", "--config", "/srv/runs/r1/config.json", "--run-id", "r1"]
    resumed = child_command(Launch(run_id="r1", config=config, resume_from=Path("/srv/runs/r1")), python="python")
    assert resumed[-3:] == ["train", "--resume", "/srv/runs/r1"]
    several = child_command(Launch(run_id="r1", config=config, gpus=(0, 1), processes=2), python="python", port=29600)
    assert several[:6] == ["python", "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    assert several[several.index("-m", 3):][:3] == ["-m", "bertstudio", "train"]


def test_a_dead_childs_end_is_told_in_words_a_person_can_act_on():
    assert "ran out of memory" in describe_exit(-signal.SIGKILL)
    assert "segmentation fault" in describe_exit(-signal.SIGSEGV)
    assert "exit code 3" in describe_exit(3)
    assert "without finishing" in describe_exit(None)


@pytest.mark.slow
def test_a_child_killed_mid_run_leaves_the_server_serving_and_resumes_to_the_uninterrupted_metrics(
        tmp_path, tiny_model_dir, learnable_csv):
    config = config_for(tmp_path, learnable_csv, tiny_model_dir)
    uninterrupted = train(config.replace(output_dir=str(tmp_path / "reference")))
    assert uninterrupted.status == "finished"

    jobs = JobManager(one_per_owner=True, launcher=ProcessLauncher(poll_seconds=0.1))
    job = jobs.submit(config, OWNER)
    run_dir = job.run_dir
    wait_for(lambda: checkpoint_at(run_dir, 14), what="a checkpoint at step 14", job=job)
    assert training_pid(run_dir) != os.getpid()  # the training is not in this process
    os.kill(training_pid(run_dir), signal.SIGKILL)  # as the kernel's out-of-memory killer does
    ended = jobs.wait(job.run_id, timeout=60)
    assert ended.state == "failed"
    assert "killed (SIGKILL)" in ended.message and "Resume it" in ended.message
    record = read_run(run_dir)
    assert record.status == "failed" and record.resumable  # told in the folder, for every page
    assert (run_dir / LOG_FILE).stat().st_size > 0 and (run_dir / LAUNCH_FILE).is_file()

    # The server carries on: the same visitor resumes, in a new child, to the same metrics.
    resumed = jobs.resume(run_dir, OWNER)
    done = jobs.wait(resumed.run_id, timeout=300)
    assert done.state == "finished", done.message
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("accuracy", "macro_f1", "loss"):
        assert metrics[key] == uninterrupted.metrics[key], key
    steps = [event.step for event in read_events(run_dir / "events.jsonl")[0] if event.type == "step"]
    assert steps == sorted(set(steps))  # each step logged once across the two processes


@pytest.mark.slow
def test_stop_keeps_the_model_and_a_second_stop_ends_the_child_for_good(tmp_path, tiny_model_dir, learnable_csv):
    jobs = JobManager(one_per_owner=True, launcher=ProcessLauncher(poll_seconds=0.1))
    config = config_for(tmp_path, learnable_csv, tiny_model_dir, epochs=40)
    job = jobs.submit(config, OWNER)
    wait_for(lambda: steps_logged(job.run_dir) >= 3, what="three steps", job=job)
    jobs.stop(job.run_id, OWNER)
    ended = jobs.wait(job.run_id, timeout=120)
    assert ended.state == "stopped"
    assert RunFolder(job.run_dir).status() == "stopped" and (job.run_dir / "model" / "config.json").is_file()

    forced = jobs.submit(config, OWNER)
    wait_for(lambda: steps_logged(forced.run_dir) >= 3, what="three steps", job=forced)
    jobs.stop(forced.run_id, OWNER)
    jobs.stop(forced.run_id, OWNER)  # the second Stop: now, without waiting for the step
    ended = jobs.wait(forced.run_id, timeout=60)
    assert ended.state == "stopped" and "for good" in ended.message
    record = read_run(forced.run_dir)
    assert record.status == "stopped" and "no model was kept" in record.ending.note
    wait_for(lambda: not _alive(training_pid_or_none(forced.run_dir)), timeout=30, what="the child to be gone")


def training_pid_or_none(run_dir: Path) -> int | None:
    launch = json.loads((run_dir / LAUNCH_FILE).read_text())
    return int(launch["pid"])


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


@pytest.mark.slow
def test_a_restarted_server_follows_and_stops_the_run_its_predecessor_started(tmp_path, tiny_model_dir,
                                                                               learnable_csv):
    first = JobManager(one_per_owner=True, launcher=ProcessLauncher(poll_seconds=0.1))
    config = config_for(tmp_path, learnable_csv, tiny_model_dir, epochs=40)
    job = first.submit(config, OWNER)
    wait_for(lambda: steps_logged(job.run_dir) >= 2, what="two steps", job=job)
    first.shutdown(timeout=5)  # the server goes away; its child keeps training
    time.sleep(1.0)
    assert RunFolder(job.run_dir).status() == "running"

    restarted = JobManager(one_per_owner=True, launcher=ProcessLauncher(poll_seconds=0.1))
    (adopted,) = restarted.adopt_running(config.output_dir)
    assert adopted.run_id == job.run_id and adopted.state == "running"
    assert restarted.live_job(OWNER) is adopted  # the page that started it finds it again
    assert restarted.live_job("someone-else") is None
    queued = restarted.submit(config.replace(epochs=1), "another-visitor")
    assert restarted.position(queued.run_id) == 1  # the adopted run holds the device
    before = steps_logged(job.run_dir)
    wait_for(lambda: steps_logged(job.run_dir) > before, what="the followed run to go on")
    restarted.stop(job.run_id, OWNER)
    ended = restarted.wait(job.run_id, timeout=120)
    assert ended.state == "stopped"
    assert (job.run_dir / "model" / "config.json").is_file()
    assert restarted.wait(queued.run_id, timeout=300).state == "finished"  # then the queue moves on


@pytest.mark.slow
def test_two_cpu_processes_train_one_run_from_the_launcher(tmp_path, tiny_model_dir, learnable_csv):
    jobs = JobManager(launcher=ProcessLauncher(poll_seconds=0.2))
    config = config_for(tmp_path, learnable_csv, tiny_model_dir, epochs=2, eval_strategy="epoch")
    job = jobs.submit(config, OWNER, processes=2)
    ended = jobs.wait(job.run_id, timeout=400)
    log = (job.run_dir / LOG_FILE).read_text(errors="replace")
    assert ended.state == "finished", ended.message + log[-2000:]
    environment = json.loads((job.run_dir / "environment.json").read_text())
    assert environment["num_processes"] == 2
    metrics = json.loads((job.run_dir / "metrics.json").read_text())
    data = json.loads((job.run_dir / "data.json").read_text())
    assert metrics["count"] == data["validation_size"]  # every validation row once, from both shards
    runs = [path.name for path in (tmp_path / "runs").iterdir() if not path.name.startswith(".")]
    assert runs == [job.run_id]  # one run folder, not one per process


def test_the_thread_launcher_refuses_several_processes_in_plain_words(tmp_path, tiny_model_dir, learnable_csv):
    from bertstudio.errors import StudioError

    with pytest.raises(StudioError, match="a process of its own; start the studio with its default launcher"):
        JobManager().submit(config_for(tmp_path, learnable_csv, tiny_model_dir), OWNER, processes=2)


@pytest.mark.slow
def test_a_shared_demos_time_limit_stops_a_child_as_it_stops_a_thread(tmp_path, tiny_model_dir, learnable_csv):
    jobs = JobManager(one_per_owner=True, max_run_seconds=8, launcher=ProcessLauncher(poll_seconds=0.1))
    job = jobs.submit(config_for(tmp_path, learnable_csv, tiny_model_dir, epochs=50), OWNER)
    ended = jobs.wait(job.run_id, timeout=180)
    assert ended.state == "stopped" and ended.timed_out, ended.message
    assert "time limit" in ended.message and (job.run_dir / "model" / "config.json").is_file()
    assert jobs.live_job(OWNER) is None  # the visitor may start again
