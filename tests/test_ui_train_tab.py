"""Train tab handlers over a real JobManager and a tiny model: start, follow, reattach, results."""

import csv
import time

import gradio as gr
import pytest

from bertstudio.events import read_events
from bertstudio.data.tabular import read_table
from bertstudio.ui import data_tab, hyperparams_tab, tokenizer_tab, train_tab
from bertstudio.ui.app import config_form
from bertstudio.ui.estimate import count_steps
from bertstudio.ui.session import BrowserMemory, SessionObjects
from bertstudio.worker import JobManager

VIEW = ["progress", "loss", "metrics", "lr", "log", "results", "summary", "per_class", "confusion",
        "misclassified", "downloads", "timer"]
GATE = ["start", "hint"]


@pytest.fixture(scope="module")
def form(tmp_path_factory):
    with gr.Blocks():
        data = data_tab.build()
        tok = tokenizer_tab.build("bundled")
        hp = hyperparams_tab.build()
    return config_form(data, tok, hp, tmp_path_factory.mktemp("runs"))


@pytest.fixture
def loaded(tmp_path):
    path = tmp_path / "reviews.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "label"])
        for i in range(40):
            writer.writerow([f"{'great lovely' if i % 2 else 'awful broken'} thing {i}", "pos" if i % 2 else "neg"])
    return data_tab.LoadedData(path=str(path), table=read_table(path))


@pytest.fixture
def jobs():
    manager = JobManager(one_per_owner=True)  # as the studio makes it: one live run per visitor
    yield manager
    manager.shutdown(timeout=60)


def values(form, model, **changes):
    settings = dict(text_column="review", label_column="label", model=str(model), epochs=1, batch_size=8,
                    max_length=16, logging_steps=1, warmup_ratio=0.0)
    settings.update(changes)
    out = [control.component.value for control in form.controls]
    for name, value in settings.items():
        out[form.controls.index(form.control(name))] = value
    return out


def view(outputs):
    return dict(zip(VIEW, outputs))


def gate(outputs):
    """The Start button and its hint: the last two outputs of start, tick and reattach."""
    return dict(zip(GATE, outputs[-2:]))


def follow_to_the_end(jobs, downloads, followed, timeout=120):
    deadline = time.monotonic() + timeout
    ticks = []
    while time.monotonic() < deadline:
        ticks.append(view(train_tab.tick(jobs, downloads, followed)))
        if not ticks[-1]["timer"].active:
            return ticks
        time.sleep(0.1)
    raise AssertionError("the run did not end")


def test_start_queues_a_run_and_ticks_follow_it_to_its_results(form, loaded, jobs, tiny_model_dir):
    objects = SessionObjects()
    followed, memory, problem, *rest = train_tab.start(form, jobs, loaded, {}, *values(form, tiny_model_dir))
    assert problem == "" and view(rest)["timer"].active
    memory = BrowserMemory.from_value(memory)
    assert memory.owner and memory.run_id == followed.run_id and memory.runs == [followed.run_id]

    ticks = follow_to_the_end(jobs, objects.downloads_dir, followed)
    last = ticks[-1]
    assert "Finished" in last["progress"]
    assert len(last["loss"].data[0].x) == followed.history.total_steps  # a point per logged step
    assert last["results"]["visible"] is True and "Accuracy" in last["summary"]
    assert [row[0] for row in last["per_class"]["value"]["data"]] == ["neg", "pos"]
    assert last["per_class"]["label"] == "Per class" and last["confusion"].data[0].type == "heatmap"
    assert sorted(p.rsplit("/", 1)[-1].split("-")[-1] for p in last["downloads"]) == ["README.md", "model.zip"]
    assert {"text", "gold", "predicted"} <= set(last["misclassified"]["value"]["headers"])
    assert last["misclassified"]["label"].startswith("Misclassified validation rows")
    objects.close()


def test_the_trainer_runs_as_many_steps_as_the_hyperparameters_tab_promised(form, loaded, jobs, tiny_model_dir):
    followed, *_ = train_tab.start(form, jobs, loaded, {}, *values(form, tiny_model_dir, batch_size=4,
                                                                    gradient_accumulation_steps=3, epochs=2))
    jobs.wait(followed.run_id, timeout=120)
    started = read_events(followed.events_path)[0][0]
    config = form.build_config(loaded.path, None, values(form, tiny_model_dir, batch_size=4,
                                                         gradient_accumulation_steps=3, epochs=2))
    assert started.total_steps == count_steps(config, started.train_size).total_steps


