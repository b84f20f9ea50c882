"""The background worker: a FIFO of jobs, one training at a time, stop, and no reader needed."""

import csv
import time

import pytest

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.events import CallbackSink, read_events
from bertstudio.worker import JobManager

WORDS = {"praise": "great lovely excellent", "complaint": "broken awful late", "question": "how when where"}


@pytest.fixture
def data_csv(tmp_path):
    path = tmp_path / "data.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(60):
            label = list(WORDS)[i % 3]
            writer.writerow([f"{WORDS[label].split()[i % 3]} item {i}", label])
    return path


@pytest.fixture
def jobs():
    manager = JobManager()
    yield manager
    manager.shutdown(timeout=60)


def quick(tmp_path, data, model, **changes):
    settings = dict(data=str(data), model=str(model), output_dir=str(tmp_path / "runs"), epochs=1, batch_size=8,
                    max_length=16, learning_rate=1e-3, warmup_ratio=0.0, logging_steps=1, seed=3)
    settings.update(changes)
    return TrainConfig(**settings)


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_a_job_trains_to_the_end_with_nobody_reading_its_events(tmp_path, tiny_model_dir, data_csv, jobs):
    job = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="alice")
    # The folder is known before the run starts: a page reopened later finds it by this path.
    assert job.run_dir == (tmp_path / "runs" / job.run_id).resolve()
    assert jobs.wait(job.run_id, timeout=120).state == "finished"
    events, _ = read_events(job.events_path)
    kinds = [event.type for event in events]
    assert kinds[0] == "started" and kinds[-1] == "finished" and "step" in kinds
    assert (job.run_dir / "model" / "config.json").exists()
    assert jobs.position(job.run_id) is None and not jobs.busy()


def test_second_job_waits_in_line_showing_its_position(tmp_path, tiny_model_dir, data_csv, jobs):
    first = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir, epochs=50), owner="alice")
    second = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="bob")
    third = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="carol")
    wait_for(lambda: jobs.position(first.run_id) == 0)
    assert (jobs.position(second.run_id), jobs.position(third.run_id)) == (1, 2)
    assert second.state == "queued" and not second.run_dir.exists()

    jobs.stop(third.run_id, owner="carol")  # leaving the queue before starting
    assert third.state == "cancelled" and jobs.position(third.run_id) is None
    assert jobs.position(second.run_id) == 1

    wait_for(lambda: any(e.type == "step" for e in read_events(first.events_path)[0]))
    jobs.stop(first.run_id, owner="alice")
    assert jobs.wait(first.run_id, timeout=60).state == "stopped"
    assert jobs.wait(second.run_id, timeout=120).state == "finished"
    first_end = read_events(first.events_path)[0][-1]
    second_start = read_events(second.events_path)[0][0]
    assert first_end.type == "stopped" and second_start.time >= first_end.time  # one at a time
    assert not third.run_dir.exists()


def test_only_the_owner_can_stop_a_job(tmp_path, tiny_model_dir, data_csv, jobs):
    job = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="alice")
    with pytest.raises(StudioError):
        jobs.stop(job.run_id, owner="mallory")
    assert jobs.wait(job.run_id, timeout=120).state == "finished"


def test_a_refused_job_reports_the_engines_sentence_and_the_worker_carries_on(tmp_path, tiny_model_dir, data_csv,
                                                                             jobs):
    bad = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir, text_column="review"), owner="alice")
    good = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="alice")
    assert jobs.wait(bad.run_id, timeout=60).state == "failed"
    assert "no column 'review'" in bad.message and bad.message.endswith(".")
    assert jobs.wait(good.run_id, timeout=120).state == "finished"


def test_invalid_settings_are_refused_before_queueing(tmp_path, tiny_model_dir, data_csv, jobs):
    with pytest.raises(StudioError, match="Epochs"):
        jobs.submit(quick(tmp_path, data_csv, tiny_model_dir, epochs=0), owner="alice")
    assert jobs.waiting_count() == 0 and not jobs.busy()


def test_a_listener_receives_the_same_events_as_the_file(tmp_path, tiny_model_dir, data_csv, jobs):
    heard = []
    job = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="alice", sink=CallbackSink(heard.append))
    jobs.wait(job.run_id, timeout=120)
    written, _ = read_events(job.events_path)
    assert [e.to_dict() for e in heard] == [e.to_dict() for e in written]


