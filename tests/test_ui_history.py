"""TrainHistory and FollowedRun: points appended from new events only, read incrementally from disk."""

import json

from bertstudio.events import Evaluation, Failed, Finished, JsonlSink, Started, Step, Stopped
from bertstudio.ui.history import LOG_LINES_KEPT, FollowedRun, TrainHistory


def _started(total=10):
    return Started(run_id="run-1", run_dir="/r", config={}, labels=["a", "b"], train_size=8, validation_size=2,
                   total_steps=total, steps_per_epoch=5, device="cpu", precision="no")


def _step(step, loss=1.0, total=10):
    return Step(step=step, total_steps=total, epoch=step / 5, loss=loss, learning_rate=1e-5, grad_norm=0.5,
                samples_per_second=4.0, tokens_per_second=40.0, elapsed_seconds=step, eta_seconds=10 - step)


def test_history_collects_steps_and_evaluations_in_order():
    history = TrainHistory().add([_started(), _step(2, 0.9), _step(4, 0.7),
                                  Evaluation(step=5, epoch=1.0, metrics={"loss": 0.6, "accuracy": 0.75,
                                                                         "macro_f1": 0.7}, is_best=True)])
    assert history.step == [2, 4] and history.loss == [0.9, 0.7]
    assert history.eval_step == [5] and history.eval_accuracy == [0.75] and history.eval_f1 == [0.7]
    assert history.status == "running" and history.progress == 0.4
    assert "best so far" in history.log[-1]


def test_terminal_events_end_the_history_with_their_status():
    assert TrainHistory().add([_started(), Finished(run_dir="/r", metrics={"accuracy": 1.0}, steps=10,
                                                    elapsed_seconds=3.0)]).status == "finished"
    assert TrainHistory().add([_started(), Stopped(run_dir="/r", step=3, metrics={},
                                                   elapsed_seconds=1.0)]).status == "stopped"
    failed = TrainHistory().add([_started(), Failed(message="The loss became NaN; lower the learning rate.")])
    assert failed.status == "failed" and failed.ended and "lower the learning rate" in failed.log[-1]


def test_log_keeps_only_the_latest_lines():
    history = TrainHistory().add([_started(total=10_000)] + [_step(i, total=10_000) for i in range(1, 1000)])
    assert len(history.log) == LOG_LINES_KEPT and "Step 999/" in history.log[-1]


def test_followed_run_reads_only_the_bytes_added_since_the_last_poll(tmp_path):
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    followed = FollowedRun(run_id="run-1", events_path=str(path))
    assert followed.poll() is False and followed.offset == 0  # no file yet: nothing, no error
    sink.emit(_started())
    sink.emit(_step(1))
    assert followed.poll() is True and followed.history.step == [1]
    first_offset = followed.offset
    assert followed.poll() is False and followed.offset == first_offset  # nothing new, nothing re-read
    sink.emit(_step(2))
    assert followed.poll() is True and followed.history.step == [1, 2]
    assert followed.offset == path.stat().st_size


def test_a_half_written_line_waits_for_the_next_poll(tmp_path):
    path = tmp_path / "events.jsonl"
    JsonlSink(path).emit(_started())
    line = json.dumps(_step(1).to_dict())
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line[:20])
    followed = FollowedRun(run_id="run-1", events_path=str(path))
    followed.poll()
    assert followed.history.step == []
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line[20:] + "\n")
    followed.poll()
    assert followed.history.step == [1]


def test_a_reopened_page_rebuilds_the_same_history_from_offset_zero(tmp_path):
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    live = FollowedRun(run_id="run-1", events_path=str(path))
    for event in [_started(), _step(1, 0.9), _step(2, 0.8)]:
        sink.emit(event)
        live.poll()
    reopened = FollowedRun(run_id="run-1", events_path=str(path))
    reopened.poll()
    assert reopened.history.step == live.history.step and reopened.history.loss == live.history.loss


def test_a_follower_rebuilds_its_history_when_a_resumed_run_cuts_its_log_back(tmp_path):
    from bertstudio.events import Notice, truncate_after_step

    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    followed = FollowedRun(run_id="run-1", events_path=str(path))
    for event in [_started(), _step(2, 0.9), _step(4, 0.8), _step(6, 0.7)]:
        sink.emit(event)
    followed.poll()
    assert followed.history.step == [2, 4, 6]
    truncate_after_step(path, 4)  # the run resumes from its checkpoint at step 4
    sink.emit(Notice(message="Resumed from the checkpoint at step 4.", step=4))
    resumed = _started()
    resumed.resumed_from_step = 4
    for event in [resumed, _step(6, 0.65), _step(8, 0.6)]:
        sink.emit(event)
    followed.poll()
    assert followed.history.step == [2, 4, 6, 8] and followed.history.loss == [0.9, 0.8, 0.65, 0.6]