def test_a_reloaded_page_reattaches_to_its_own_run_and_rebuilds_the_charts(form, loaded, jobs, tiny_model_dir):
    objects = SessionObjects()
    followed, memory, *_ = train_tab.start(form, jobs, loaded, {}, *values(form, tiny_model_dir))
    jobs.wait(followed.run_id, timeout=120)
    reopened, memory_after, *outputs = train_tab.reattach(jobs, form.output_dir, objects.downloads_dir, memory)
    shown = view(outputs)
    assert reopened.run_id == followed.run_id and reopened.offset > 0
    assert len(shown["loss"].data[0].x) == len(reopened.history.step) > 0
    assert shown["results"]["visible"] is True and memory_after == memory
    objects.close()


def test_another_browser_cannot_attach_to_or_stop_someone_elses_run(form, loaded, jobs, tiny_model_dir):
    followed, memory, *_ = train_tab.start(form, jobs, loaded, {}, *values(form, tiny_model_dir, epochs=30))
    stranger = {"owner": "someone-else", "run_id": followed.run_id, "runs": [followed.run_id]}
    attached, *_ = train_tab.reattach(jobs, form.output_dir, lambda: None, stranger)
    assert attached is None
    assert "not yours" in train_tab.stop(jobs, followed, stranger)
    assert "problem" not in train_tab.stop(jobs, followed, memory)
    assert jobs.wait(followed.run_id, timeout=60).state == "stopped"


def test_a_second_visitors_start_waits_in_line_and_says_so(form, loaded, jobs, tiny_model_dir):
    first, memory, *_ = train_tab.start(form, jobs, loaded, {}, *values(form, tiny_model_dir, epochs=30))
    second, other, _, *outputs = train_tab.start(form, jobs, loaded, {}, *values(form, tiny_model_dir))
    assert "Waiting in line" in view(outputs)["progress"]
    assert BrowserMemory.from_value(other).runs == [second.run_id]
    train_tab.stop(jobs, first, memory)
    jobs.wait(second.run_id, timeout=120)


def test_start_clicked_twice_queues_one_run_and_start_stays_off_until_it_ends(form, loaded, jobs, tiny_model_dir,
                                                                             tmp_path):
    first, memory, problem, *outputs = train_tab.start(form, jobs, loaded, {}, *values(form, tiny_model_dir))
    assert problem == "" and gate(outputs)["start"]["interactive"] is False
    assert "one run at a time" in gate(outputs)["hint"]["value"] and gate(outputs)["hint"]["visible"] is True
    # The second click arrives with the same browser memory: refused on the server, nothing queued.
    followed, memory_after, problem, *outputs = train_tab.start(form, jobs, loaded, memory,
                                                                *values(form, tiny_model_dir))
    assert "already have a run waiting or training" in problem and followed == gr.skip()
    assert len(jobs.jobs_of(BrowserMemory.from_value(memory).owner)) == 1
    assert gate(outputs)["start"]["interactive"] is False
    ticks = []
    deadline = time.monotonic() + 120
    while not ticks or ticks[-1][11].active:
        assert time.monotonic() < deadline, "the run did not end"
        ticks.append(train_tab.tick(jobs, lambda: tmp_path, first, memory))
        time.sleep(0.1)
    assert gate(ticks[0])["start"]["interactive"] is False
    assert gate(ticks[-1])["start"]["interactive"] is True and gate(ticks[-1])["hint"]["visible"] is False


def test_a_reload_reattaches_to_the_visitors_live_run_whatever_the_memory_names_and_stop_works(
        form, loaded, jobs, tiny_model_dir):
    followed, memory, *_ = train_tab.start(form, jobs, loaded, {}, *values(form, tiny_model_dir, epochs=30))
    stale = {**memory, "run_id": "20990101-000000-some-other-run"}  # a memory pointing elsewhere
    reopened, memory_after, *outputs = train_tab.reattach(jobs, form.output_dir, lambda: None, stale)
    assert reopened.run_id == followed.run_id and memory_after["run_id"] == followed.run_id
    assert view(outputs)["timer"].active and gate(outputs)["start"]["interactive"] is False
    assert "problem" not in train_tab.stop(jobs, reopened, memory_after)
    assert jobs.wait(followed.run_id, timeout=60).state in ("stopped", "cancelled")


