"""The model picker offers the user's adapted models (finished continued-pretraining runs) after
the curated list, from a real tiny pretraining run."""

import json
import shutil
from pathlib import Path

import pytest

from adapted_support import make_adapted_runs
from bertstudio.hosting import record_owner
from bertstudio.models import CURATED_MODELS
from bertstudio.runs.lineage import adapted_runs
from bertstudio.ui import model_choices
from bertstudio.ui.session import BrowserMemory


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):
    return make_adapted_runs(tmp_path_factory.mktemp("adapted"), tiny_model_dir)


def test_only_finished_pretraining_runs_with_a_model_are_offered_after_the_curated_models(runs, tmp_path):
    folder = tmp_path / "runs"
    shutil.copytree(runs.runs_dir, folder)
    pre = folder / runs.pretrained.name
    assert [Path(r.path) for r in adapted_runs(folder)] == [pre]  # the fine-tuning run is no adapted model
    choices = model_choices.model_choices(None, folder)
    assert choices[:len(CURATED_MODELS)] == [(name, name) for name, _ in CURATED_MODELS]
    assert choices[len(CURATED_MODELS):] == [("Adapted to your texts: tickets (from tiny-bert0, 2 epochs)", str(pre))]
    # A run without its model (deleted by hand) is not offered.
    shutil.rmtree(pre / "model")
    assert model_choices.adapted_choices(folder) == []


def test_a_failed_pretraining_run_is_not_offered(runs, tmp_path):
    folder = tmp_path / "runs"
    shutil.copytree(runs.runs_dir, folder)
    events = folder / runs.pretrained.name / "events.jsonl"
    lines = events.read_text().splitlines()
    ending = json.loads(lines[-1])
    assert ending["type"] == "finished"
    events.write_text("\n".join(lines[:-1] + [json.dumps({"type": "failed", "message": "boom",
                                                            "time": ending.get("time", 0)})]) + "\n")
    from bertstudio.runs.folder import read_run

    assert read_run(folder / runs.pretrained.name).status == "failed"
    assert model_choices.adapted_choices(folder) == []


def test_the_value_is_the_run_folder_and_its_description_says_what_it_is(runs):
    from bertstudio.models import resolve_model

    (label, value), = model_choices.adapted_choices(runs.runs_dir)
    assert Path(resolve_model(value)) == runs.pretrained / "model"
    about = model_choices.model_description(value)
    data = json.loads((runs.pretrained / "data.json").read_text())
    texts = data["train_size"] + data["validation_size"]  # the fine-tuning run's validation rows left out
    assert texts == 36
    assert about.startswith("Your own model: tiny\\-bert0 adapted to your texts by continued pretraining")
    assert f"{texts} texts" in about
    assert "run tickets" in about and "perplexity" in about
    assert model_choices.model_description("bundled") != about
    assert "Hugging Face Hub" in model_choices.model_description("some/other-model")


def test_a_shared_deployment_with_an_allowed_list_offers_only_that_list(runs):
    assert model_choices.model_choices(("bundled",), runs.runs_dir) == [("bundled", "bundled")]
    update = model_choices.refresh(runs.runs_dir, ("bundled",), True, {})
    assert update["choices"] == [("bundled", "bundled")] and "value" not in update


def test_private_runs_offer_only_the_visitors_own_adapted_models(runs, tmp_path):
    folder = tmp_path / "runs"
    shutil.copytree(runs.runs_dir, folder)
    mine = BrowserMemory.from_value({}).with_owner()
    assert model_choices.refresh(folder, None, True, mine.to_value())["choices"] == model_choices.model_choices()
    record_owner(folder, runs.pretrained.name, mine.owner)
    offered = model_choices.refresh(folder, None, True, mine.to_value())["choices"]
    assert offered[-1][1] == str(folder / runs.pretrained.name)
    stranger = BrowserMemory.from_value({}).with_owner().to_value()
    assert model_choices.refresh(folder, None, True, stranger)["choices"] == model_choices.model_choices()