def test_jobs_of_lists_only_that_owners_jobs(tmp_path, tiny_model_dir, data_csv, jobs):
    mine = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="alice")
    jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="bob")
    assert [job.run_id for job in jobs.jobs_of("alice")] == [mine.run_id]


# --- a shared deployment: queue limits, wall time, estimates, ownership, resume ---------------------

def test_a_listener_nobody_drains_cannot_stall_or_fail_the_run(tmp_path, tiny_model_dir, data_csv, jobs, capsys):
    import queue

    from bertstudio.events import QueueSink

    full = queue.Queue(maxsize=1)  # a browser's queue that nobody reads any more
    job = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="alice", sink=QueueSink(full))
    assert jobs.wait(job.run_id, timeout=120).state == "finished"
    assert full.qsize() == 1  # it took one event, was detached at the next, and held no more
    assert read_events(job.events_path)[0][-1].type == "finished"
    assert "detached" in capsys.readouterr().out


def test_each_owner_may_have_one_job_waiting_or_running_and_the_queue_is_capped(tmp_path, tiny_model_dir, data_csv):
    jobs = JobManager(max_waiting=1, one_per_owner=True)
    try:
        first = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir, epochs=50), owner="alice")
        with pytest.raises(StudioError, match="already have a run waiting or training"):
            jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="alice")
        wait_for(lambda: jobs.position(first.run_id) == 0)
        jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="bob")
        with pytest.raises(StudioError, match="queue is full"):
            jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="carol")
        jobs.stop(first.run_id, owner="alice")
        jobs.wait(first.run_id, timeout=60)
        again = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="alice")  # allowed once it ended
        assert jobs.position(again.run_id) in (1, 2)
    finally:
        jobs.shutdown(timeout=60)


def owner_files(tmp_path):
    folder = tmp_path / "runs" / ".owners"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_one_address_gets_one_live_run_whatever_owner_tokens_it_sends(tmp_path, tiny_model_dir, data_csv):
    jobs = JobManager(max_waiting=10, one_per_owner=True)
    try:
        accepted, refused = [], []
        for i in range(11):  # a new token with each request, as a script can send
            try:
                accepted.append(jobs.submit(quick(tmp_path, data_csv, tiny_model_dir, epochs=50),
                                            owner=f"token-{i}", address="203.0.113.7"))
            except StudioError as exc:
                refused.append(exc.message)
        assert len(accepted) == 1 and len(refused) == 10
        assert set(refused) == {"You already have a run waiting or training; wait for it to end or stop it."}
        assert jobs.live_job("token-5", "203.0.113.7") is accepted[0]
        # Another visitor, from elsewhere, still gets in: the queue was not filled by the first.
        other = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="bob", address="198.51.100.2")
        assert jobs.position(other.run_id) in (1, 2)
        assert owner_files(tmp_path) == sorted([accepted[0].run_id, other.run_id])
        jobs.stop(other.run_id, owner="bob")
        jobs.stop(accepted[0].run_id, owner="token-0")
        jobs.wait(accepted[0].run_id, timeout=60)
        assert jobs.live_job("token-5", "203.0.113.7") is None  # ended: that address may start again
    finally:
        jobs.shutdown(timeout=60)


def test_refused_starts_leave_no_owner_record_behind(tmp_path, tiny_model_dir, data_csv):
    jobs = JobManager(max_waiting=1, one_per_owner=True)
    try:
        first = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir, epochs=50), owner="alice", address="a")
        wait_for(lambda: jobs.position(first.run_id) == 0)
        jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="bob", address="b")
        before = owner_files(tmp_path)
        for i in range(100):  # half refused as a second run of one visitor, half for a full queue
            with pytest.raises(StudioError):
                jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner=f"t{i}",
                            address="a" if i % 2 else f"elsewhere-{i}")
        assert owner_files(tmp_path) == before and len(before) == 2
    finally:
        jobs.shutdown(timeout=60)


def test_a_run_past_the_wall_time_limit_is_stopped_and_keeps_its_model(tmp_path, tiny_model_dir, data_csv):
    jobs = JobManager(max_run_seconds=1.0)
    try:
        job = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir, epochs=50), owner="alice")
        assert jobs.wait(job.run_id, timeout=120).state == "stopped"
        assert job.message == "Stopped at this demo's time limit of 1s per run; the model as it stood was kept."
        assert (job.run_dir / "model" / "config.json").exists()
        quick_job = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="alice")
        assert jobs.wait(quick_job.run_id, timeout=120).state in ("finished", "stopped")
    finally:
        jobs.shutdown(timeout=60)


