"""Publishing a run to the Hub: the file set, the Hub card (its widget text from the user's own
data), the published settings, and every refusal in one sentence, all without the network; one
online test that skips where the Hub is off."""

import csv
import json
import os
import time

import pytest

from bertstudio.cli import main
from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.runs.publish import payload, push_run, upload_files, validation_example
from bertstudio.training.trainer import train
from conftest import LEARNABLE_SETTINGS


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir, learnable_rows):
    folder = tmp_path_factory.mktemp("publish")
    data = folder / "my reviews.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["text", "label"], *learnable_rows[:90]])
    config = TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(folder / "runs"), seed=7,
                         **{**LEARNABLE_SETTINGS, "epochs": 1})
    result = train(config, run_id="pub-run")
    assert result.status == "finished", result.message
    return folder / "runs" / "pub-run"


def _validation_texts(run_dir):
    with (run_dir / "validation_predictions.csv").open(encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def test_the_upload_is_the_model_tokenizer_card_and_the_runs_records_only(finished_run):
    files = dict((in_repo, local) for local, in_repo in upload_files(finished_run))
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", "bertstudio/config.json",
            "bertstudio/metrics.json", "bertstudio/environment.json"} <= set(files)
    assert files["config.json"] == finished_run / "model" / "config.json"  # the model's, at the root
    assert files["bertstudio/config.json"] == finished_run / "config.json"
    assert all(local.is_file() and local.is_relative_to(finished_run) for local in files.values())
    left_out = ("checkpoint", "events.jsonl", "data.json", "validation_predictions", "tracking", ".owners",
                "process.json")
    assert not [path for path in files if any(word in path for word in left_out)]


def test_the_hub_card_loads_from_the_repo_and_shows_a_validation_text_as_its_widget(finished_run):
    sent = dict(payload(finished_run, "someone/my-model"))
    card = sent["README.md"].decode("utf-8")
    front = card.split("---")[1]
    widget_line = next(line for line in front.splitlines() if line.startswith("- text: "))
    example = json.loads(widget_line[len("- text: "):])
    assert "widget:" in front.splitlines()
    assert example in _validation_texts(finished_run) and example == validation_example(finished_run)
    assert "model='someone/my-model'" in card and str(finished_run) not in card
    assert "bertstudio train --config bertstudio/config.json --data 'my reviews.csv'" in card
    # The card the run keeps locally is left as it was: it loads the model from the run folder.
    assert "widget:" not in (finished_run / "README.md").read_text(encoding="utf-8")


def test_the_published_settings_name_the_data_file_but_not_where_it_lies(finished_run):
    settings = json.loads(dict(payload(finished_run, "someone/m"))["bertstudio/config.json"])
    assert settings["data"] == "my reviews.csv" and settings["output_dir"] == "runs"
    assert TrainConfig.from_dict(settings).epochs == 1  # still a config a run can start from
    assert str(finished_run.parent) not in json.dumps(settings)


def test_a_formula_guarded_text_is_shown_as_the_user_wrote_it(tmp_path):
    (tmp_path / "validation_predictions.csv").write_text("text,label\n'=1+2 great,pos\n", encoding="utf-8")
    assert validation_example(tmp_path) == "=1+2 great"
    assert validation_example(tmp_path / "missing") is None


def test_a_run_that_has_not_finished_is_refused_before_any_network(finished_run, tmp_path):
    failed = tmp_path / "runs" / "failed-run"
    failed.mkdir(parents=True)
    (failed / "config.json").write_text((finished_run / "config.json").read_text())
    (failed / "events.jsonl").write_text(json.dumps({"type": "failed", "time": time.time(), "message": "x"}) + "\n")
    with pytest.raises(StudioError, match="is failed and has no saved model to publish"):
        push_run(failed, "someone/m", token="hf_test")
    with pytest.raises(StudioError, match="is not a run folder"):
        push_run(tmp_path, "someone/m", token="hf_test")


@pytest.mark.parametrize("name", ["two words", "a/b/c", "-start", ""])
def test_a_name_the_hub_would_refuse_is_said_plainly(finished_run, name):
    with pytest.raises(StudioError, match="is not a Hub repo name"):
        push_run(finished_run, name, token="hf_test")


def test_no_token_is_one_sentence_on_how_to_sign_in(finished_run, monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # no stored login either
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "token"))
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    monkeypatch.setattr(hub_constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "stored_tokens"))
    with pytest.raises(StudioError, match="No Hugging Face token was found; sign in with `hf auth login`"):
        push_run(finished_run, "someone/m")


def test_offline_mode_is_said_as_such(finished_run):
    # conftest sets HF_HUB_OFFLINE=1 before huggingface_hub is imported
    with pytest.raises(StudioError, match=r"set to work offline \(HF_HUB_OFFLINE=1\)"):
        push_run(finished_run, "someone/m", token="hf_test")


def test_an_unreachable_hub_is_one_plain_sentence_and_fast(finished_run, monkeypatch):
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    began = time.monotonic()
    with pytest.raises(StudioError, match="Cannot reach the Hugging Face Hub"):
        push_run(finished_run, "someone/m", token="hf_test")
    assert time.monotonic() - began < 30
    assert "hf_test" not in "".join(p.read_text(errors="ignore") for p in finished_run.rglob("*") if p.is_file()
                                    and p.stat().st_size < 1_000_000)


def test_the_cli_push_says_a_mistake_in_one_line_and_exits_2(finished_run, capsys):
    assert main(["push", str(finished_run), "--repo", "two words", "--public"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: 'two words' is not a Hub repo name")


@pytest.mark.skipif(os.environ.get("HF_HUB_OFFLINE") == "1" or not os.environ.get("BERTSTUDIO_HUB_TEST_REPO"),
                    reason="online: needs the Hub, a token and BERTSTUDIO_HUB_TEST_REPO")
def test_online_push_creates_a_private_repo_with_the_file_set(finished_run):
    from huggingface_hub import HfApi

    repo = os.environ["BERTSTUDIO_HUB_TEST_REPO"]
    url = push_run(finished_run, repo, private=True)
    assert repo in url
    listed = set(HfApi().list_repo_files(repo))
    assert {in_repo for _, in_repo in upload_files(finished_run)} <= listed
    assert HfApi().model_info(repo).private


def test_the_widget_example_stays_one_yaml_value_whatever_the_text_holds():
    import yaml

    from bertstudio.runs.modelcard import EXAMPLE_MAX_CHARS, widget_front_matter

    text = 'He said: "great" -- #1\n\t- not a list: ünïcode 😀 \\ end'
    parsed = yaml.safe_load("\n".join(widget_front_matter(text)))
    assert parsed == {"widget": [{"text": " ".join(text.split())}]}
    assert widget_front_matter(None) == [] and widget_front_matter("  \n ") == []
    long = yaml.safe_load("\n".join(widget_front_matter("word " * 500)))["widget"][0]["text"]
    assert len(long) == EXAMPLE_MAX_CHARS
