"""The app in hosted mode, in headless chromium: hostile texts stay text, visitors stay apart, the queue shows.

One `python app.py` with BERTSTUDIO_HOSTED=1 serves the whole module. Alice uploads a CSV whose
texts, labels and file name are HTML and script payloads and trains on it; every tab is then
checked for the literal text and for any sign that the page ran it. Bob, in a second browser
context (his own storage and cookies), must see none of Alice's runs, even after planting her run
id in his browser's memory, and cannot fetch her files by path. Finally a second training waits
in line and the page says where it stands; that view is saved as a screenshot. Each visitor comes
from an address of their own, as a Space's proxy names it in X-Forwarded-For: one address, like
one browser, has one run waiting or training, and Start stays off until it ends.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from browser_support import BROWSER_MARKS, launched_chromium, running_app
from browser_support import open_tab as _tab
from browser_support import wait_for_the_files_settings
from browser_support import set_number as _set_number

pytestmark = BROWSER_MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright for Python")
expect = sync_api.expect

# Each payload sets window.__xss if the page ever runs it as HTML or script.
IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=1</script>"
SVG = "<svg onload=window.__xss=1>"
LABELS = [IMG, SCRIPT]
FILE_NAME = "<img src=x onerror=window.__xss=1>reviews.csv"
# On a busy 2-core machine a click's answer can take many seconds; waits allow for it.
SLOW = 60_000
EXAMPLE_ROWS = 390  # the rows of assets/sample_reviews.csv, all usable
# The page starts clean on every load, so any later 1 comes from the page running a payload.
WATCH = "window.__xss = 0;"


def _hostile_csv(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    words = {IMG: ["lovely", "great", "superb"], SCRIPT: ["awful", "broken", "late"]}
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(60):
            label = LABELS[i % 2]
            payload = (IMG, SCRIPT, SVG)[i % 3]
            writer.writerow([f"{words[label][i % 3]} {payload} =1+{i} order {i}", label])
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` in hosted mode on a free port, with a temporary runs folder."""
    folder = tmp_path_factory.mktemp("hosted")
    env = {"BERTSTUDIO_RUNS_DIR": str(folder / "runs"), "GRADIO_TEMP_DIR": str(folder / "gradio"),
           "BERTSTUDIO_HOSTED": "1", "BERTSTUDIO_MODELS": "bundled", "BERTSTUDIO_MAX_RUN_MINUTES": "3",
           "BERTSTUDIO_MAX_EPOCHS": "30", "TMPDIR": str(folder / "tmp")}  # visitors' downloads land in here
    (folder / "tmp").mkdir()
    with running_app(folder, env) as url:
        yield url, folder


@pytest.fixture(scope="module")
def browser():
    with launched_chromium(sync_api) as launched:
        yield launched


ADDRESSES = iter(f"203.0.113.{n}" for n in range(1, 255))  # documentation addresses, one per visitor


def _visitor(browser, url, address=None):
    """A browser context of its own (storage, cookies) coming from its own address, or `address`."""
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  extra_http_headers={"X-Forwarded-For": address or next(ADDRESSES)})
    context.add_init_script(WATCH)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    expect(page.locator("#hosted-banner")).to_be_visible(timeout=SLOW)
    return context, page


def _clean(page) -> None:
    """Nothing the visitor's data carried has run, and no element it described exists."""
    assert page.evaluate("window.__xss") == 0
    planted = page.evaluate("""() => [...document.querySelectorAll('img[src="x"], svg[onload], [onerror], [onload]')]
        .map(e => e.outerHTML.slice(0, 200))""")
    # Gradio's own inline scripts are there from the start; none may carry the visitor's payload.
    scripts = page.evaluate("""() => [...document.querySelectorAll('script')]
        .filter(s => s.textContent.includes('window.__xss=1')).length""")
    assert planted == [] and scripts == 0


def _run_ids(folder: Path) -> set[str]:
    return {p.name for p in (folder / "runs").iterdir() if (p / "config.json").exists()}