def test_hosted_one_address_has_one_live_run_and_the_others_there_see_why_start_is_off(
        form, loaded, jobs, tiny_model_dir):
    from bertstudio.hosting import HostingSettings

    hosting = HostingSettings(hosted=True, models=("bundled", str(tiny_model_dir)), max_epochs=30)
    proxy = {"host": "10.16.3.80", "port": 443}  # a Space: every connection comes from its proxy
    alice = gr.Request(headers={"x-forwarded-for": "203.0.113.7"}, client=proxy)
    # Alice again, from a script that forges the header's own entries: the proxy's entry still counts.
    mallory = gr.Request(headers={"x-forwarded-for": "198.51.100.99, 203.0.113.7"}, client=proxy)
    bob = gr.Request(headers={"x-forwarded-for": "198.51.100.2"}, client=proxy)
    sent = values(form, tiny_model_dir, epochs=30)
    first, memory, *_ = train_tab.start(form, jobs, loaded, {}, *sent, hosting=hosting,
                                        address=train_tab.request_address(alice, hosting))
    # The same address with a fresh token (a new browser, or a script) is refused.
    _, _, problem, *outputs = train_tab.start(form, jobs, loaded, {"owner": "fresh"}, *sent, hosting=hosting,
                                              address=train_tab.request_address(mallory, hosting))
    assert "already have a run waiting or training" in problem
    assert gate(outputs)["start"]["interactive"] is False and "network address" in gate(outputs)["hint"]["value"]
    # ...and sees nothing of Alice's run on a reload, yet Start stays off with the reason.
    attached, _, *outputs = train_tab.reattach(jobs, form.output_dir, lambda: None, {"owner": "fresh"}, True,
                                               train_tab.request_address(mallory, hosting))
    assert attached is None and gate(outputs)["start"]["interactive"] is False
    second, *_ = train_tab.start(form, jobs, loaded, {}, *values(form, tiny_model_dir), hosting=hosting,
                                  address=train_tab.request_address(bob, hosting))
    assert second.run_id != first.run_id  # another address gets in
    train_tab.stop(jobs, first, memory)
    jobs.wait(second.run_id, timeout=120)


def test_start_without_data_says_what_to_do(form, jobs, tiny_model_dir):
    outputs = train_tab.start(form, jobs, None, {}, *values(form, tiny_model_dir))
    assert "Load a dataset" in outputs[2] and not jobs.busy()


def test_a_run_the_engine_refuses_shows_its_sentence(form, loaded, jobs, tiny_model_dir):
    followed, *_ = train_tab.start(form, jobs, loaded, {}, *values(form, tiny_model_dir, text_column="body"))
    last = follow_to_the_end(jobs, lambda: None, followed)[-1]
    assert "failed" in last["progress"] and "no column" in last["progress"]  # a failed run, told plainly
    assert "Traceback" not in last["progress"]


def test_a_shared_demo_checks_its_limits_on_the_server_whatever_the_page_sent(form, loaded, jobs, tiny_model_dir):
    import html

    from bertstudio.hosting import HostingSettings

    hosting = HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1", "BERTSTUDIO_MAX_EPOCHS": "2",
                                        "BERTSTUDIO_MODELS": "bundled", "BERTSTUDIO_MAX_ROWS": "30"})
    sent = values(form, "bundled", epochs=9)  # a page (or a script) past the slider's limit
    assert "at most 2 epochs" in html.unescape(train_tab.start(form, jobs, loaded, {}, *sent, hosting=hosting)[2])
    sent = values(form, tiny_model_dir, epochs=1)  # a local folder typed in
    assert "offers only these models" in train_tab.start(form, jobs, loaded, {}, *sent, hosting=hosting)[2]
    sent = values(form, "bundled", epochs=1)
    assert "40 rows, more than the 30" in html.unescape(
        train_tab.start(form, jobs, loaded, {}, *sent, hosting=hosting)[2])
    assert not jobs.busy()


