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
