"""bertstudio.search: the space from TrainConfig's metadata, trials as ordinary runs, pruning, the time
budget, the stop, the search folder, and `bertstudio search` on the command line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bertstudio.cli import main
from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.events import Evaluation, Notice, Started, Stopped, read_events
from bertstudio.search.record import BEST_CONFIG_FILE, BEST_FILE, SEARCH_FILE, TRIALS_FILE
from bertstudio.search.space import apply_params, search_space
from bertstudio.search.study import TrialStop, _TrialSink, run_search
from bertstudio.training.loop import StopControl

# A trial here is one short epoch of a 2-layer BERT over 90 rows, so a search of three takes seconds
# of computation; what is checked is the search's bookkeeping, not what the model learns.
QUICK = dict(max_length=16, epochs=1, batch_size=16, logging_steps=1)


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory, learnable_rows) -> Path:
    path = tmp_path_factory.mktemp("search-data") / "small.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["text", "label"], *learnable_rows[:90]])
    return path


def quick_config(data: Path, model: Path, output_dir: Path, **changes) -> TrainConfig:
    return TrainConfig(data=str(data), model=str(model), output_dir=str(output_dir), **{**QUICK, **changes})


def events_of(run_dir: str) -> list:
    return read_events(Path(run_dir) / "events.jsonl")[0]


# --- the space ---------------------------------------------------------------------------------


def test_space_comes_from_the_metadata_learning_rate_on_a_log_scale_batch_size_as_choices():
    dims = {d.name: d for d in search_space()}
    assert set(dims) == {"learning_rate", "batch_size", "weight_decay", "epochs", "warmup_ratio"}
    assert dims["learning_rate"].kind == "float" and dims["learning_rate"].log
    assert (dims["learning_rate"].low, dims["learning_rate"].high) == (1e-5, 5e-4)
    assert dims["batch_size"].kind == "choice" and dims["batch_size"].choices == (8, 16, 32)
    assert dims["epochs"].kind == "int" and (dims["epochs"].low, dims["epochs"].high) == (2, 10)
    assert dims["weight_decay"].kind == "float" and not dims["weight_decay"].log


def test_fixed_settings_are_left_out_and_the_seed_is_searched_only_when_asked():
    names = [d.name for d in search_space(fixed={"epochs", "batch_size"})]
    assert "epochs" not in names and "batch_size" not in names and "seed" not in names
    assert "seed" in [d.name for d in search_space(search_seed=True)]
    assert "seed" not in [d.name for d in search_space(fixed={"seed"}, search_seed=True)]


def test_fixing_every_searched_setting_leaves_nothing_to_search():
    with pytest.raises(StudioError, match="nothing to search"):
        search_space(fixed={"learning_rate", "batch_size", "weight_decay", "epochs", "warmup_ratio"})


def test_sampled_values_land_in_the_range_and_make_a_valid_config():
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    dims = search_space()
    for _ in range(20):
        trial = study.ask()
        config = apply_params(TrainConfig(), {d.name: d.suggest(trial) for d in dims})
        assert 1e-5 <= config.learning_rate <= 5e-4 and config.batch_size in (8, 16, 32)
        assert 2 <= config.epochs <= 10 and 0 <= config.warmup_ratio <= 0.2
        assert round(config.weight_decay * 100) == pytest.approx(config.weight_decay * 100)  # in 0.01 steps
        assert config.learning_rate == float(f"{config.learning_rate:.2g}")  # what the studio's slider holds
        study.tell(trial, 0.0)


# --- pruning, fed controlled values --------------------------------------------------------------


def test_the_median_rule_stops_a_trial_behind_the_completed_ones_and_notes_it_in_its_run(tmp_path):
    import optuna

    from bertstudio.search.study import PRUNER_STARTUP_TRIALS, PRUNER_WARMUP_EVALUATIONS

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_EVALUATIONS))
    for _ in range(2):  # two completed trials at 0.80, 0.90, 0.95 after each evaluation
        done = study.ask()
        for k, value in enumerate((0.80, 0.90, 0.95), start=1):
            done.report(value, step=k)
        study.tell(done, 0.95)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    stop, heard = TrialStop(StopControl(), None), []
    sink = _TrialSink(study.ask(), "macro_f1", stop, type("Sink", (), {"emit": lambda self, e: heard.append(e)})())
    sink.emit(Started(run_id="run", run_dir=str(run_dir), config={}, labels=["a", "b"], train_size=9,
                      validation_size=3, total_steps=30, steps_per_epoch=10, device="cpu", precision="no"))
    sink.emit(Evaluation(step=10, epoch=1.0, metrics={"macro_f1": 0.30}))
    assert not stop.requested  # the first evaluation is never judged: warmup is not over
    sink.emit(Evaluation(step=20, epoch=2.0, metrics={"macro_f1": 0.40}))
    assert stop.requested and stop.pruned
    notices = [e for e in events_of(str(run_dir)) if isinstance(e, Notice)]
    assert len(notices) == 1 and "behind the other trials" in notices[0].message
    assert isinstance(heard[-1], Notice)


def test_a_trial_level_with_the_others_is_not_stopped(tmp_path):
    import optuna

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(2, 2))
    for _ in range(2):
        done = study.ask()
        done.report(0.5, step=1)
        done.report(0.6, step=2)
        study.tell(done, 0.6)
    stop = TrialStop(StopControl(), None)
    sink = _TrialSink(study.ask(), "macro_f1", stop, type("Sink", (), {"emit": lambda self, e: None})())
    sink.emit(Started(run_id="run", run_dir=str(tmp_path), config={}, labels=["a", "b"], train_size=9,
                      validation_size=3, total_steps=30, steps_per_epoch=10, device="cpu", precision="no"))
    for step, value in ((10, 0.5), (20, 0.7)):
        sink.emit(Evaluation(step=step, epoch=step / 10, metrics={"macro_f1": value}))
    assert not stop.requested


# --- searches that train ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_search(tmp_path_factory, small_csv, tiny_model_dir):
    """`bertstudio search` with three trials, the epochs fixed by a flag: (exit code, stdout, stderr, runs folder)."""
    runs = tmp_path_factory.mktemp("search-runs")
    capture = pytest.MonkeyPatch()
    import io
    import sys

    out, err = io.StringIO(), io.StringIO()
    capture.setattr(sys, "stdout", out)
    capture.setattr(sys, "stderr", err)
    try:
        code = main(["search", "--data", str(small_csv), "--model", str(tiny_model_dir), "--trials", "3",
                     "--epochs", "1", "--max-length", "16", "--logging-steps", "1", "--output-dir", str(runs)])
    finally:
        capture.undo()
    return code, out.getvalue(), err.getvalue(), runs


def test_a_search_of_three_trials_records_every_trial_and_prints_the_best_run_last(cli_search):
    code, out, err, runs = cli_search
    assert code == 0, err
    (folder,) = runs.glob("search-*")
    record = json.loads((folder / SEARCH_FILE).read_text())
    assert record["status"] == "finished" and record["metric"] == "macro_f1"
    assert record["fixed"] == {"epochs": 1} and "epochs" not in [d["name"] for d in record["space"]]
    assert record["sampler"]["name"] == "TPESampler" and record["pruner"]["name"] == "MedianPruner"
    trials = record["trials"]
    assert [t["number"] for t in trials] == [1, 2, 3]
    for trial in trials:
        assert trial["state"] == "complete" and isinstance(trial["value"], float) and trial["seconds"] > 0
        assert set(trial["params"]) == {"learning_rate", "batch_size", "weight_decay", "warmup_ratio"}
        run_config = json.loads((Path(trial["run_dir"]) / "config.json").read_text())
        assert run_config["epochs"] == 1 and run_config["learning_rate"] == trial["params"]["learning_rate"]
    assert len({t["params"]["learning_rate"] for t in trials}) == 3  # the sampler tried different settings
    with (folder / TRIALS_FILE).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["number"] for r in rows] == ["1", "2", "3"] and rows[0]["run_dir"] == trials[0]["run_dir"]
    best = json.loads((folder / BEST_FILE).read_text())
    assert best["number"] == record["best_number"]
    assert best["value"] == max(t["value"] for t in trials)
    assert out.strip().splitlines()[-1] == best["run_dir"]
    assert "trial 3/3" in err and "best: trial" in err


def test_the_best_config_re_runs_to_the_best_trials_result(cli_search):
    from bertstudio.training.trainer import train

    runs = cli_search[3]
    (folder,) = runs.glob("search-*")
    best = json.loads((folder / BEST_FILE).read_text())
    config = TrainConfig.load(folder / BEST_CONFIG_FILE)
    trial_config = json.loads((Path(best["run_dir"]) / "config.json").read_text())
    assert {**config.to_dict(), "run_name": None} == {**trial_config, "run_name": None}
    rerun = train(config.replace(output_dir=str(runs / "rerun")))
    assert rerun.status == "finished"
    trial_metrics = json.loads((Path(best["run_dir"]) / "metrics.json").read_text())
    assert rerun.metrics["loss"] == pytest.approx(trial_metrics["loss"], rel=1e-5)
    assert rerun.metrics["macro_f1"] == pytest.approx(best["value"])


def test_a_pruned_trial_ends_stopped_with_its_model_and_is_recorded_pruned(tmp_path, small_csv, tiny_model_dir):
    import optuna

    # A pruner that stops anything under 0.99 macro-F1 from the first evaluation on: the untrained
    # model of the first of three epochs is always under it.
    config = quick_config(small_csv, tiny_model_dir, tmp_path, epochs=3)
    result = run_search(config, trials=1, fixed={"epochs"}, pruner=optuna.pruners.ThresholdPruner(lower=0.99))
    (trial,) = result.trials
    assert trial.state == "pruned" and trial.value is not None
    events = events_of(trial.run_dir)
    assert any(isinstance(e, Notice) and "search stopped this run" in e.message for e in events)
    assert isinstance(events[-1], Stopped)
    assert (Path(trial.run_dir) / "model" / "config.json").is_file()
    record = json.loads((Path(result.search_dir) / SEARCH_FILE).read_text())
    assert record["trials"][0]["state"] == "pruned"
    assert result.best is not None and result.best.number == 1  # no complete trial: the best cut-short one


def test_a_clearly_worse_trial_is_pruned_by_the_median_rule(tmp_path, small_csv, tiny_model_dir):
    import optuna

    # Two trials that learn, then one that cannot (a learning rate of 1e-6): the third is behind the
    # other two once they have learned and is stopped there; the first two complete. The tiny model
    # stays near chance for its first four epochs (loss ln 3 +- 0.0008, noise that decided this test
    # when it was four epochs long), then falls to ~0.8 by the eighth; the pruner waits for that.
    good = {"learning_rate": 1e-3, "batch_size": 8, "weight_decay": 0.0, "warmup_ratio": 0.0}
    bad = {**good, "learning_rate": 1e-6}
    # Watched on the validation loss: at 1e-6 it stays where it started while the others' falls,
    # so "behind" is strict (on macro-F1 this tiny model can tie at chance after two epochs).
    config = quick_config(small_csv, tiny_model_dir, tmp_path, epochs=8, metric_for_best="loss")
    result = run_search(config, trials=3, fixed={"epochs"}, first_trials=[good, good, bad],
                        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=5))
    assert [t.state for t in result.trials] == ["complete", "complete", "pruned"], result.trials
    assert result.trials[2].params["learning_rate"] == 1e-6
    assert result.best.number in (1, 2)


def test_no_trial_starts_after_the_time_budget_and_the_running_one_is_stopped(tmp_path, small_csv, tiny_model_dir):
    # Loading the data and the model alone takes longer than a fifth of a second.
    config = quick_config(small_csv, tiny_model_dir, tmp_path, epochs=3)
    result = run_search(config, trials=3, time_budget_seconds=0.2, fixed={"epochs"})
    assert result.status == "out_of_time"
    (trial,) = result.trials
    assert trial.state == "stopped" and "time budget" in trial.note
    assert isinstance(events_of(trial.run_dir)[-1], Stopped)
    record = json.loads((Path(result.search_dir) / SEARCH_FILE).read_text())
    assert record["status"] == "out_of_time" and len(record["trials"]) == 1


def test_stopping_the_search_ends_the_current_trial_and_starts_no_other(tmp_path, small_csv, tiny_model_dir):
    from bertstudio.search.events import SearchFinished, TrialEnded, TrialStarted

    stop, heard = StopControl(), []

    class StopOnFirstTrial:
        def emit(self, event):
            heard.append(event)
            if isinstance(event, TrialStarted):
                stop.request()

    result = run_search(quick_config(small_csv, tiny_model_dir, tmp_path, epochs=3), trials=3, fixed={"epochs"},
                        sink=StopOnFirstTrial(), stop=stop)
    assert result.status == "stopped" and [t.state for t in result.trials] == ["stopped"]
    assert "search was stopped" in result.trials[0].note
    ended = [e for e in heard if isinstance(e, TrialEnded)]
    assert len(ended) == 1 and ended[0].run_dir == result.trials[0].run_dir
    assert isinstance(heard[-1], SearchFinished) and heard[-1].status == "stopped"


def test_a_wrong_column_fails_before_any_trial_and_leaves_no_search_folder(tmp_path, small_csv, tiny_model_dir):
    config = quick_config(small_csv, tiny_model_dir, tmp_path, label_column="nope")
    with pytest.raises(StudioError, match="nope"):
        run_search(config, trials=2)
    assert list(tmp_path.iterdir()) == []


def test_a_search_needs_a_trial_count_or_a_time_budget(tmp_path, small_csv, tiny_model_dir):
    with pytest.raises(StudioError, match="number of trials"):
        run_search(quick_config(small_csv, tiny_model_dir, tmp_path))


# --- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize("problem", ["missing file", "wrong column", "seed twice"])
def test_bad_input_is_one_error_line_and_exit_2(capsys, tmp_path, small_csv, tiny_model_dir, problem):
    args = ["search", "--data", str(small_csv), "--model", str(tiny_model_dir), "--trials", "2",
            "--output-dir", str(tmp_path / "runs")]
    if problem == "missing file":
        args[2] = str(tmp_path / "missing.csv")
    elif problem == "wrong column":
        args += ["--text-column", "nope"]
    else:
        args += ["--seed", "3", "--search-seed"]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