def test_after_a_restart_a_shared_demo_reattaches_only_to_a_run_the_browser_owns(form, loaded, tiny_model_dir):
    first_life = JobManager()
    followed, memory, *_ = train_tab.start(form, first_life, loaded, {}, *values(form, tiny_model_dir))
    first_life.wait(followed.run_id, timeout=120)
    first_life.shutdown()
    restarted = JobManager()  # knows no jobs: ownership comes from the record beside the runs
    forged = {"owner": "someone-else", "run_id": followed.run_id, "runs": [followed.run_id]}
    assert train_tab.reattach(restarted, form.output_dir, lambda: None, forged, True)[0] is None
    objects = SessionObjects()
    mine = train_tab.reattach(restarted, form.output_dir, objects.downloads_dir, memory, True)[0]
    assert mine.run_id == followed.run_id
    objects.close()


def test_a_waiting_run_shows_its_place_and_an_expected_start(form, loaded, tiny_model_dir):
    jobs = JobManager(max_run_seconds=600)
    try:
        first, memory, *_ = train_tab.start(form, jobs, loaded, {}, *values(form, tiny_model_dir, epochs=30))
        second, _, _, *outputs = train_tab.start(form, jobs, loaded, {}, *values(form, tiny_model_dir))
        progress = view(outputs)["progress"]
        assert "Waiting in line: number 1." in progress and "Expected start: <b>in " in progress
        train_tab.stop(jobs, first, memory)
        jobs.wait(second.run_id, timeout=120)
    finally:
        jobs.shutdown(timeout=60)


def test_a_multi_label_run_charts_its_f1s_and_ends_with_a_per_label_table(form, jobs, tiny_model_dir, tmp_path):
    from bertstudio.ui.results_text import PER_LABEL_HEADERS

    path = tmp_path / "tickets.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "tags"])
        for i in range(40):
            tags = [name for j, name in enumerate(("billing", "bug", "urgent")) if (i >> j) & 1]
            writer.writerow([" ".join(tags) + f" ticket {i}", ",".join(tags)])
    loaded = data_tab.LoadedData(path=str(path), table=read_table(path))
    objects = SessionObjects()
    followed, *_ = train_tab.start(form, jobs, loaded, {}, *values(form, tiny_model_dir, label_column="tags"))
    last = follow_to_the_end(jobs, objects.downloads_dir, followed)[-1]
    assert [trace.name for trace in last["metrics"].data] == ["macro F1", "micro F1"]
    table = last["per_class"]
    assert table["visible"] is True and table["value"]["headers"] == PER_LABEL_HEADERS
    assert [row[0] for row in table["value"]["data"]] == ["billing", "bug", "urgent"]
    assert "At the tuned thresholds" in last["summary"] and "At a fixed threshold of 0.5" in last["summary"]
    assert last["confusion"].data[0].type == "bar"  # F1 per label where the confusion matrix would be
    objects.close()


def _history_of_a_three_step_run(config: dict):
    from bertstudio.events import Started, Step

    from bertstudio.ui.history import TrainHistory

    return TrainHistory().add([
        Started(run_id="r", run_dir="/x", config=config, labels=["a", "b"], train_size=6, validation_size=2,
                total_steps=3, steps_per_epoch=3, device="cpu", precision="no"),
        Step(step=3, total_steps=3, epoch=1.0, loss=0.7, learning_rate=0.0, grad_norm=None,
             samples_per_second=5.0, tokens_per_second=50.0, elapsed_seconds=1.0, eta_seconds=0.0)])


def test_a_tiny_run_on_the_train_tab_draws_its_planned_schedule_from_its_started_settings():
    import dataclasses

    from bertstudio.config import TrainConfig

    config = dataclasses.asdict(TrainConfig(learning_rate=1e-4, warmup_ratio=0.0, scheduler="linear"))
    steps, rates = train_tab.planned_schedule(_history_of_a_three_step_run(config))
    assert steps == [0, 1, 2, 3] and rates[0] == 1e-4 and rates[-1] == 0.0
    # Settings this version cannot read (another version's log) leave the logged rates alone.
    assert train_tab.planned_schedule(_history_of_a_three_step_run({"no_such_setting": 1})) is None
    assert train_tab.planned_schedule(_history_of_a_three_step_run({})) is None


# --- a run that adapts its model to the texts first (adapt_epochs) -----------------------------------

