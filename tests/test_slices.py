"""A run trained in slices (one call each, as on a ZeroGPU Space) ends as if trained at once."""

import json
import pickle
from pathlib import Path

import pytest
from safetensors.torch import load_file

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.events import CallbackSink
from bertstudio.runs.folder import RunFolder
from bertstudio.training.loop import Slice, StopControl
from bertstudio.training.slices import SlicePiece, train_in_slices
from bertstudio.training.trainer import train
from conftest import LEARNABLE_SETTINGS


def sliced_config(tmp_path, data, model, **changes):
    settings = {**LEARNABLE_SETTINGS, "epochs": 3, "logging_steps": 5, "seed": 5, **changes}
    return TrainConfig(data=str(data), model=str(model), output_dir=str(tmp_path / "runs"), **settings)


def across_a_process(piece):
    """What ZeroGPU does to a slice: pickled into its forked worker, the result pickled back."""
    return pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(piece))()))


def _weights(run_dir) -> dict:
    return load_file(str(Path(run_dir) / "model" / "model.safetensors"))


def _logged_steps(run_dir, kind: str = "step") -> list[int]:
    lines = (Path(run_dir) / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["step"] for line in lines if json.loads(line)["type"] == kind]


# By epoch with 15 steps an epoch (batches of 18), a slice also ends at an epoch's end, right
# after that epoch's evaluation; by steps with 17, mid-epoch only, an evaluation every 7 steps.
@pytest.mark.parametrize("eval_strategy, batch_size", [("steps", 16), ("epoch", 18)])
def test_a_run_in_slices_ends_with_the_same_metrics_and_weights_each_step_logged_once(
        tmp_path, tiny_model_dir, learnable_csv, eval_strategy, batch_size):
    config = sliced_config(tmp_path, learnable_csv, tiny_model_dir, epochs=2, eval_strategy=eval_strategy,
                           eval_steps=7, batch_size=batch_size)
    at_once = train(config.replace(output_dir=str(tmp_path / "reference")))
    assert at_once.status == "finished"
    total = at_once.metrics["steps"]
    assert total == {16: 34, 18: 30}[batch_size]

    calls, events = [], []

    def call(piece):
        calls.append(piece.resume_from)
        return across_a_process(piece)

    sliced = train_in_slices(config, slice_steps=5, call=call, sink=CallbackSink(events.append))
    assert sliced.status == "finished", sliced.message
    logged = sorted({*range(5, total, 5), total})
    # A slice ends at every logged step (every 5th) but the last, and the last call finishes.
    assert len(calls) == len(logged) and calls[0] is None and set(calls[1:]) == {sliced.run_dir}
    for key in ("accuracy", "macro_f1", "loss", "best_step", "steps"):
        assert sliced.metrics[key] == at_once.metrics[key], key
    reference, ours = _weights(at_once.run_dir), _weights(sliced.run_dir)
    assert reference.keys() == ours.keys()
    assert all((reference[name] == ours[name]).all() for name in reference)
    assert _logged_steps(sliced.run_dir) == _logged_steps(at_once.run_dir) == logged
    assert _logged_steps(sliced.run_dir, "evaluation") == _logged_steps(at_once.run_dir, "evaluation")
    if eval_strategy == "epoch":  # the pause at step 15 came after that epoch's evaluation, not before
        assert _logged_steps(sliced.run_dir, "evaluation") == [15, 30]
    assert RunFolder(Path(sliced.run_dir)).status() == "finished"
    # The pickled slices' events reached the run's log, not this process's sink (see SlicePiece).
    assert events == []


def test_a_paused_slice_reads_as_interrupted_and_resumes_where_it_stopped(tmp_path, tiny_model_dir, learnable_csv):
    config = sliced_config(tmp_path, learnable_csv, tiny_model_dir, epochs=1)
    events = []
    paused = train(config, slice=Slice(steps=1), sink=CallbackSink(events.append))
    assert paused.status == "paused" and paused.metrics == {"steps": 5}  # the first logged step
    assert RunFolder(Path(paused.run_dir)).status() == "interrupted"
    assert json.loads((Path(paused.run_dir) / "checkpoint" / "trainer_state.json").read_text())["step"] == 5
    assert events[-1].type == "notice" and events[-1].message.startswith("Paused at step 5 of 17")

    done = train(config, resume_from=paused.run_dir)
    assert done.status == "finished" and done.metrics["steps"] == 17
    assert _logged_steps(done.run_dir) == [5, 10, 15, 17]