def test_a_waiting_job_gets_an_estimate_that_grows_with_its_place_in_line(tmp_path, tiny_model_dir, data_csv):
    unlimited = JobManager()
    try:
        running = unlimited.submit(quick(tmp_path, data_csv, tiny_model_dir, epochs=50), owner="a")
        waiting = unlimited.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="b")
        assert unlimited.wait_estimate(waiting.run_id) is None  # no finished run, no limit: no guess
        unlimited.stop(running.run_id, owner="a")
        unlimited.stop(waiting.run_id, owner="b")
    finally:
        unlimited.shutdown(timeout=60)

    jobs = JobManager(max_run_seconds=600)
    try:
        running = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir, epochs=50), owner="a")
        second = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="b")
        third = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="c")
        wait_for(lambda: any(e.type == "step" for e in read_events(running.events_path)[0]))
        assert jobs.wait_estimate(running.run_id) is None
        wait_second, wait_third = jobs.wait_estimate(second.run_id), jobs.wait_estimate(third.run_id)
        assert 0 <= wait_second <= 600 and wait_third == pytest.approx(wait_second + 600, abs=5)
        jobs.stop(running.run_id, owner="a")
        assert jobs.wait(second.run_id, timeout=120).state == "finished"
        # Once a run has finished, its length (not the limit) is what a place in line costs.
        assert jobs.wait_estimate(third.run_id) is None or jobs.wait_estimate(third.run_id) < 600
    finally:
        jobs.shutdown(timeout=60)


def test_run_ids_are_unguessable(tmp_path):
    from bertstudio.runs.folder import new_run_id

    ids = {new_run_id("same name") for _ in range(2000)}
    suffixes = {run_id.rsplit("-", 1)[1] for run_id in ids}
    assert len(ids) == len(suffixes) == 2000
    assert all(len(s) == 12 and int(s, 16) >= 0 for s in suffixes)  # 48 random bits each


def test_the_owner_of_a_job_is_recorded_beside_the_runs_for_after_a_restart(tmp_path, tiny_model_dir, data_csv,
                                                                          jobs):
    from bertstudio.hosting import owns

    job = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="alice-token")
    assert owns(tmp_path / "runs", job.run_id, "alice-token")
    assert not owns(tmp_path / "runs", job.run_id, "bob-token")
    jobs.wait(job.run_id, timeout=120)


def test_jobs_that_ended_long_ago_are_forgotten_but_live_ones_are_kept(tmp_path, tiny_model_dir, data_csv, jobs):
    done = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="a")
    jobs.wait(done.run_id, timeout=120)
    live = jobs.submit(quick(tmp_path, data_csv, tiny_model_dir, epochs=50), owner="b")
    assert jobs.forget_ended(older_than=3600) == 0
    assert jobs.forget_ended(older_than=0) == 1
    assert jobs.get(done.run_id) is None and jobs.get(live.run_id) is live and jobs.is_live(live.run_id)
    jobs.stop(live.run_id, owner="b")


KILLED_TRAINING = """
import sys, time
from bertstudio.config import TrainConfig
from bertstudio.training.trainer import train, default_train_step

def slow_step(model, batch):
    time.sleep(0.05)  # slow enough to be killed between two checkpoints
    return default_train_step(model, batch)

config = TrainConfig.from_json(sys.argv[1])
train(config, run_id=sys.argv[2], train_step=slow_step)
"""