def test_while_adapting_the_status_line_says_so_with_the_adaptations_steps_and_time_left():
    from bertstudio.events import Adaptation, Evaluation as Eval, Started
    from bertstudio.ui.history import TrainHistory

    now = time.time()
    events = [Adaptation(phase="started", run_dir="/a", total_steps=400, time=now - 130),
              Adaptation(phase="step", run_dir="/a", step=20, total_steps=400, loss=9.1, time=now - 110),
              Adaptation(phase="step", run_dir="/a", step=120, total_steps=400, loss=7.2, time=now - 10),
              Adaptation(phase="evaluation", run_dir="/a", step=120, total_steps=400, loss=7.0,
                         metrics={"loss": 7.0, "perplexity": 1096.6, "accuracy": 0.04}, time=now - 5)]
    history = TrainHistory().add(events)
    line = train_tab.progress_html(history, position=0)
    assert "Adapting the model to your texts</b> (step 120 of 400) — fine-tuning starts after" in line
    # 100 steps took 100 s: 280 steps left are 280 s, 10 s of which have passed since the last.
    assert "about 4m30s left of the adaptation (measured)" in line and "width:30.0%" in line
    assert "validation perplexity 1,096.6" in line
    waiting = train_tab.progress_html(history, position=2, wait_seconds=60)
    assert "Waiting in line" in waiting  # a run in the queue says where it waits, not that it adapts
    history.add([Adaptation(phase="finished", run_dir="/a", step=400, total_steps=400, metrics={"loss": 6.0})])
    assert "fine-tuning is starting" in train_tab.progress_html(history, position=0)
    history.add([Started(run_id="x", run_dir="/x", config={}, labels=["a", "b"], train_size=8, validation_size=2,
                         total_steps=10, steps_per_epoch=5, device="cpu", precision="no", task="single_label"),
                 Eval(step=5, epoch=1.0, metrics={"loss": 0.5, "accuracy": 0.8})])
    assert "Adapting" not in train_tab.progress_html(history, position=0)  # the fine-tuning's own line


def test_a_stop_during_the_adaptation_says_nothing_was_fine_tuned(tmp_path):
    from bertstudio.events import Adaptation, JsonlSink, Stopped
    from bertstudio.ui.history import FollowedRun

    from adaptation_events import adaptation

    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    adaptation(sink, end=False)
    sink.emit(Adaptation(phase="stopped", run_dir="/a", step=20, total_steps=40, metrics={}))
    sink.emit(Stopped(run_dir=str(tmp_path), step=0, metrics={}, elapsed_seconds=0.0))
    followed = FollowedRun(run_id="x", events_path=str(path))
    followed.poll()
    line = train_tab.progress_html(followed.history, position=0)
    assert "Stopped while adapting the model to your texts</b> (step 20 of 40); nothing was fine-tuned" in line


@pytest.mark.slow
def test_a_finished_adapting_run_reopened_from_its_log_keeps_the_adaptation_curve(tmp_path, tiny_model_dir):
    from bertstudio.config import TrainConfig
    from bertstudio.training.trainer import train
    from bertstudio.ui.history import FollowedRun

    path = tmp_path / "tickets.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([["the parcel arrived late again", "late"], ["the refund came after two weeks", "refund"]] * 30)
    result = train(TrainConfig(data=str(path), model=str(tiny_model_dir), output_dir=str(tmp_path / "runs"),
                               max_length=16, batch_size=16, learning_rate=1e-3, epochs=1, adapt_epochs=1,
                               logging_steps=1, seed=5))
    assert result.status == "finished", result.message
    followed = FollowedRun(run_id="x", events_path=str(tmp_path / "runs" / result.run_dir.split("/")[-1]
                                                       / "events.jsonl"))
    followed.poll()  # as the Runs tab and a reloaded page do: the whole log read once
    view = dict(zip(VIEW, train_tab.render_view(followed, live=False)))
    assert "Finished" in view["progress"] and "Adapting" not in view["progress"]
    names = [trace.name for trace in view["loss"].data]
    assert names[:3] == ["adapting: training (raw)", "adapting: training", "adapting: validation"]
    assert "validation" in names[3:]  # the fine-tuning's panel beside it
    adaptation = followed.history.adaptation
    assert adaptation.phase == "finished" and adaptation.step[-1] == adaptation.total_steps > 0
    assert adaptation.eval_perplexity and "Adaptation finished after" in view["log"]
