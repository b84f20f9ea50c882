import json

import pytest

from bertstudio.events import (Evaluation, Failed, JsonlSink, QueueSink, Started, Step, event_from_dict,
                               read_events)


def _step(n):
    return Step(step=n, total_steps=10, epoch=n / 10, loss=0.5, learning_rate=1e-5, grad_norm=1.0,
                samples_per_second=3.0, tokens_per_second=30.0, elapsed_seconds=1.0, eta_seconds=2.0)


def test_events_round_trip_through_their_dict_form():
    for event in (_step(3), Failed(message="m", detail="d", step=2),
                  Evaluation(step=1, epoch=0.1, metrics={"accuracy": 0.5}, is_best=True)):
        assert event_from_dict(event.to_dict()) == event


def test_jsonl_reader_returns_only_new_whole_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    sink.emit(_step(1))
    sink.emit(_step(2))
    first, offset = read_events(path)
    assert [e.step for e in first] == [1, 2]
    with open(path, "a") as handle:  # a line still being written must wait for its newline
        handle.write('{"type": "step", "step": 3')
    again, offset2 = read_events(path, offset)
    assert again == [] and offset2 == offset
    with open(path, "a") as handle:
        handle.write(', "total_steps": 10, "epoch": 0.3, "loss": 0.4, "learning_rate": 1e-5, "grad_norm": null, '
                     '"samples_per_second": 1, "tokens_per_second": 1, "elapsed_seconds": 1, "eta_seconds": null}\n')
    more, _ = read_events(path, offset2)
    assert [e.step for e in more] == [3]


def test_queue_sink_never_blocks():
    sink = QueueSink()
    for n in range(10_000):
        sink.emit(_step(n))
    assert sink.queue.qsize() == 10_000


def test_reading_a_missing_log_gives_nothing(tmp_path):
    assert read_events(tmp_path / "nope.jsonl") == ([], 0)


def test_started_event_carries_sizes_and_steps():
    event = Started(run_id="r", run_dir="d", config={}, labels=["a", "b"], train_size=9, validation_size=1,
                    total_steps=3, steps_per_epoch=1, device="cpu", precision="no")
    assert event_from_dict(event.to_dict()).total_steps == 3


def test_started_names_the_resolved_task_and_a_log_from_before_tasks_still_reads():
    event = Started(run_id="r", run_dir="d", config={"task": "auto"}, labels=["a", "b"], train_size=9,
                    validation_size=1, total_steps=3, steps_per_epoch=1, device="cpu", precision="no",
                    task="multi_label")
    assert event_from_dict(json.loads(json.dumps(event.to_dict()))).task == "multi_label"
    old = {key: value for key, value in event.to_dict().items() if key != "task"}
    assert event_from_dict(old).task is None
    with pytest.raises(ValueError):
        event_from_dict({**event.to_dict(), "task": 3})


def test_the_end_events_carry_a_learned_nothing_warning_and_logs_from_before_it_still_read():
    from bertstudio.events import Finished, Stopped

    for event in (Finished(run_dir="d", metrics={}, steps=3, elapsed_seconds=1.0, warning="predicts only 'a'"),
                  Stopped(run_dir="d", step=3, metrics={}, elapsed_seconds=1.0, warning="predicts only 'a'")):
        assert event_from_dict(json.loads(json.dumps(event.to_dict()))).warning == "predicts only 'a'"
        old = {key: value for key, value in event.to_dict().items() if key != "warning"}
        assert event_from_dict(old).warning is None
        with pytest.raises(ValueError):
            event_from_dict({**event.to_dict(), "warning": ["not", "text"]})


def test_run_end_is_found_from_the_tail_of_a_long_log(tmp_path):
    from bertstudio.events import Finished, last_terminal_type

    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    assert last_terminal_type(path) is None
    for n in range(3000):
        sink.emit(_step(n))
    assert last_terminal_type(path) is None
    sink.emit(Finished(run_dir="d", metrics={}, steps=3000, elapsed_seconds=1.0))
    assert path.stat().st_size > 65_536 and last_terminal_type(path) == "finished"


# --- a log that survives damage -----------------------------------------------------------------

