"""Signed-in visitors on a hosted Space: runs and limits follow the account, sign-in gates Start."""

import gradio as gr
import pytest

from bertstudio.accounts import ACCOUNT_PREFIX, account_of, account_owner, account_secret, owner_for
from bertstudio.errors import StudioError
from bertstudio.hosting import PRIVATE_NAMES, HostingSettings, owns, record_owner
from bertstudio.ui import train_tab
from bertstudio.ui.session import BrowserMemory
from test_ui_train_tab import form, gate, jobs, loaded, values  # noqa: F401  (fixtures and helpers)

KEY = "server-only-key"


def test_an_account_owner_is_sealed_by_the_server_and_cannot_be_made_up():
    alice = account_owner("alice", KEY)
    assert alice.startswith("hf:alice:") and account_of(alice, KEY) == "alice"
    for forged in ("hf:alice", "hf:alice:" + "0" * 32, account_owner("alice", "another-key"), "alice", "", None):
        assert account_of(forged, KEY) is None, forged
    assert account_of(alice, "") is None  # no key: nobody is signed in


def test_a_signed_in_visitor_is_the_same_owner_in_every_browser_and_after_clearing_one(tmp_path):
    key = account_secret(tmp_path)
    assert key == account_secret(tmp_path) and ".account-secret" in PRIVATE_NAMES  # kept, and never served
    laptop = BrowserMemory(owner="laptop-token", runs=["r1"]).for_visitor("alice", key)
    cleared = BrowserMemory.from_value({}).for_visitor("alice", key)
    assert laptop.owner == cleared.owner == account_owner("alice", key)
    assert laptop.runs == ["r1"]  # what this browser started before signing in is still listed
    record_owner(tmp_path, "r2", laptop.owner)
    assert owns(tmp_path, "r2", cleared.owner)  # the run is the account's, whatever the browser
    assert not owns(tmp_path, "r2", BrowserMemory(owner="laptop-token").owner)


def test_signing_out_leaves_the_accounts_runs_behind_and_a_forged_account_is_nobody():
    key = "k"
    signed_in = BrowserMemory(owner=account_owner("alice", key), run_id="r2", runs=["r2"])
    out = signed_in.for_visitor(None, key)
    assert not out.owner.startswith(ACCOUNT_PREFIX) and out.runs == [] and out.run_id is None
    assert not owner_for("hf:alice", None, key).startswith(ACCOUNT_PREFIX)
    assert owner_for("browser-token", None, key) == "browser-token"


def test_training_needs_sign_in_on_a_space_by_default_and_a_variable_or_flag_turns_it_off():
    assert HostingSettings.from_env({"SPACE_ID": "me/studio"}).require_signin
    assert not HostingSettings.from_env({"SPACE_ID": "me/studio", "BERTSTUDIO_REQUIRE_SIGNIN": "0"}).require_signin
    assert not HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1"}).require_signin  # hosted elsewhere: no OAuth
    assert HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1", "BERTSTUDIO_REQUIRE_SIGNIN": "yes"}).require_signin
    assert not HostingSettings.from_env({"BERTSTUDIO_REQUIRE_SIGNIN": "1"}).require_signin  # a laptop
    with pytest.raises(StudioError, match="BERTSTUDIO_REQUIRE_SIGNIN is 'maybe'"):
        HostingSettings.from_env({"SPACE_ID": "x", "BERTSTUDIO_REQUIRE_SIGNIN": "maybe"})
    assert "sign in with Hugging Face to train" in HostingSettings(hosted=True, require_signin=True).facts()


def test_the_app_flag_overrides_the_variable(monkeypatch, tmp_path):
    import app

    monkeypatch.setenv("SPACE_ID", "me/studio")
    off = app.settings_from(app.parse_args(["--no-require-signin", "--runs-dir", str(tmp_path)]))
    on = app.settings_from(app.parse_args(["--runs-dir", str(tmp_path)]))
    assert not off.hosting.require_signin and on.hosting.require_signin
    assert on.hosting.account_key == account_secret(tmp_path)  # the app seals accounts with its own key


def test_start_is_off_until_sign_in_and_the_server_refuses_it_too(form, loaded, jobs, tiny_model_dir):  # noqa: F811
    hosting = HostingSettings(hosted=True, require_signin=True, account_key=KEY,
                              models=("bundled", str(tiny_model_dir)))
    anonymous = gate(train_tab.start_gate(jobs, "browser-token", "203.0.113.7", hosting))
    assert anonymous["start"]["interactive"] is False
    assert anonymous["hint"]["value"] == "Sign in with Hugging Face to train."
    # A page (or a script) that presses Start anyway, with a made-up account owner.
    problem = train_tab.start(form, jobs, loaded, {"owner": "hf:alice"}, *values(form, tiny_model_dir),
                              hosting=hosting, address="203.0.113.7")[2]
    assert "Sign in with Hugging Face to train" in problem and not jobs.busy()
    alice = gate(train_tab.start_gate(jobs, account_owner("alice", KEY), "203.0.113.7", hosting))
    assert alice["start"]["interactive"] is True and alice["hint"]["visible"] is False


def test_limits_count_per_account_when_signed_in_and_per_address_otherwise(
        form, loaded, jobs, tiny_model_dir):  # noqa: F811
    hosting = HostingSettings(hosted=True, require_signin=False, account_key=KEY,
                              models=("bundled", str(tiny_model_dir)), max_epochs=30)
    office = "203.0.113.7"
    alice, bob = account_owner("alice", KEY), account_owner("bob", KEY)
    sent = values(form, tiny_model_dir, epochs=30)
    first, memory, problem, *_ = train_tab.start(form, jobs, loaded, {"owner": alice}, *sent,
                                                 hosting=hosting, address=office)
    assert problem == "" and first.run_id
    # Alice in another browser (cleared, signed in again): still her one run, whatever the address.
    elsewhere = gate(train_tab.start_gate(jobs, alice, "198.51.100.2", hosting))
    assert elsewhere["start"]["interactive"] is False and "your run" in elsewhere["hint"]["value"]
    # Bob, signed in behind the same office address, may train; an anonymous browser there too,
    # since Alice's run counts under her account, not the address.
    assert gate(train_tab.start_gate(jobs, bob, office, hosting))["start"]["interactive"] is True
    assert gate(train_tab.start_gate(jobs, "anon-token", office, hosting))["start"]["interactive"] is True
    second, *_ = train_tab.start(form, jobs, loaded, {"owner": "anon-token"}, *values(form, tiny_model_dir),
                                 hosting=hosting, address=office)
    # A second anonymous browser at that address is now held back by the first one's run.
    other = gate(train_tab.start_gate(jobs, "anon-2", office, hosting))
    assert other["start"]["interactive"] is False and "network address" in other["hint"]["value"]
    train_tab.stop(jobs, first, memory)
    jobs.wait(second.run_id, timeout=120)
    jobs.wait(first.run_id, timeout=120)


def test_signing_in_hands_the_browsers_earlier_runs_to_the_account_but_not_a_live_one(tmp_path):
    from bertstudio.accounts import claim_runs

    alice = account_owner("alice", KEY)
    for run_id in ("done", "live"):
        record_owner(tmp_path, run_id, "browser-token")
    record_owner(tmp_path, "bobs", "bob-token")
    claimed = claim_runs(tmp_path, ["done", "live", "bobs", "gone"], "browser-token", alice,
                         busy=lambda run_id: run_id == "live")
    assert claimed == ["done"] and owns(tmp_path, "done", alice)
    assert owns(tmp_path, "live", "browser-token") and owns(tmp_path, "bobs", "bob-token")
