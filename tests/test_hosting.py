"""Hosted mode: limits from the environment, their checks, login, run ownership, kept uploads, clean-up."""

import os
import time
from pathlib import Path

import pytest

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.limits import MAX_TEXT_CHARS
from bertstudio.hosting import (HostingSettings, Sweeper, auth_from_env, forget_owner, keep_upload, limit_fields,
                                limits_table, owns, record_owner, recorded_owner, sweep)

REPO = Path(__file__).resolve().parents[1]


# --- the switch and the limits ------------------------------------------------------------------

def test_hosted_mode_is_off_by_default_and_then_checks_nothing():
    settings = HostingSettings.from_env({})
    assert settings.hosted is False and settings.max_upload_bytes is None and settings.max_run_seconds is None
    settings.check_model("/etc")
    settings.check_rows(10**9, "huge.csv")
    settings.check_config(TrainConfig(model="./my-model", epochs=50))


def test_one_switch_turns_hosted_mode_on_and_a_space_turns_it_on_by_itself():
    assert HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1"}).hosted
    assert HostingSettings.from_env({"SPACE_ID": "someone/bert-studio"}).hosted
    assert not HostingSettings.from_env({"SPACE_ID": "someone/bert-studio", "BERTSTUDIO_HOSTED": "0"}).hosted
    with pytest.raises(StudioError, match="BERTSTUDIO_HOSTED is 'maybe'"):
        HostingSettings.from_env({"BERTSTUDIO_HOSTED": "maybe"})


def test_every_limit_has_a_documented_default_and_its_own_variable():
    defaults = HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1"})
    assert (defaults.max_upload_mb, defaults.max_rows, defaults.max_epochs) == (10.0, 20_000, 5)
    assert defaults.max_upload_bytes == 10_000_000 and defaults.max_run_seconds == 20 * 60
    assert "bundled" in defaults.models
    env = {"BERTSTUDIO_HOSTED": "1", "BERTSTUDIO_MAX_UPLOAD_MB": "2.5", "BERTSTUDIO_MAX_ROWS": "500",
           "BERTSTUDIO_MAX_EPOCHS": "2", "BERTSTUDIO_MAX_RUN_MINUTES": "0.5", "BERTSTUDIO_MAX_QUEUE": "3",
           "BERTSTUDIO_TTL_HOURS": "1", "BERTSTUDIO_MODELS": "bundled, prajjwal1/bert-tiny",
           "BERTSTUDIO_MAX_TEXT_CHARS": "5000", "BERTSTUDIO_PROXY_HOPS": "2"}
    custom = HostingSettings.from_env(env)
    assert defaults.proxy_hops == 1 and custom.proxy_hops == 2
    assert custom.max_upload_bytes == 2_500_000 and custom.max_rows == 500 and custom.max_epochs == 2
    assert custom.max_run_seconds == 30 and custom.max_waiting == 3 and custom.ttl_seconds == 3600
    assert custom.models == ("bundled", "prajjwal1/bert-tiny")
    assert custom.text_limit == 5000 and defaults.text_limit == 100_000
    assert HostingSettings.from_env({"BERTSTUDIO_MAX_TEXT_CHARS": "5000"}).text_limit == MAX_TEXT_CHARS  # not hosted
    assert {spec.metadata["env"] for spec in limit_fields()} == set(env) - {"BERTSTUDIO_HOSTED"}


@pytest.mark.parametrize("name, value, message", [
    ("BERTSTUDIO_MAX_ROWS", "lots", "whole number"),
    ("BERTSTUDIO_MAX_EPOCHS", "2.5", "whole number"),
    ("BERTSTUDIO_MAX_UPLOAD_MB", "-1", "above 0"),
    ("BERTSTUDIO_TTL_HOURS", "nan", "above 0"),
    ("BERTSTUDIO_MODELS", "bundled,/srv/models/secret", "not local folders"),
    ("BERTSTUDIO_MODELS", "./mine", "not local folders"),
])
def test_a_mistyped_limit_is_refused_naming_the_variable(name, value, message):
    with pytest.raises(StudioError, match=message) as caught:
        HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1", name: value})
    assert caught.value.message.startswith(name)


