"""Runs tab handlers: list runs, open one (charts rebuilt from its events), delete one."""

import csv

import pytest

from bertstudio.config import TrainConfig
from bertstudio.trainer import train
from bertstudio.ui import runs_tab
from bertstudio.ui.session import SessionObjects

DETAIL = ["detail", "summary", "loss", "metrics", "confusion", "per_class", "settings", "downloads", "confirm",
          "problem"]


@pytest.fixture
def runs_dir(tmp_path, tiny_model_dir):
    data = tmp_path / "train.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(24):
            writer.writerow([f"{'good' if i % 2 else 'bad'} {i}", "pos" if i % 2 else "neg"])
    for name in ("first", "second"):
        result = train(TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(tmp_path / "runs"),
                                   epochs=1, batch_size=8, max_length=16, logging_steps=1, run_name=name))
        assert result.status == "finished", result.message
    return tmp_path / "runs"


@pytest.fixture
def objects():
    made = SessionObjects()
    yield made
    made.close()


def ids(runs_dir):
    return sorted(p.name for p in runs_dir.iterdir())


def test_every_run_is_listed_newest_first_with_its_status(runs_dir):
    table, picker = runs_tab.refresh(runs_dir, False, {}, None)
    assert [row[-1] for row in table["data"]] == sorted(ids(runs_dir), reverse=True)
    assert {row[1] for row in table["data"]} == {"finished"}
    assert picker["value"] is None and len(picker["choices"]) == 2


def test_a_shared_deployment_lists_only_the_browsers_own_runs(runs_dir):
    mine = ids(runs_dir)[0]
    table, _ = runs_tab.refresh(runs_dir, True, {"owner": "o", "runs": [mine]}, None)
    assert [row[-1] for row in table["data"]] == [mine]


def test_opening_a_run_rebuilds_its_charts_and_shows_its_settings(runs_dir, objects):
    run_id = ids(runs_dir)[0]
    out = dict(zip(DETAIL, runs_tab.open_run(runs_dir, False, objects.downloads_dir, {}, run_id)))
    assert out["detail"]["visible"] is True and "Finished" in out["summary"]
    assert len(out["loss"].data[0].x) >= 1
    settings = dict(out["settings"]["data"])
    assert settings["Epochs"] == "1" and settings["Training data"] == "train.csv"
    assert any(path.endswith("model.zip") for path in out["downloads"])


def test_deleting_asks_first_then_removes_the_run_and_forgets_it(runs_dir):
    run_id = ids(runs_dir)[0]
    confirm, problem = runs_tab.ask_delete(run_id)
    assert confirm["visible"] is True and problem == ""
    memory = {"owner": "o", "run_id": run_id, "runs": [run_id]}
    problem, confirm, detail, memory = runs_tab.delete(runs_dir, False, memory, run_id)
    assert problem == "" and run_id not in ids(runs_dir) and memory["runs"] == [] and memory["owner"] == "o"


def test_a_run_outside_the_browsers_own_cannot_be_deleted_on_a_shared_deployment(runs_dir):
    run_id = ids(runs_dir)[0]
    problem, *_ = runs_tab.delete(runs_dir, True, {"owner": "o", "runs": []}, run_id)
    assert "Pick one of your runs" in problem and run_id in ids(runs_dir)


def test_a_path_instead_of_a_run_id_is_refused(runs_dir, objects):
    out = dict(zip(DETAIL, runs_tab.open_run(runs_dir, False, objects.downloads_dir, {}, "../..")))
    assert out["detail"]["visible"] is False and "no longer there" in out["problem"]
