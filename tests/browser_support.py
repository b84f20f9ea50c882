"""What the browser tests share: chromium's launch settings, `python app.py` on a free port, and the
two moves a person makes most (switch tab, type into a number box)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
BUNDLED = REPO / "assets" / "bundled-bert"

# Every wait is on what the page shows, never on the clock: a Playwright expectation polls until it
# holds. Its own default (5 s) is a guess about the machine; on a busy one (two cores shared by a
# training, the tokenizer and chromium) a data report took longer, so the default is generous, and
# a check that passes arrives as soon as the page does.
EXPECT_TIMEOUT_MS = 90_000
STARTUP_CEILING_S = 600

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SLOW_SELF_CHECK = "When localhost is not accessible"
READY_LINE = "To create a public link"  # gradio prints it once its self-check has passed
STARTS = 3


def _answers(url: str, process: subprocess.Popen, log: Path) -> bool:
    """Whether the app serves its page and has passed gradio's own start-up check (it prints how
    to share the page after that check), before the process exits. The ceiling is only a ceiling:
    the loop ends as soon as both hold; a busy machine takes minutes to import torch."""
    deadline = time.monotonic() + STARTUP_CEILING_S
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if READY_LINE in log.read_text():
                urllib.request.urlopen(url, timeout=2)
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


@contextlib.contextmanager
def running_app(folder: Path, env: dict[str, str]) -> Iterator[str]:
    """`python app.py` on a free port with the bundled model, `env` added to this process's own
    environment; yields the page's URL and stops the app afterwards. Its log is folder/app.log."""
    if not (BUNDLED / "config.json").exists():
        pytest.fail("the bundled model (assets/bundled-bert) is missing; build it with scripts/build_bundled_model.py")
    # One torch thread in the app and the runs it launches: chromium and the other test worker hold
    # the second core, and two threads on one free core wait on each other at every operation
    # (a run measured 2 steps/s so, against 27 alone). The tests follow runs; they time nothing.
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1",
                **env}
    full_env.pop("SPACE_ID", None)  # a Space's own id would switch hosted mode on behind the test's back
    with open(folder / "app.log", "w") as log:
        for attempt in range(1, STARTS + 1):
            port = free_port()
            process = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO, env=full_env,
                                       stdout=log, stderr=subprocess.STDOUT)
            url = f"http://127.0.0.1:{port}/"
            if _answers(url, process, folder / "app.log"):
                break
            process.kill()
            process.wait()
            text = (folder / "app.log").read_text()
            # Gradio pings its own page with a 3 s timeout before serving and gives up when a
            # loaded machine answers slower: that start, and only that, is tried again.
            if SLOW_SELF_CHECK not in text or attempt == STARTS:
                pytest.fail(f"app.py did not come up:\n{text[-3000:]}")
        try:
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@contextlib.contextmanager
def launched_chromium(sync_api) -> Iterator:
    sync_api.expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def wait_for_the_files_settings(page, timeout_ms: int = EXPECT_TIMEOUT_MS) -> None:
    """On the Hyperparameters tab, until the Recommended preset has answered the file the Data tab
    loaded last: its reasons under the presets name that file's usable rows. Its answer sets the
    form's epochs and learning rate, so a test that types settings waits for it, as a person sees
    the values land before changing them. Matching the row count matters when a page loads a second
    file: the first file's reasons are already there, and the second answer is still on its way."""
    import re

    from playwright import sync_api

    sync_api.expect(page.locator("#data-report")).to_contain_text("rows are usable", timeout=timeout_ms)
    report = page.locator("#data-report").inner_text()
    usable = re.search(r"([\d,]+) of [\d,]+ rows are usable", report).group(1)
    help_text = page.locator("#hp-preset-help")
    sync_api.expect(help_text).to_contain_text("Why Recommended sets these for your file", timeout=timeout_ms)
    sync_api.expect(help_text).to_contain_text(f"measured for {usable} rows", timeout=timeout_ms)


def wait_for_loss_points(page, at_least: int, timeout_ms: int = 120_000) -> None:
    """Until the Train tab's loss chart holds `at_least` points, as plotly has drawn them."""
    page.wait_for_function("""n => {
        const plot = document.querySelector('#train-loss .js-plotly-plot');
        return !!(plot && plot.data && plot.data.length && plot.data[0].x.length >= n);
    }""", arg=at_least, timeout=timeout_ms)


def wait_for_stored_change(page, key: str, before: str | None, timeout_ms: int = EXPECT_TIMEOUT_MS) -> None:
    """Until the browser's localStorage entry `key` (a gr.BrowserState) differs from `before`:
    what the page remembers has been written."""
    page.wait_for_function("([key, before]) => localStorage.getItem(key) !== before", arg=[key, before],
                           timeout=timeout_ms)


def set_number(page, elem_id: str, value) -> None:
    """Type into a slider's or number box's own number field, as a person would."""
    box = page.locator(f"#{elem_id} input[type=number]").first
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def events_sent(page) -> list[float]:
    """The times the page sends an event to the server (a queue join), from now on."""
    sent: list[float] = []
    page.on("request", lambda r: sent.append(time.monotonic()) if "queue/join" in r.url else None)
    return sent


def wait_until_quiet(page, requests: list[float], quiet_s: float = 2.0, timeout_s: float = 300) -> None:
    """Until the page has sent no event to the server for `quiet_s` (its own requests, counted by
    `events_sent` or the caller's listener). Not the network going idle: gradio keeps a heartbeat
    stream open. A test types into the form once the page is quiet, as a person types once the
    values they see have landed: an answer still on its way (a preset re-applied for the file)
    would otherwise land mid-typing and join the typed digits. Minutes, not seconds: beside the
    other test worker's trainings on two cores, CI has twice seen the queued events of a few
    settings' changes take over 120 s to drain. An endless loop still fails: it never goes quiet."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)  # lets Playwright deliver the request events meanwhile
        if not requests or time.monotonic() - requests[-1] >= quiet_s:
            return
    raise AssertionError(f"the page kept sending events for {timeout_s:.0f} s")


def keep_screenshot(shot: Path, name: str) -> None:
    """A screenshot a test took, checked to hold a drawn page, and copied to
    $BERTSTUDIO_SCREENSHOTS/<name> when that is set: for a person to look at; nothing reads it back."""
    assert shot.stat().st_size > 10_000, f"{shot} is nearly empty: the page was not drawn"
    if os.environ.get("BERTSTUDIO_SCREENSHOTS"):
        target = Path(os.environ["BERTSTUDIO_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target / name)