def test_hosted_checks_refuse_other_models_local_folders_too_many_epochs_and_rows():
    hosted = HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1", "BERTSTUDIO_MODELS": "bundled"})
    hosted.check_model("bundled")
    for name in ("bert-base-uncased", str(REPO / "assets" / "bundled-bert"), "../../etc", ""):
        with pytest.raises(StudioError, match="offers only these models: bundled"):
            hosted.check_model(name)
    hosted.check_config(TrainConfig(model="bundled", epochs=5))
    with pytest.raises(StudioError, match="at most 5 epochs"):
        hosted.check_config(TrainConfig(model="bundled", epochs=6))
    hosted.check_rows(20_000, "ok.csv")
    with pytest.raises(StudioError, match="'big.csv' has 20,001 rows, more than the 20,000"):
        hosted.check_rows(20_001, "big.csv")


def test_the_readme_shows_every_limit_with_its_default():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert limits_table() in readme


def test_the_banner_facts_state_the_limits_in_force():
    facts = " ".join(HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1", "BERTSTUDIO_MAX_EPOCHS": "3"}).facts())
    assert "10 MB" in facts and "20,000 rows" in facts and "3 epochs" in facts and "24 hours" in facts


# --- login ----------------------------------------------------------------------------------------

def test_login_comes_from_a_user_list_or_a_single_user_and_is_off_without_either():
    assert auth_from_env({}) is None
    assert auth_from_env({"BERTSTUDIO_USERS": "alice:pw1, bob:p:w2"}) == [("alice", "pw1"), ("bob", "p:w2")]
    assert auth_from_env({"BERTSTUDIO_AUTH_USER": "carol", "BERTSTUDIO_AUTH_PASSWORD": "s3"}) == [("carol", "s3")]
    with pytest.raises(StudioError, match="alice:password1"):
        auth_from_env({"BERTSTUDIO_USERS": "alice"})
    with pytest.raises(StudioError, match="or neither"):
        auth_from_env({"BERTSTUDIO_AUTH_USER": "carol"})


def test_a_visitors_address_is_the_proxys_forwarded_client_when_hosted_and_unused_otherwise():
    from bertstudio.hosting import visitor_address

    hosted = HostingSettings(hosted=True)
    # The visitor sent "X-Forwarded-For: 1.2.3.4" himself; the Space's proxy appended the real address.
    proxied = {"X-Forwarded-For": "1.2.3.4, 203.0.113.7", "host": "x.hf.space"}
    assert visitor_address(hosted, proxied, "10.16.3.80") == "203.0.113.7"  # what the proxy wrote
    two_proxies = HostingSettings(hosted=True, proxy_hops=2)
    assert visitor_address(two_proxies, {"x-forwarded-for": "1.2.3.4, 203.0.113.7, 10.0.0.9"}, "10.0.0.2") == (
        "203.0.113.7")
    assert visitor_address(hosted, {"x-forwarded-for": " 198.51.100.2 "}, "10.0.0.1") == "198.51.100.2"
    assert visitor_address(hosted, {}, "192.0.2.1") == "192.0.2.1"  # no proxy in front: the peer
    assert visitor_address(hosted, {"x-forwarded-for": ""}, None) is None
    assert visitor_address(HostingSettings(), proxied, "10.16.3.80") is None  # a personal install


def test_the_banner_and_the_refusal_of_a_big_upload_state_the_same_number_and_unit():
    import re

    from bertstudio.data.tabular import read_table

    hosted = HostingSettings(hosted=True, max_upload_mb=10)
    banner = hosted.facts()[0]
    with pytest.raises(StudioError) as refused:
        read_table(b"text,label\n" + b"x,y\n" * 2_600_000, name="big.csv", max_bytes=hosted.max_upload_bytes)
    size = re.compile(r"(\d+(?:\.\d+)?) ?([KMG]i?B)\b")
    assert size.search(banner).groups() == size.search(refused.value.message).groups() == ("10", "MB")


# --- ownership -------------------------------------------------------------------------------------

def test_a_run_belongs_to_the_token_that_started_it_and_only_a_hash_is_stored(tmp_path):
    record_owner(tmp_path, "20240101-run-abc", "secret-token")
    assert owns(tmp_path, "20240101-run-abc", "secret-token")
    assert not owns(tmp_path, "20240101-run-abc", "other-token") and not owns(tmp_path, "20240101-run-abc", "")
    assert not owns(tmp_path, "never-recorded", "secret-token")
    assert "secret-token" not in recorded_owner(tmp_path, "20240101-run-abc")
    forget_owner(tmp_path, "20240101-run-abc")
    assert not owns(tmp_path, "20240101-run-abc", "secret-token")


def test_an_owner_record_cannot_be_written_or_read_outside_its_folder(tmp_path):
    runs = tmp_path / "runs"
    for run_id in ("../escape", "..", ".owners", "a/b", "a\\b", "x\x00y"):
        record_owner(runs, run_id, "token")
        assert not owns(runs, run_id, "token")
    assert not (tmp_path / "escape").exists() and not any(tmp_path.rglob("escape"))


# --- uploads and clean-up --------------------------------------------------------------------------

def test_an_upload_is_kept_by_content_so_identical_files_share_one_copy(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b" / "a.csv"
    second.parent.mkdir()
    first.write_text("text,label\nx,y\n")
    second.write_text("text,label\nx,y\n")
    kept = keep_upload(tmp_path / "uploads", first)
    assert kept.read_text() == "text,label\nx,y\n" and kept.name == "a.csv"
    assert keep_upload(tmp_path / "uploads", second) == kept
    assert len(list((tmp_path / "uploads").iterdir())) == 1


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(item, (old, old))


def _finished_run(runs: Path, run_id: str) -> Path:
    folder = runs / run_id
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "events.jsonl").write_text('{"type": "finished", "time": 0}\n')
    return folder


def test_runs_uploads_and_downloads_past_their_time_to_live_are_deleted_and_fresh_ones_kept(tmp_path):
    runs, downloads = tmp_path / "runs", tmp_path / "downloads"
    old, fresh, queued = _finished_run(runs, "old-run"), _finished_run(runs, "fresh-run"), "queued-run"
    record_owner(runs, "old-run", "t")
    record_owner(runs, queued, "t")
    _age(old, 7200)
    _age(runs / ".owners" / queued, 7200)
    upload = keep_upload(runs / ".uploads", _write(tmp_path / "u.csv"))
    _age(upload.parent, 7200)
    (downloads / "bertstudio-session-x").mkdir(parents=True)
    _age(downloads / "bertstudio-session-x", 7200)
    (downloads / "bertstudio-session-y").mkdir()

    removed = sweep(runs, 3600, busy=lambda run_id: run_id == queued, extra_dirs=[downloads])
    assert not old.exists() and fresh.exists() and not owns(runs, "old-run", "t")
    assert owns(runs, queued, "t")  # waiting in the queue: its record must outlive the TTL
    assert not upload.exists() and (runs / ".uploads").exists()
    assert not (downloads / "bertstudio-session-x").exists() and (downloads / "bertstudio-session-y").exists()
    assert set(removed) == {old, upload.parent, downloads / "bertstudio-session-x"}


def test_a_run_still_training_is_never_deleted_however_old(tmp_path):
    runs = tmp_path / "runs"
    folder = runs / "live-run"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "process.json").write_text(f'{{"pid": {os.getpid()}, "host": "{os.uname().nodename}"}}')
    _age(folder, 10**6)
    assert sweep(runs, 60) == [] and folder.exists()


def _write(path: Path) -> Path:
    path.write_text("text,label\nx,y\n")
    return path


def test_the_sweeper_cleans_at_once_then_every_interval_until_stopped():
    calls = []
    sweeper = Sweeper(lambda: calls.append(time.monotonic()), interval=0.05).start()
    deadline = time.monotonic() + 5
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    sweeper.stop()
    seen = len(calls)
    time.sleep(0.15)
    assert seen >= 3 and len(calls) == seen


def test_the_sweeper_survives_a_failing_clean_up(capsys):
    calls = []

    def clean():
        calls.append(1)
        raise OSError("No space left on device")

    sweeper = Sweeper(clean, interval=0.02).start()
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    sweeper.stop()
    assert len(calls) >= 2 and "will retry" in capsys.readouterr().out


def test_the_browsers_key_is_made_once_per_runs_folder_and_readable_only_by_the_app(tmp_path):
    from bertstudio.hosting import browser_secret

    first = browser_secret(tmp_path / "runs")
    assert first and len(first) >= 24 and browser_secret(tmp_path / "runs") == first  # the same after a restart
    assert (tmp_path / "runs" / ".browser-secret").stat().st_mode & 0o777 == 0o600
    assert browser_secret(tmp_path / "other") != first
