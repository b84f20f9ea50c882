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