def _interrupted_run(tmp_path, tiny_model_dir, data_csv):
    """A run whose process was SIGKILLed after its first checkpoint: no end event, files intact."""
    import os
    import signal
    import subprocess
    import sys

    from bertstudio.runs.folder import RunFolder, new_run_id

    config = quick(tmp_path, data_csv, tiny_model_dir, epochs=6, eval_strategy="steps", eval_steps=2)
    run_id = new_run_id("killed")
    run_dir = tmp_path / "runs" / run_id
    process = subprocess.Popen([sys.executable, "-c", KILLED_TRAINING, config.to_json(), run_id],
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        wait_for(lambda: (run_dir / "checkpoint" / "trainer_state.json").exists() or process.poll() is not None,
                 timeout=120)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert RunFolder(run_dir).status() == "interrupted"
    return run_dir


REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_an_interrupted_run_resumes_under_its_own_id_for_its_owner_only(tmp_path, tiny_model_dir, data_csv, jobs):
    from bertstudio.hosting import record_owner

    run_dir = _interrupted_run(tmp_path, tiny_model_dir, data_csv)
    record_owner(run_dir.parent, run_dir.name, "alice")
    with pytest.raises(StudioError, match="not yours"):
        jobs.resume(run_dir, owner="mallory")
    job = jobs.resume(run_dir, owner="alice")
    assert job.run_id == run_dir.name and job.run_dir == run_dir.resolve()
    with pytest.raises(StudioError, match="already waiting or training"):
        jobs.resume(run_dir, owner="alice")
    assert jobs.wait(job.run_id, timeout=180).state == "finished", job.message
    events = [e.type for e in read_events(run_dir / "events.jsonl")[0]]
    assert events.count("started") == 2 and events[-1] == "finished"
    assert (run_dir / "model" / "config.json").exists()
    with pytest.raises(StudioError, match="finished, not interrupted"):
        jobs.resume(run_dir, owner="alice")


# --- search jobs ------------------------------------------------------------------------------------


def test_a_search_job_runs_its_trials_in_the_worker_and_keeps_its_progress(tmp_path, tiny_model_dir, data_csv, jobs):
    import json

    from bertstudio.hosting import owns

    job = jobs.submit_search(quick(tmp_path, data_csv, tiny_model_dir), owner="alice", trials=2, fixed=["epochs"])
    assert job.kind == "search" and job.search.search_dir is None  # the folder is made when it starts
    assert jobs.wait(job.run_id, timeout=180).state == "finished", job.message
    progress = job.search
    assert progress.trials_ended == 2 and progress.trial_number is None
    record = json.loads((tmp_path / "runs" / progress.search_dir / "search.json").read_text())
    assert record["status"] == "finished" and [t["number"] for t in record["trials"]] == [1, 2]
    assert record["fixed"] == {"epochs": 1}
    assert job.result.best is not None and job.result.best.number == record["best_number"]
    # Each trial is an ordinary run of the search's owner, for the Runs and Predict tabs
    for trial in record["trials"]:
        run_id = trial["run_dir"].rsplit("/", 1)[-1]
        assert owns(tmp_path / "runs", run_id, "alice") and not owns(tmp_path / "runs", run_id, "bob")
    assert not jobs.busy()


def test_a_search_counts_as_the_visitors_one_job_and_stops_like_a_run(tmp_path, tiny_model_dir, data_csv):
    manager = JobManager(one_per_owner=True)
    try:
        job = manager.submit_search(quick(tmp_path, data_csv, tiny_model_dir, epochs=3), owner="alice", trials=5)
        with pytest.raises(StudioError, match="already have a run"):
            manager.submit(quick(tmp_path, data_csv, tiny_model_dir), owner="alice")
        wait_for(lambda: job.search.trial_number == 1)
        manager.stop(job.run_id, "alice")
        ended = manager.wait(job.run_id, timeout=120)
        assert ended.state == "stopped" and ended.message.startswith("Stopped after 1 trial;")
        assert len(ended.result.trials) == 1  # no second trial started after the stop
    finally:
        manager.shutdown(timeout=60)


def test_a_shared_deployment_refuses_searches_and_bad_requests_are_refused_before_queueing(tmp_path, tiny_model_dir,
                                                                                        data_csv, jobs):
    hosted = JobManager(max_run_seconds=600)
    with pytest.raises(StudioError, match="not offered on this shared demo"):
        hosted.submit_search(quick(tmp_path, data_csv, tiny_model_dir), owner="alice", trials=2)
    assert not hosted.busy() and not (tmp_path / "runs").exists()
    with pytest.raises(StudioError, match="at least 1"):
        jobs.submit_search(quick(tmp_path, data_csv, tiny_model_dir), owner="alice", trials=0)
    with pytest.raises(StudioError, match="number of trials, a time budget"):
        jobs.submit_search(quick(tmp_path, data_csv, tiny_model_dir), owner="alice")
    assert not jobs.busy()
