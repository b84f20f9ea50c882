"""The Runs tab's publish control: offered for a run with a model, hosted only to a signed-in visitor."""

import csv
from pathlib import Path

import pytest

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.training.trainer import train
from bertstudio.ui import runs_publish


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("publish")
    data = folder / "train.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([f"{'good' if i % 2 else 'bad'} {i}", "pos" if i % 2 else "neg"] for i in range(16))
    result = train(TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(folder / "runs"), epochs=1,
                               batch_size=8, max_length=16, run_name="my spam filter!"))
    assert result.status == "finished", result.message
    return folder / "runs", Path(result.run_dir).name


@pytest.mark.parametrize("repo", ["", "a/b/c", "bad name", "../x", "/x"])
def test_a_repository_name_the_hub_refuses_is_refused_here_in_a_sentence(repo):
    with pytest.raises(StudioError, match="Type a repository name"):
        runs_publish.check_repo(repo)


def test_a_plain_or_owned_repository_name_passes():
    assert runs_publish.check_repo(" me/my-model.v2 ") == "me/my-model.v2"
    assert runs_publish.check_repo("model_1") == "model_1"


def test_the_suggested_name_is_made_of_the_run_name_in_the_hubs_characters():
    assert runs_publish.suggested_repo("20260101-abcdef123456", "my spam filter!") == "my-spam-filter"
    assert runs_publish.suggested_repo("20260101-abcdef123456", None) == "bertstudio-abcdef123456"


def test_hosted_the_control_shows_only_to_a_signed_in_visitor(run):
    runs_dir, run_id = run
    group, repo, _ = runs_publish.view(runs_dir, False, True, {}, run_id, signed_in=False)
    assert group["visible"] is False
    group, repo, _ = runs_publish.view(runs_dir, False, True, {}, run_id, signed_in=True)
    assert group["visible"] is True and repo == "my-spam-filter"
    group, _, _ = runs_publish.view(runs_dir, False, False, {}, run_id, signed_in=False)  # a personal install
    assert group["visible"] is True


def test_a_run_without_a_model_offers_no_publishing(run):
    runs_dir, _ = run
    assert runs_publish.view(runs_dir, False, False, {}, "no-such-run", signed_in=True)[0]["visible"] is False
    assert runs_publish.may_publish(hosted=False, signed_in=True, has_model=False) is False


def test_hosted_a_visitor_without_a_token_cannot_publish_with_the_servers(run):
    runs_dir, run_id = run
    said = runs_publish.publish(runs_dir, False, True, {}, run_id, "me/model", True, token=None)
    assert "Sign in with Hugging Face first" in said


def test_a_bad_repository_name_is_refused_before_any_upload(run):
    runs_dir, run_id = run
    assert "Type a repository name" in runs_publish.publish(runs_dir, False, False, {}, run_id, "a b", True, None)


def test_the_published_address_is_a_link_only_when_it_is_a_web_address():
    assert '<a href="https://huggingface.co/me/m"' in runs_publish.published_html("https://huggingface.co/me/m", True)
    assert "<a" not in runs_publish.published_html("javascript:alert(1)", False)