def test_junk_lines_in_the_log_do_not_stop_the_history(tmp_path):
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    sink.emit(_started())
    with open(path, "ab") as handle:
        handle.write(b'\xff\xfe\n{"type": "evaluation", "step": 1, "epoch": 1, "metrics": {"accuracy": []}}\n')
    sink.emit(_step(1))
    followed = FollowedRun(run_id="run-1", events_path=str(path))
    followed.poll()
    assert followed.history.step == [1] and followed.history.eval_step == []


MULTI = {"loss": 0.3, "macro_f1": 0.41, "micro_f1": 0.52, "subset_accuracy": 0.2, "macro_f1_at_0.5": 0.2,
         "per_label": {"joy": {"f1": 0.5}}, "labels": ["joy", "anger"], "count": 40}


def _task_started(task, labels=("joy", "anger", "love")):
    return Started(run_id="run-1", run_dir="/r", config={"task": task}, labels=list(labels), train_size=8,
                   validation_size=2, total_steps=10, steps_per_epoch=5, device="cpu", precision="no")


def test_the_live_chart_follows_the_metrics_a_multi_label_run_reports():
    history = TrainHistory().add([_task_started("multi_label"), Evaluation(step=5, epoch=1.0, metrics=MULTI)])
    assert history.task == "multi_label" and history.charted == ["macro_f1", "micro_f1"]
    assert history.eval_scores["micro_f1"] == [0.52] and "per_label" not in history.eval_scores
    assert "3 labels (any number per row)" in history.log[0]
    assert "macro F1 0.4100, micro F1 0.5200, validation loss 0.3000" in history.log[-1]


def test_a_regression_run_charts_pearson_and_rmse():
    metrics = {"loss": 0.5, "pearson": 0.8, "spearman": 0.79, "rmse": 0.7, "mae": 0.5, "r2": 0.6, "count": 9}
    history = TrainHistory().add([_task_started("regression", ["score"]),
                                  Evaluation(step=5, epoch=1.0, metrics=metrics)])
    assert history.charted == ["pearson", "rmse"] and "predicting the value of 'score'" in history.log[0]


def test_a_run_from_before_tasks_reads_as_single_label_with_accuracy_and_f1():
    history = TrainHistory().add([_started(), Evaluation(step=5, epoch=1.0, metrics={
        "loss": 0.6, "accuracy": 0.75, "macro_f1": 0.7})])
    assert history.task == "single_label" and history.charted == ["accuracy", "macro_f1"]
    assert "2 classes" in history.log[0]


def test_a_metric_missing_from_one_evaluation_leaves_a_gap_not_a_shifted_line():
    history = TrainHistory().add([_started(), Evaluation(step=5, epoch=1.0, metrics={"accuracy": 0.5}),
                                  Evaluation(step=10, epoch=2.0, metrics={"accuracy": 0.6, "macro_f1": 0.55})])
    assert history.eval_scores == {"accuracy": [0.5, 0.6], "macro_f1": [None, 0.55]}


def test_a_resumed_run_drops_the_replayed_evaluations_of_every_metric():
    resumed = _task_started("multi_label")
    resumed.resumed_from_step = 5
    history = TrainHistory().add([_task_started("multi_label"), Evaluation(step=5, epoch=1.0, metrics=MULTI),
                                  Evaluation(step=10, epoch=2.0, metrics=MULTI), resumed])
    assert history.eval_step == [5] and history.eval_scores["micro_f1"] == [0.52]


def test_a_run_set_to_auto_is_followed_as_the_task_its_data_json_records(tmp_path):
    (tmp_path / "data.json").write_text(json.dumps({"task": "multi_label"}), encoding="utf-8")
    JsonlSink(tmp_path / "events.jsonl").emit(_task_started("auto"))
    followed = FollowedRun(run_id="run-1", events_path=str(tmp_path / "events.jsonl"))
    followed.poll()
    assert followed.history.task == "multi_label" and "3 labels (any number per row)" in followed.history.log[0]


def test_the_task_a_started_event_names_wins_over_the_config_and_data_json(tmp_path):
    # data.json says otherwise on purpose: a follower that still asked it would read "regression".
    (tmp_path / "data.json").write_text(json.dumps({"task": "regression"}), encoding="utf-8")
    started = _task_started("auto")
    started.task = "multi_label"
    JsonlSink(tmp_path / "events.jsonl").emit(started)
    followed = FollowedRun(run_id="run-1", events_path=str(tmp_path / "events.jsonl"))
    followed.poll()
    assert followed.history.task == "multi_label" and followed.history.detected_task is None
    assert "3 labels (any number per row)" in followed.history.log[0]


# --- a run that adapts its model to the texts first (adapt_epochs) -----------------------------------