def test_reader_skips_binary_junk_unknown_types_and_mistyped_fields_instead_of_raising(tmp_path):
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    sink.emit(_step(1))
    with open(path, "ab") as handle:
        handle.write(b"\xff\xfe\x00binary junk\x81\n")                       # not UTF-8
        handle.write(b"{not json at all\n")
        handle.write(b'{"type": "telemetry", "step": 2}\n')                  # a type from a newer version
        handle.write(b'{"type": "step", "step": "two", "loss": "low"}\n')    # the right type, wrong fields
        handle.write(b"[1, 2, 3]\n" + b"[" * 100_000 + b"\n")               # not an object; absurd nesting
        handle.write(b'{"type": "evaluation", "step": 2, "epoch": 0.2, "metrics": {"accuracy": "high"}}\n')
    sink.emit(_step(3))
    events, offset = read_events(path)
    assert [e.step for e in events] == [1, 3] and offset == path.stat().st_size


def test_a_writer_after_a_cut_last_line_starts_on_a_fresh_line_and_readers_skip_the_cut_one(tmp_path):
    from bertstudio.events import last_terminal_type

    path = tmp_path / "events.jsonl"
    JsonlSink(path).emit(_step(1))
    whole = json.dumps(Failed(message="The disk is full.").to_dict())
    with open(path, "ab") as handle:
        handle.write(whole[:25].encode())  # a Failed line cut off by a full disk
    assert [e.step for e in read_events(path)[0]] == [1] and last_terminal_type(path) is None
    JsonlSink(path).emit(_step(2))  # after a restart, a new sink appends
    lines = path.read_bytes().splitlines()
    assert lines[-1].startswith(b'{"type": "step"') and lines[-2] == whole[:25].encode()
    assert [e.step for e in read_events(path)[0]] == [1, 2]


def test_a_line_the_disk_cannot_take_is_cut_back_off_so_no_half_line_remains(tmp_path):
    from disk_support import fill, small_disk

    with small_disk(tmp_path / "small", 1) as disk:
        path = disk / "events.jsonl"
        sink = JsonlSink(path)
        sink.emit(_step(1))
        fill(disk, 100)
        big = Failed(message="x" * 10_000)
        with pytest.raises(OSError):
            sink.emit(big)
        assert [e.step for e in read_events(path)[0]] == [1] and path.read_bytes().endswith(b"\n")
        (disk / "filler.bin").unlink()
        sink.emit(big)
        assert [e.type for e in read_events(path)[0]] == ["step", "failed"]


def test_a_run_resumed_after_it_failed_is_not_ended_until_it_ends_again(tmp_path):
    from bertstudio.events import Finished, last_terminal_type

    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    started = Started(run_id="r", run_dir="d", config={}, labels=["a", "b"], train_size=9, validation_size=1,
                      total_steps=3, steps_per_epoch=1, device="cpu", precision="no")
    for event in (started, _step(1), Failed(message="The disk is full.", resumable=True)):
        sink.emit(event)
    assert last_terminal_type(path) == "failed"
    sink.emit(started)
    assert last_terminal_type(path) is None
    sink.emit(Finished(run_dir="d", metrics={}, steps=3, elapsed_seconds=1.0))
    assert last_terminal_type(path) == "finished"
    with open(path, "ab") as handle:
        handle.write(b"\x00\xff" * 40_000 + b"\n")  # binary junk after the end does not hide it
    assert last_terminal_type(path) == "finished"


def test_cutting_the_log_back_to_a_checkpoint_keeps_each_step_once_and_swaps_in_a_new_file(tmp_path):
    import os

    from bertstudio.events import Notice, truncate_after_step

    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    for event in [_step(5), Evaluation(step=7, epoch=0.7, metrics={"accuracy": 0.5}), _step(10),
                  Notice(message="later", step=12), Failed(message="The disk is full.", step=14)]:
        sink.emit(event)
    with open(path, "ab") as handle:
        handle.write(b"\xffjunk\n{\"type\": \"ste")
    inode = os.stat(path).st_ino
    truncate_after_step(path, 7)
    assert [(e.type, getattr(e, "step", None)) for e in read_events(path)[0]] == [("step", 5), ("evaluation", 7)]
    assert os.stat(path).st_ino != inode and path.read_bytes().endswith(b"\n")
    assert not list(tmp_path.glob(".*.tmp"))


def test_fan_out_gives_every_sink_the_event_before_raising_the_first_failure(tmp_path):
    from bertstudio.events import CallbackSink, FanOut

    heard = []

    def broken(event):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        FanOut([CallbackSink(broken), CallbackSink(heard.append)]).emit(_step(1))
    assert [e.step for e in heard] == [1]
