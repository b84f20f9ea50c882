"""Sign in with Hugging Face on a hosted page, in headless chromium: Start waits for sign-in, and a
signed-in visitor's run follows the account into a fresh browser.

Off a Space, gradio's own stand-in for the Space's OAuth signs a visitor in as whoever this
machine is logged in to the Hub as, which it asks the Hub at start-up; the test's app has no
network, so a `sitecustomize` beside it answers that one question with a fixed profile. Everything
else is the real page: gradio's LoginButton, its login routes and session cookie, BERT Studio's
handlers reading the profile.
"""

from __future__ import annotations

import re

import pytest

from browser_support import BROWSER_MARKS, keep_screenshot, launched_chromium, running_app
from browser_support import events_sent, open_tab, set_number, wait_for_the_files_settings, wait_until_quiet

pytestmark = BROWSER_MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright for Python")
expect = sync_api.expect
SLOW = 90_000
USERNAME = "studio-tester"

SITECUSTOMIZE = f'''
import time
import gradio.oauth

def _profile():
    return {{"access_token": "test-token", "token_type": "bearer", "expires_in": 3600, "id_token": "x",
             "scope": "openid profile", "expires_at": int(time.time()) + 3600,
             "userinfo": {{"sub": "1", "name": "Studio Tester", "preferred_username": "{USERNAME}",
                          "profile": "https://huggingface.co/{USERNAME}", "picture": "", "website": ""}}}}

gradio.oauth._get_mocked_oauth_info = _profile
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("signin")
    shim = folder / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {"BERTSTUDIO_RUNS_DIR": str(folder / "runs"), "GRADIO_TEMP_DIR": str(folder / "gradio"),
           "BERTSTUDIO_HOSTED": "1", "BERTSTUDIO_REQUIRE_SIGNIN": "1", "BERTSTUDIO_MODELS": "bundled",
           "BERTSTUDIO_MAX_EPOCHS": "30", "PYTHONPATH": str(shim)}
    with running_app(folder, env) as url:
        yield url, folder


@pytest.fixture(scope="module")
def browser():
    with launched_chromium(sync_api) as launched:
        yield launched


def _visitor(browser, url, address):
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  extra_http_headers={"X-Forwarded-For": address})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    expect(page.locator("#hosted-banner")).to_be_visible(timeout=SLOW)
    return context, page


def _sign_in(page):
    page.locator("#signin").click()
    expect(page.locator("#signin")).to_contain_text(USERNAME, timeout=SLOW)  # "Logout (studio-tester)"


def _load_example(page):
    page.locator("#data-example").click()
    expect(page.locator("#data-report")).to_contain_text("rows are usable", timeout=SLOW)


def test_start_waits_for_sign_in_and_a_signed_in_run_follows_the_account(server, browser, tmp_path):
    url, _ = server
    office = "203.0.113.9"
    # Not signed in: the data and the tokenizer work, Start is off and says why.
    anon, page = _visitor(browser, url, office)
    _load_example(page)
    open_tab(page, "Train")
    expect(page.locator("#train-start")).to_be_disabled(timeout=SLOW)
    expect(page.locator("#train-start-hint")).to_contain_text("Sign in with Hugging Face to train")

    # Signed in, from the same address: Start comes on and trains.
    signed, mine = _visitor(browser, url, office)
    sent = events_sent(mine)
    _sign_in(mine)
    _load_example(mine)
    open_tab(mine, "Hyperparameters")
    wait_for_the_files_settings(mine)
    # What the reload, the file and the model set off has landed: no preset answer on its way
    # comes back over the numbers typed below (CI saw the patience typed as 0 put back to 2).
    wait_until_quiet(mine, sent)
    set_number(mine, "cfg-epochs", 30)
    # Recommended stops early; this run must still train when the account comes back for it.
    if not mine.locator("#cfg-early_stopping_patience input[type=number]").first.is_visible():
        mine.get_by_text("Evaluation and early stopping", exact=True).click()
    set_number(mine, "cfg-early_stopping_patience", 0)
    set_number(mine, "cfg-batch_size", 4)
    open_tab(mine, "Train")
    expect(mine.locator("#train-start")).to_be_enabled(timeout=SLOW)
    mine.locator("#train-start").click()
    expect(mine.locator("#train-progress")).to_contain_text(re.compile(r"Training · step [1-9]"), timeout=SLOW)
    shot = tmp_path / "signin.png"
    mine.screenshot(path=str(shot), full_page=False)
    keep_screenshot(shot, "signin.png")

    # The anonymous browser at that address is still told to sign in, not held back by her run.
    page.reload()
    open_tab(page, "Train")
    expect(page.locator("#train-start-hint")).to_contain_text("Sign in with Hugging Face to train", timeout=SLOW)

    # A fresh browser (cleared storage), signed in again elsewhere: the same account's run is there.
    signed.close()
    again, later = _visitor(browser, url, "198.51.100.40")
    _sign_in(later)
    open_tab(later, "Train")
    expect(later.locator("#train-progress")).to_contain_text("Training · step", timeout=SLOW)
    expect(later.locator("#train-start")).to_be_disabled(timeout=SLOW)
    expect(later.locator("#train-start-hint")).to_contain_text("your run")
    later.locator("#train-stop").click()
    expect(later.locator("#train-progress")).to_contain_text("Stopped", timeout=SLOW)
    again.close()
    anon.close()