def test_slices_by_seconds_carry_on_in_process_with_a_live_sink(tmp_path, tiny_model_dir, learnable_csv):
    config = sliced_config(tmp_path, learnable_csv, tiny_model_dir, epochs=1)
    calls, events = [], []
    result = train_in_slices(config, slice_seconds=1e-6, sink=CallbackSink(events.append),
                             call=lambda piece: calls.append(piece) or piece())
    assert result.status == "finished" and len(calls) == 4  # every logged step is past a microsecond
    assert [e.step for e in events if e.type == "step"] == [5, 10, 15, 17]
    assert sum(e.type == "started" for e in events) == 4


def test_stop_between_slices_ends_the_run_in_the_next_one_with_its_model(tmp_path, tiny_model_dir, learnable_csv):
    config = sliced_config(tmp_path, learnable_csv, tiny_model_dir, epochs=1)
    stop = StopControl()

    def call(piece):
        result = across_a_process(piece)
        stop.request()  # pressed while the first slice trained
        return result

    result = train_in_slices(config, slice_steps=1, stop=stop, call=call)
    assert result.status == "stopped" and result.metrics["steps"] == 6
    assert RunFolder(Path(result.run_dir)).status() == "stopped" and (Path(result.run_dir) / "model").is_dir()


def test_a_slice_without_a_length_is_refused_in_plain_words(tmp_path, tiny_model_dir, learnable_csv):
    config = sliced_config(tmp_path, learnable_csv, tiny_model_dir)
    with pytest.raises(StudioError, match="slice length"):
        train_in_slices(config)
    with pytest.raises(StudioError, match="at least 1 step"):
        train_in_slices(config, slice_steps=0)
    assert SlicePiece(config, Slice(steps=1)).__getstate__()["stop_now"] is False


def test_on_a_zero_gpu_space_each_slice_is_a_gpu_call_that_leaves_time_to_save(
        tmp_path, tiny_model_dir, learnable_csv, monkeypatch):
    import sys
    import types

    from bertstudio.hosting import zero_gpu_slicing

    assert zero_gpu_slicing(env={}) is None  # anywhere but a ZeroGPU Space: train at once
    monkeypatch.setitem(sys.modules, "spaces", None)  # not installed
    with pytest.raises(StudioError, match="spaces"):
        zero_gpu_slicing(env={"SPACES_ZERO_GPU": "true"})

    lent = []  # the `spaces` package's one entry point, as a Space provides it: GPU(duration)(fn)
    fake = types.SimpleNamespace(GPU=lambda duration: lambda fn: lambda *a: lent.append(duration) or fn(*a))
    monkeypatch.setitem(sys.modules, "spaces", fake)
    slicing = zero_gpu_slicing(120, env={"SPACES_ZERO_GPU": "true"})
    assert slicing["slice_seconds"] == 90
    config = sliced_config(tmp_path, learnable_csv, tiny_model_dir, epochs=1)
    result = train_in_slices(config, **{**slicing, "slice_seconds": None, "slice_steps": 10})
    assert result.status == "finished" and lent == [120, 120]


def test_the_studios_worker_trains_a_run_in_slices_through_the_sliced_launcher(tmp_path, tiny_model_dir,
                                                                                learnable_csv):
    from bertstudio.launch.sliced import SlicedLauncher
    from bertstudio.worker import JobManager

    calls = []

    def call(piece):
        calls.append(piece.resume_from)
        return across_a_process(piece)

    config = sliced_config(tmp_path, learnable_csv, tiny_model_dir, epochs=1)
    # Slices of a few steps, so that the run needs several however fast this machine trains it.
    jobs = JobManager(one_per_owner=True, launcher=SlicedLauncher(call, slice_steps=3))
    job = jobs.submit(config, "visitor")
    ended = jobs.wait(job.run_id, timeout=300)
    assert ended.state == "finished", ended.message
    assert len(calls) >= 2 and calls[0] is None  # the first slice starts it, the next ones resume it
    assert all(Path(resumed) == job.run_dir for resumed in calls[1:])
    assert RunFolder(job.run_dir).status() == "finished"