def test_adaptation_events_fold_into_their_own_series_before_the_fine_tuning(tmp_path):
    from adaptation_events import ADAPT_TOTAL, FINE_TOTAL, write_log

    followed = FollowedRun(run_id="x", events_path=str(write_log(tmp_path / "events.jsonl")))
    followed.poll()
    history, adaptation = followed.history, followed.history.adaptation
    assert adaptation.step == [10, 20, 30, 40] and adaptation.loss == [9.0, 8.0, 7.0, 6.0]
    assert adaptation.eval_step == [20, 40] and adaptation.eval_loss == [8.0, 6.5]
    assert [round(p, 1) for p in adaptation.eval_perplexity] == [2981.0, 665.1]
    assert adaptation.phase == "finished" and adaptation.total_steps == ADAPT_TOTAL
    assert adaptation.run_dir == "/runs/shot-adaptation"
    # The fine-tuning's own series hold its steps alone.
    assert history.step == [10, 20] and history.eval_step == [10, 20] and history.total_steps == FINE_TOTAL
    assert history.status == "finished" and not history.adapting
    log = "\n".join(history.log)
    assert "Adapting the model to your texts first (120 texts)." in log
    assert "Adapting, step 20/40: masked-LM loss 8.0000." in log
    assert "Adaptation validation at step 40: validation loss 6.5000, perplexity 665.14" in log
    assert log.index("Adaptation finished after 40 steps") < log.index("Started on cpu")


def test_while_adapting_the_run_is_running_at_the_adaptations_progress(tmp_path):
    from adaptation_events import fine_tuning, write_log

    path = write_log(tmp_path / "events.jsonl", fine_tune=False, end=False)
    followed = FollowedRun(run_id="x", events_path=str(path))
    followed.poll()
    history = followed.history
    assert history.adapting and not history.started and history.status == "running"
    assert history.progress == 0.5 and history.adaptation.phase == "evaluation"
    fine_tuning(JsonlSink(path))  # the adaptation's end is not needed for the fine-tuning to take over
    followed.poll()
    assert not history.adapting and history.progress == 1.0 and history.adaptation.step == [10, 20]


def test_a_stop_during_the_adaptation_ends_the_run_stopped_with_nothing_fine_tuned(tmp_path):
    from bertstudio.events import Adaptation, Notice

    from adaptation_events import adaptation

    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    adaptation(sink, end=False)
    # What the trainer writes when its adaptation was stopped (trainer._adaptation_ended).
    sink.emit(Adaptation(phase="stopped", run_dir="/runs/a", step=20, total_steps=40, loss=8.0, metrics={}))
    sink.emit(Notice(message="Stopped while adapting the model to your texts; nothing was fine-tuned.", step=0))
    sink.emit(Stopped(run_dir="/runs/x", step=0, metrics={}, elapsed_seconds=0.0))
    followed = FollowedRun(run_id="x", events_path=str(path))
    followed.poll()
    history = followed.history
    assert history.status == "stopped" and history.adaptation.phase == "stopped" and not history.adapting
    assert history.adaptation.step == [10, 20]
    assert [line[10:] for line in history.log[-3:]] == [
        "Adaptation stopped at step 20.", "Stopped while adapting the model to your texts; nothing was fine-tuned.",
        "Stopped before the fine-tuning began."]


def test_a_retried_adaptation_starts_its_series_again():
    from bertstudio.events import Adaptation

    first = [Adaptation(phase="started", run_dir="/a"), Adaptation(phase="step", run_dir="/a", step=5, loss=9.0),
             Adaptation(phase="failed", run_dir="/a", step=5, message="out of memory")]
    history = TrainHistory().add(first + [Adaptation(phase="started", run_dir="/b", total_steps=8),
                                          Adaptation(phase="step", run_dir="/b", step=2, total_steps=8, loss=9.5)])
    assert history.adaptation.run_dir == "/b" and history.adaptation.step == [2]
    assert history.progress == 0.25


def test_a_masked_lm_run_charts_perplexity_then_the_share_of_hidden_words_guessed():
    from adaptation_events import mlm_metrics, started

    history = TrainHistory().add([started("masked_lm", 40),
                                  Evaluation(step=20, epoch=1.0, metrics=mlm_metrics(5.0, 0.2))])
    assert history.charted == ["perplexity", "accuracy"] and history.adaptation is None
    assert "accuracy 0.2000, perplexity 148.4132, validation loss 5.0000" in history.log[-1]


def test_a_resumed_adapting_run_keeps_its_adaptation_and_its_steps_up_to_the_checkpoint(tmp_path):
    from dataclasses import replace

    from bertstudio.events import truncate_after_step

    from adaptation_events import FINE_TOTAL, started, step, write_log

    path = write_log(tmp_path / "events.jsonl")
    live = FollowedRun(run_id="x", events_path=str(path))
    live.poll()
    # Resuming from the checkpoint at step 10 cuts the log back there (the adaptation's steps
    # run to 40, yet they are not this run's) and carries on.
    truncate_after_step(path, 10)
    sink = JsonlSink(path)
    sink.emit(replace(started("single_label", FINE_TOTAL), resumed_from_step=10))
    sink.emit(step(20, 0.4, FINE_TOTAL))
    live.poll()
    history = live.history
    assert history.adaptation.step == [10, 20, 30, 40] and history.adaptation.phase == "finished"
    assert history.step == [10, 20] and history.loss[-1] == 0.4 and history.eval_step == [10]
