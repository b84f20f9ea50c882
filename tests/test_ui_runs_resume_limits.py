"""Resume from the Runs tab counts against the same limits as Start on the Train tab: sign-in where
training needs it, one live run per account when signed in and per client address otherwise."""

import json
import time

import pytest

from bertstudio.accounts import account_owner
from bertstudio.config import TrainConfig
from bertstudio.events import Started
from bertstudio.hosting import HostingSettings, record_owner
from bertstudio.launch.base import Launch, Outcome
from bertstudio.ui import runs_tab
from bertstudio.worker import JobManager

KEY = "server-only-key"
OFFICE = "203.0.113.7"  # one address an office of visitors shares


class HeldLauncher:
    """Holds each run until it is asked to stop, training nothing: the runs stay live for as long
    as the test needs them to count."""

    def run(self, launch: Launch, sink, stop) -> Outcome:
        while not stop.requested:
            time.sleep(0.01)
        return Outcome("stopped")

    def force_stop(self, run_id: str) -> bool:
        return False

    def keeps_running_after_exit(self) -> bool:
        return False


def _interrupted_run(runs_dir, run_id, owner):
    """A run folder cut off mid-training (as tests/test_ui_runs_tab.py makes one), owned by `owner`."""
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True)
    config = TrainConfig(data=str(runs_dir / "train.csv"), model="bundled", output_dir=str(runs_dir))
    (run_dir / "config.json").write_text(config.to_json())
    started = Started(run_id=run_id, run_dir=str(run_dir), config=config.to_dict(), labels=["neg", "pos"],
                      train_size=20, validation_size=4, total_steps=9, steps_per_epoch=3, device="cpu",
                      precision="no")
    (run_dir / "events.jsonl").write_text(json.dumps(started.to_dict()) + "\n")
    (run_dir / "process.json").write_text(json.dumps({"pid": 2**22 + 12345, "host": "gone", "started": 0}))
    (run_dir / "checkpoint").mkdir()
    (run_dir / "checkpoint" / "trainer_state.json").write_text(
        json.dumps({"step": 0, "epoch": 0, "batches_done_in_epoch": 0}))
    record_owner(runs_dir, run_id, owner)
    return run_id


@pytest.fixture
def jobs():
    manager = JobManager(one_per_owner=True, launcher=HeldLauncher())
    yield manager
    manager.shutdown(timeout=30)


def _hosting(require_signin: bool) -> HostingSettings:
    return HostingSettings(hosted=True, require_signin=require_signin, account_key=KEY)


def test_resuming_needs_a_sign_in_where_training_does(tmp_path, jobs):
    run_id = _interrupted_run(tmp_path, "20260101-000000-a-000000000001", "browser-token")
    problem, button, memory, followed = runs_tab.resume(jobs, tmp_path, True, {"owner": "browser-token"}, run_id,
                                                         OFFICE, hosting=_hosting(require_signin=True))
    assert "Sign in with Hugging Face to train" in problem
    assert jobs.get(run_id) is None


def test_a_signed_in_visitor_resumes_beside_an_anonymous_run_from_the_same_address(tmp_path, jobs):
    anonymous = _interrupted_run(tmp_path, "20260101-000000-a-000000000001", "browser-token")
    alice = account_owner("alice", KEY)
    hers = _interrupted_run(tmp_path, "20260101-000000-b-000000000002", alice)
    hosting = _hosting(require_signin=False)

    problem, *_ = runs_tab.resume(jobs, tmp_path, True, {"owner": "browser-token"}, anonymous, OFFICE,
                                  hosting=hosting)
    assert "Resuming" in problem and jobs.get(anonymous).address == OFFICE  # counted by address
    problem, *_ = runs_tab.resume(jobs, tmp_path, True, {"owner": alice}, hers, OFFICE, hosting=hosting)
    assert "Resuming" in problem  # her runs count per account, not against the office's address
    assert jobs.get(hers).address is None


def test_a_second_anonymous_browser_at_the_same_address_may_not_resume_while_one_trains(tmp_path, jobs):
    first = _interrupted_run(tmp_path, "20260101-000000-a-000000000001", "first-browser")
    second = _interrupted_run(tmp_path, "20260101-000000-b-000000000002", "second-browser")
    hosting = _hosting(require_signin=False)

    problem, *_ = runs_tab.resume(jobs, tmp_path, True, {"owner": "first-browser"}, first, OFFICE, hosting=hosting)
    assert "Resuming" in problem
    problem, button, memory, followed = runs_tab.resume(jobs, tmp_path, True, {"owner": "second-browser"}, second,
                                                         OFFICE, hosting=hosting)
    assert "already have a run waiting or training" in problem and jobs.get(second) is None


def test_the_train_tabs_tick_keeps_start_off_for_a_visitor_who_has_not_signed_in(tmp_path, jobs):
    """The tick redraws the Start gate every second: it must count as Start does, or a visitor who
    has not signed in would see Start come back on a second after the page loaded."""
    from types import SimpleNamespace

    from bertstudio.ui.wiring import tick_handler

    objects = lambda request: SimpleNamespace(downloads_dir=lambda: tmp_path)  # noqa: E731
    request = SimpleNamespace(client=SimpleNamespace(host=OFFICE), headers={})
    on_tick = tick_handler(jobs, objects, _hosting(require_signin=True))
    start, hint = on_tick(None, {"owner": "browser-token"}, request)[-2:]
    assert start["interactive"] is False and "Sign in with Hugging Face" in hint["value"]
    on_tick = tick_handler(jobs, objects, _hosting(require_signin=False))
    assert on_tick(None, {"owner": "browser-token"}, request)[-2]["interactive"] is True