@pytest.fixture(scope="module")
def hostile_file(tmp_path_factory) -> Path:
    return _hostile_csv(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def alice(server, browser, hostile_file):
    """Alice's browser after uploading the hostile CSV and training one quick run on it."""
    url, folder = server
    context, page = _visitor(browser, url, "198.51.100.1")
    page.locator("#data-upload input[type=file]").set_input_files(str(hostile_file))
    expect(page.locator("#data-report")).to_contain_text("rows are usable", timeout=60_000)
    _tab(page, "Hyperparameters")
    wait_for_the_files_settings(page)
    page.locator("#preset-quick-try").click()
    _set_number(page, "cfg-batch_size", 8)
    _set_number(page, "hp-max-length", 32)
    _tab(page, "Train")
    page.locator("#train-start").click()
    expect(page.locator("#train-progress")).to_contain_text("Finished", timeout=180_000)
    (run_id,) = _run_ids(folder)
    assert (folder / "runs" / run_id / "model" / "config.json").exists()
    yield context, page, run_id
    context.close()



def _forged_call(client, api_name: str, *arguments):
    """Call one of the page's own events by its index, as a caller speaking gradio's protocol
    directly can, whatever the client library offers: "private" only unlists an event, so the
    server's own checks are what refuse."""
    index = next(d["id"] for d in client.config["dependencies"] if d.get("api_name") == api_name)
    client.endpoints[index].is_valid = True
    return client.predict(*arguments, fn_index=index)


def test_hostile_texts_labels_and_file_names_show_as_text_in_every_tab(alice, hostile_file):
    _, page, _ = alice
    page.reload()  # the Train tab rebuilds its results from the run folder
    # Data: the file name, the preview of texts and the label chart.
    page.locator("#data-upload input[type=file]").set_input_files(str(hostile_file))
    # Gradio itself drops < and > from uploaded file names; the rest must read as text.
    expect(page.locator("#data-facts")).to_contain_text("img src=x onerror=window.__xss=1reviews.csv",
                                                        timeout=SLOW)
    expect(page.locator("#data-preview")).to_contain_text(SCRIPT, timeout=SLOW)
    expect(page.locator("#data-preview")).to_contain_text(IMG, timeout=SLOW)
    expect(page.locator("#data-label-chart")).to_contain_text("<script>", timeout=SLOW)
    _clean(page)

    # Tokenizer: a typed payload, and the dataset's rows as chips.
    _tab(page, "Tokenizer")
    page.locator("#tok-text textarea").fill(f"{IMG} and {SCRIPT}")
    expect(page.locator("#tok-chips")).to_contain_text("<scr##ip##t>", timeout=60_000)  # pieces, as text
    expect(page.locator("#tok-length-facts")).to_contain_text("Suggested max length", timeout=60_000)
    page.get_by_text("Browse rows through the tokenizer").click()
    expect(page.locator("#tok-row-chips .tok").first).to_be_visible(timeout=30_000)
    _clean(page)

    # Train: results of the finished run, the misclassified rows among them.
    _tab(page, "Train")
    expect(page.locator("#train-results")).to_be_visible(timeout=60_000)
    expect(page.locator("#train-per-class")).to_contain_text(IMG, timeout=SLOW)
    expect(page.locator("#train-confusion")).to_contain_text("<script>", timeout=SLOW)
    rows = page.locator("#train-misclassified")
    if "order" in rows.inner_text():  # the run may have got every row right
        expect(rows).to_contain_text("window.__xss=1", timeout=SLOW)
    _clean(page)

    # Predict: a payload typed in, the payload labels in the answer, and a whole hostile file.
    _tab(page, "Predict")
    expect(page.locator("#predict-about")).to_contain_text("Classes", timeout=60_000)
    expect(page.locator("#predict-about")).to_contain_text("<script>window.__xss=1</script>", timeout=SLOW)
    page.locator("#predict-text textarea").fill(f"lovely {SVG}")
    page.locator("#predict-button").click()
    expect(page.locator("#predict-label")).to_contain_text("window.__xss=1", timeout=60_000)
    page.locator("#predict-upload input[type=file]").set_input_files(str(hostile_file))
    expect(page.locator("#predict-preview")).to_contain_text(SVG, timeout=60_000)
    _clean(page)

    # Runs: the listing, then the opened run's summary, settings and per-class table.
    _tab(page, "Runs")
    expect(page.locator("#runs-table")).to_contain_text("onerror=window.__xss=1reviews.csv",
                                                        timeout=SLOW)
    page.locator("#runs-picker input").first.click()
    page.get_by_role("option").first.click()
    expect(page.locator("#runs-summary")).to_contain_text("Finished", timeout=30_000)
    _clean(page)
    assert page.evaluate("window.__xss") == 0


def test_a_second_visitor_sees_stops_and_downloads_none_of_the_firsts_runs(server, browser, alice):
    url, folder = server
    _, alice_page, run_id = alice
    bob_context, bob = _visitor(browser, url)
    try:
        _tab(bob, "Runs")
        bob.locator("#runs-refresh").click()
        time.sleep(1.0)
        assert run_id not in bob.locator("#runs-table").inner_text()
        _tab(bob, "Predict")
        bob.locator("#predict-run input").first.click()
        assert bob.get_by_role("option").count() == 0
        bob.keyboard.press("Escape")

        # Bob's page has nothing of Alice's to follow or stop.
        _tab(bob, "Train")
        expect(bob.locator("#train-progress")).to_contain_text("No training yet", timeout=SLOW)
        bob.locator("#train-stop").click()
        expect(bob.locator("#train-problem")).to_contain_text("no training to stop", timeout=SLOW)

        # Bob learns Alice's run id and sends it straight to the server, with whatever memory he
        # likes (the browser's memory is his to write): only Alice's secret token would open it.
        from gradio_client import Client

        from gradio_client.exceptions import AppError

        forged = {"owner": "bob-made-this-up", "run_id": run_id, "runs": [run_id]}
        client = Client(url, verbose=False)
        # The API offers only the tokenizer here: runs are each visitor's own, and an API caller
        # has no browser to own them by.
        assert set(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == {"/tokenize"}
        logged = (folder / "app.log").read_text()
        table, _ = _forged_call(client, "refresh_runs", forged, None)
        assert run_id not in json.dumps(table)
        for api_name, arguments in (("on_open", (forged, run_id)), ("predict_text", (run_id, "lovely", "", forged))):
            try:
                answer = _forged_call(client, api_name, *arguments)
            except AppError as refused:  # gradio's own check: not among the choices this visitor was given
                assert "not in the list of choices" in str(refused)
            else:  # and ours, on the owner token
                assert "no longer there" in json.dumps(answer) or "Pick a run" in json.dumps(answer)
        refusals = (folder / "app.log").read_text()[len(logged):]
        assert "Traceback" not in refusals  # a refused request is one line in the server's log

        # No download path reaches Alice's folder, nor anything else on the server.
        run_dir = folder / "runs" / run_id
        for target in (run_dir / "README.md", run_dir / "model" / "model.safetensors", run_dir / "config.json",
                       Path("/etc/passwd"), folder / "app.log"):
            status = bob.request.get(f"{url}gradio_api/file={target}").status
            assert status in (403, 404), (target, status)
        # Her own page still shows her run: the refusal above is about who asks.
        _tab(alice_page, "Runs")
        alice_page.locator("#runs-refresh").click()
        expect(alice_page.locator("#runs-table")).to_contain_text(run_id, timeout=SLOW)
    finally:
        bob_context.close()


def test_a_second_training_waits_in_line_with_its_place_and_expected_start(server, browser, alice, tmp_path):
    url, folder = server
    _, alice_page, _ = alice
    bob_context, bob = _visitor(browser, url)
    mallory_context = None
    owners = folder / "runs" / ".owners"
    recorded = len(list(owners.iterdir()))
    try:
        for page, epochs in ((alice_page, 30), (bob, 30)):  # runs that outlast the checks below
            _tab(page, "Data")
            page.locator("#data-example").click()
            # The example's own report: Alice's page still shows the hostile file's until it lands.
            expect(page.locator("#data-report")).to_contain_text(f"of {EXAMPLE_ROWS} rows are usable",
                                                                 timeout=60_000)
            _tab(page, "Hyperparameters")  # no preset click: its late answer could undo the numbers typed here
            wait_for_the_files_settings(page)  # and the file's own answer is in before typing
            _set_number(page, "cfg-epochs", epochs)
            # Recommended stops early after 2 evaluations without improvement; these runs must not.
            patience = page.locator("#cfg-early_stopping_patience input[type=number]").first
            if not patience.is_visible():
                page.get_by_text("Evaluation and early stopping", exact=True).click()
            _set_number(page, "cfg-early_stopping_patience", 0)
            _set_number(page, "cfg-batch_size", 4)
            _tab(page, "Train")
            expect(page.locator("#train-plan")).to_contain_text(f"{epochs} epochs · batch 4", timeout=SLOW)
        alice_page.locator("#train-start").dblclick()  # a double click queues one run, not two
        expect(alice_page.locator("#train-progress")).not_to_contain_text("No training yet", timeout=30_000)
        expect(alice_page.locator("#train-start")).to_be_disabled(timeout=SLOW)
        expect(alice_page.locator("#train-start-hint")).to_contain_text("one run at a time", timeout=SLOW)
        bob.locator("#train-start").click()
        waiting = bob.locator("#queue-position")
        expect(waiting).to_contain_text("Waiting in line: number 1.", timeout=SLOW)
        expect(waiting).to_contain_text("Expected start: in ", timeout=SLOW)
        bob.evaluate("window.scrollTo(0, 0)")
        shot = tmp_path / "queue.png"
        bob.screenshot(path=str(shot), full_page=False)
        if os.environ.get("BERTSTUDIO_SCREENSHOTS"):  # for a person to look at; nothing reads it back
            shutil.copy(shot, Path(os.environ["BERTSTUDIO_SCREENSHOTS"]) / "hosted-queue.png")
        assert shot.stat().st_size > 10_000
        assert len(list(owners.iterdir())) == recorded + 2  # Alice's one run and Bob's

        # Each visitor has one training at a time: Start is off, and says why.
        expect(bob.locator("#train-start")).to_be_disabled(timeout=SLOW)
        # Mallory: a fresh browser at Alice's address, opened while her run is live (a new owner
        # token, as a script can send each time).
        mallory_context, mallory = _visitor(browser, url, "198.51.100.1")
        _tab(mallory, "Train")
        expect(mallory.locator("#train-start")).to_be_disabled(timeout=SLOW)
        expect(mallory.locator("#train-start-hint")).to_contain_text("your network address", timeout=SLOW)
        expect(mallory.locator("#train-progress")).to_contain_text("No training yet", timeout=SLOW)

        # The waiting run is listed on the Runs tab, with a Stop of its own there.
        _tab(bob, "Runs")
        bob.locator("#runs-refresh").click()
        expect(bob.locator("#runs-table")).to_contain_text("waiting", timeout=SLOW)
        bob.locator("#runs-picker input").first.click()
        bob.get_by_role("option").first.click()
        expect(bob.locator("#runs-summary")).to_contain_text("Waiting in line", timeout=SLOW)
        expect(bob.locator("#runs-stop")).to_be_visible(timeout=SLOW)

        # After a reload Alice's page follows her run again, and its Stop works.
        alice_page.reload()
        _tab(alice_page, "Train")
        expect(alice_page.locator("#train-start")).to_be_disabled(timeout=SLOW)
        alice_page.locator("#train-stop").click()
        expect(alice_page.locator("#train-progress")).to_contain_text("Stopped", timeout=120_000)
        expect(alice_page.locator("#train-start")).to_be_enabled(timeout=SLOW)

        # Bob stops his from the Runs tab, still waiting or by now training; Start comes back.
        bob.locator("#runs-stop").click()
        expect(bob.locator("#runs-problem")).to_contain_text(re.compile("out of the queue|Stopping after"),
                                                             timeout=SLOW)
        _tab(bob, "Train")
        expect(bob.locator("#train-start")).to_be_enabled(timeout=120_000)
    finally:
        if mallory_context is not None:
            mallory_context.close()
        bob_context.close()
