"""The real app in headless chromium, used the way a new user would, from a CSV to a predicted CSV."""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import pytest

from browser_support import (BROWSER_MARKS, BUNDLED, CHROMIUM, CHROMIUM_ARGS, EXPECT_TIMEOUT_MS, launched_chromium,
                             running_app, wait_for_loss_points, wait_for_stored_change)
from browser_support import open_tab as _tab
from browser_support import wait_for_the_files_settings
from browser_support import set_number as _set_number
from browser_support import events_sent, wait_until_quiet

pytestmark = BROWSER_MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright for Python")

WORDS = {"praise": ["great", "lovely", "excellent", "fast", "perfect"],
         "complaint": ["broken", "late", "awful", "rude", "missing"],
         "question": ["how", "when", "where", "can", "which"]}


def _write_csv(path: Path, rows: int, with_label: bool = True) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "message"] + (["category"] if with_label else []))
        for i in range(rows):
            label = list(WORDS)[i % 3]
            words = WORDS[label]
            text = f"{words[i % 5]} and {words[(i + 2) % 5]} order number {i}"
            writer.writerow([i, text] + ([label] if with_label else []))
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py` on a free port, with a temporary runs folder and the bundled model."""
    folder = tmp_path_factory.mktemp("browser")
    env = {"BERTSTUDIO_RUNS_DIR": str(folder / "runs")}
    with running_app(folder, env) as url:
        yield url, folder


@pytest.fixture(scope="module")
def browser():
    with launched_chromium(sync_api) as launched:
        yield launched


def _pick(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").first.click()
    page.get_by_role("option", name=option, exact=True).click()
    # Wait for the list to close: on a busy machine it lingers, and the next dropdown's list would
    # then show a second option of the same name.
    sync_api.expect(page.get_by_role("option")).to_have_count(0)


def _loss_points(page) -> int:
    return page.evaluate("""() => {
        const plot = document.querySelector('#train-loss .js-plotly-plot');
        return plot && plot.data && plot.data.length ? plot.data[0].x.length : 0;
    }""")


def test_a_new_user_trains_and_predicts_end_to_end(server, browser, tmp_path):
    url, folder = server
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    page.goto(url)

    # 1. Data: upload, see what was detected, pick the columns.
    page.locator("#data-upload input[type=file]").set_input_files(str(_write_csv(tmp_path / "orders.csv", 240)))
    sync_api.expect(page.locator("#data-facts")).to_contain_text("orders.csv")
    sync_api.expect(page.locator("#data-facts")).to_contain_text("comma")
    _pick(page, "cfg-text_column", "message")
    _pick(page, "cfg-label_column", "category")
    sync_api.expect(page.locator("#data-report")).to_contain_text("rows are usable", timeout=30_000)

    # 2. Tokenizer: a typed text becomes chips; user markup stays text.
    _tab(page, "Tokenizer")
    page.locator("#tok-text textarea").fill("Where is my <b>parcel</b>?")
    sync_api.expect(page.locator("#tok-chips .tok-special").first).to_be_visible(timeout=60_000)
    sync_api.expect(page.locator("#tok-chips")).to_contain_text("<")
    assert page.locator("#tok-chips b").count() == 0
    sync_api.expect(page.locator("#tok-length-facts")).to_contain_text("Suggested max length", timeout=60_000)

    # 3. Hyperparameters: a small, quick run that logs every step.
    _tab(page, "Hyperparameters")
    wait_for_the_files_settings(page)
    page.locator("#preset-quick-try").click()
    # The preset's answer sets every governed box at once: wait for it (its 2 epochs; Recommended
    # already had batch 16, so the batch says nothing), or on a busy machine it lands during the
    # typing below: a "2" landing as "16" is typed made 216, clamped to the slider's 50.
    sync_api.expect(page.locator("#preset-quick-try")).to_have_class(re.compile(r"\bprimary\b"))
    sync_api.expect(page.locator("#cfg-epochs input[type=number]").first).to_have_value("2")
    sync_api.expect(page.locator("#cfg-batch_size input[type=number]").first).to_have_value("16")
    # Long enough to reload the page mid-run (8 epochs, 432 steps, ended before a busy page had
    # drawn its first points).
    _set_number(page, "cfg-epochs", 16)
    _set_number(page, "cfg-batch_size", 4)
    _set_number(page, "hp-max-length", 24)
    page.get_by_text("Run", exact=True).click()  # open the accordion
    _set_number(page, "cfg-logging_steps", 1)
    sync_api.expect(page.locator("#hp-cost")).to_contain_text("optimizer steps")
    sync_api.expect(page.locator("#cfg-epochs input[type=number]").first).to_have_value("16")

    # 4. Train: start, watch the loss chart gain points, reload mid-run, see it carry on.
    _tab(page, "Train")
    sync_api.expect(page.locator("#train-plan")).to_contain_text("orders.csv")
    page.locator("#train-start").click()
    wait_for_loss_points(page, 2)
    wait_for_loss_points(page, _loss_points(page) + 1)
    seen = _loss_points(page)

    page.reload()
    _tab(page, "Train")
    wait_for_loss_points(page, seen)
    # The page remembers the file and the settings too: the plan above the live run is the same.
    sync_api.expect(page.locator("#train-plan")).to_contain_text("orders.csv")
    sync_api.expect(page.locator("#train-plan")).to_contain_text("max length 24")
    progress = page.locator("#train-progress")
    sync_api.expect(progress).to_contain_text("Finished", timeout=180_000)
    assert _loss_points(page) > seen
    sync_api.expect(page.locator("#train-results")).to_be_visible()
    sync_api.expect(page.locator("#train-downloads a[href$='-model.zip']")).to_have_count(1)
    sync_api.expect(page.locator("#train-downloads a[href$='README.md']")).to_have_count(1)

    # 5. Predict: a sentence, then a whole file downloaded with predictions added.
    _tab(page, "Predict")
    sync_api.expect(page.locator("#predict-about")).to_contain_text("Classes", timeout=60_000)
    page.locator("#predict-text textarea").fill("great and lovely order, thank you")
    page.locator("#predict-button").click()
    sync_api.expect(page.locator("#predict-label")).to_contain_text("praise", timeout=60_000)

    new_orders = _write_csv(tmp_path / "new_orders.csv", 9, with_label=False)
    # A column with no name: the predictions keep the header as the file wrote it.
    new_orders.write_text("".join(line + ",\n" for line in new_orders.read_text().splitlines()), encoding="utf-8")
    page.locator("#predict-upload input[type=file]").set_input_files(str(new_orders))
    link = page.locator("#predict-result a").first
    sync_api.expect(link).to_be_visible(timeout=60_000)
    sync_api.expect(page.locator("#predict-file-button")).to_be_enabled()  # unavailable only while it ran
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "downloaded.csv"
    download.value.save_as(saved)
    rows = list(csv.reader(saved.open(encoding="utf-8")))
    assert rows[0][:4] == ["id", "message", "", "predicted_label"] and len(rows) == 10
    assert {row[3] for row in rows[1:]} <= set(WORDS)

    # 6. Runs: the run is listed as finished.
    _tab(page, "Runs")
    sync_api.expect(page.locator("#runs-table")).to_contain_text("finished")
    page.close()


def test_moving_the_learning_rate_slider_updates_the_summary_once_and_the_page_goes_quiet(server, browser):
    """The summary follows a preset and a person's move of the log-scale slider, and then nothing runs.
    (Wired to the slider's change event, scripts/screenshots.py's path set off an endless re-run of
    the summary, once a second; this shorter path does not always show that, so it guards the wiring
    the fix put in place: the summary on the slider's input, presets refreshing it with .then.)"""
    url, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    requests = events_sent(page)
    page.goto(url)
    # The path scripts/screenshots.py takes, which is where the loop showed: the example data, the
    # Tokenizer tab's length statistics and its max-length slider, a preset, then the slider.
    page.click("#data-example")
    sync_api.expect(page.locator("#data-report")).to_contain_text("rows are usable", timeout=60_000)
    _tab(page, "2 · Tokenizer")
    sync_api.expect(page.locator("#tok-length-facts")).to_contain_text("Suggested max length", timeout=120_000)
    _set_number(page, "cfg-max_length", 24)
    _set_number(page, "cfg-max_length", 32)
    _tab(page, "3 · Hyperparameters")
    sync_api.expect(page.locator("#hp-cost")).to_contain_text("optimizer steps", timeout=30_000)
    # The highlighted preset is what the form starts with; with the example file loaded it takes the
    # settings measured for that many rows and the bundled (small) model: 1e-3, 10 epochs, and says why.
    sync_api.expect(page.locator("#preset-recommended")).to_have_class(re.compile(r"\bprimary\b"))
    sync_api.expect(page.locator("#hp-cost")).to_contain_text("Learning rate: 1.0e-03")
    sync_api.expect(page.locator("#hp-preset-help")).to_contain_text("Why Recommended sets these for your file")
    # A programmatic set of the slider first (from the box beside it), then the person's move.
    _set_number(page, "hp-learning-rate-box", "3e-5")
    sync_api.expect(page.locator("#hp-cost")).to_contain_text("Learning rate: 3.0e-05", timeout=30_000)
    sync_api.expect(page.locator("#preset-recommended")).not_to_have_class(re.compile(r"\bprimary\b"))

    # The box's set re-renders the slider; a click while that is under way can land on the old
    # element and move nothing (seen on a busy machine), so click once the page is quiet.
    wait_until_quiet(page, requests)
    slider = page.locator("#cfg-learning_rate input[type=range]")
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.67, box["y"] + box["height"] / 2)
    sync_api.expect(page.locator("#hp-cost")).not_to_contain_text("Learning rate: 3.0e-05", timeout=30_000)
    wait_until_quiet(page, requests)  # whatever the move set off has finished
    settled = len(requests)
    time.sleep(6)
    assert len(requests) == settled, f"{len(requests) - settled} events ran with nobody touching the page"
    page.close()


def test_a_reload_keeps_the_file_columns_model_and_max_length_in_that_browser_only(server, browser, tmp_path):
    url, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    sent: list[float] = []  # every event the page sends, queued or not (remembering is not queued)
    page.on("request", lambda r: sent.append(time.monotonic())
            if "/gradio_api/" in r.url and "heartbeat" not in r.url else None)
    page.goto(url)
    page.locator("#data-upload input[type=file]").set_input_files(str(_write_csv(tmp_path / "kept.csv", 60)))
    sync_api.expect(page.locator("#data-facts")).to_contain_text("kept")
    _pick(page, "cfg-text_column", "message")
    _pick(page, "cfg-label_column", "category")
    sync_api.expect(page.locator("#data-report")).to_contain_text("rows are usable")
    _tab(page, "Tokenizer")
    model = page.locator("#cfg-model input").first
    model.fill(str(BUNDLED))  # a model folder: typed, as a person may
    model.press("Enter")
    sync_api.expect(page.locator("#tok-model-about")).to_contain_text("local model folder")
    _tab(page, "Train")
    sync_api.expect(page.locator("#train-plan")).to_contain_text("bundled-bert")
    stored = page.evaluate("() => localStorage.getItem('bertstudio-choices')")
    _tab(page, "Tokenizer")
    _set_number(page, "cfg-max_length", 40)
    _tab(page, "Train")
    sync_api.expect(page.locator("#train-plan")).to_contain_text("max length 40")
    wait_for_stored_change(page, "bertstudio-choices", stored)
    # The change above may be an earlier setting's write landing late: the last one (max length 40)
    # is stored once the page has nothing left to send.
    wait_until_quiet(page, sent)

    page.reload()
    sync_api.expect(page.locator("#data-facts")).to_contain_text("kept")
    sync_api.expect(page.locator("#cfg-text_column input").first).to_have_value("message")
    sync_api.expect(page.locator("#cfg-label_column input").first).to_have_value("category")
    sync_api.expect(page.locator("#data-report")).to_contain_text("rows are usable")
    sync_api.expect(page.locator("#data-upload").get_by_role("cell", name="kept.csv")).to_be_visible()
    _tab(page, "Tokenizer")
    sync_api.expect(page.locator("#cfg-max_length input[type=number]").first).to_have_value("40")
    sync_api.expect(page.locator("#cfg-model input").first).to_have_value(str(BUNDLED))
    _tab(page, "Train")
    plan = page.locator("#train-plan")
    sync_api.expect(plan).to_contain_text("kept.csv")
    sync_api.expect(plan).to_contain_text("max length 40")
    page.screenshot(path=str(tmp_path / "reloaded.png"))
    page.close()

    # Another browser (its own localStorage) starts from nothing.
    stranger = browser.new_page(viewport={"width": 1280, "height": 800})
    stranger.set_default_timeout(EXPECT_TIMEOUT_MS)
    asked = events_sent(stranger)
    stranger.goto(url)
    _tab(stranger, "Tokenizer")
    sync_api.expect(stranger.locator("#tok-chips .tok-special").first).to_be_visible()  # the page has loaded
    wait_until_quiet(stranger, asked)  # and what it asked for on load has come back
    _tab(stranger, "Train")
    sync_api.expect(stranger.locator("#train-plan")).to_contain_text("Load a dataset on the Data tab")
    assert stranger.locator("#data-facts").inner_text().strip() == ""
    stranger.close()


HOSTILE_LABELS = ['<a href="https://phish.example/login">Click to verify</a>', "<b>bold</b>",
                  '<span style="color:red;font-size:40px">red</span>']


def _write_hostile_csv(path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "message <i>x</i>", "category"])
        for i in range(60):
            label = list(WORDS)[i % 3]
            writer.writerow([i, f"{WORDS[label][i % 5]} order number {i} " * (1 + 4 * (i % 7 == 0)),
                             HOSTILE_LABELS[i % 3]])
    return path


def test_markup_in_labels_and_column_names_shows_in_the_chart_as_typed(server, browser, tmp_path):
    """plotly.js draws <a href> in a string as a live link and <b>/<span style> as styling: the
    label chart must show the labels as the text they are, with no link and no style in its SVG."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    page.goto(url)
    page.locator("#data-upload input[type=file]").set_input_files(str(_write_hostile_csv(tmp_path / "h.csv")))
    sync_api.expect(page.locator("#data-facts")).to_contain_text("h.csv")
    _pick(page, "cfg-text_column", "message <i>x</i>")
    _pick(page, "cfg-label_column", "category")
    sync_api.expect(page.locator("#data-report")).to_contain_text("rows are usable")
    chart = page.locator("#data-label-chart .main-svg").first
    sync_api.expect(chart.locator(".xtick text")).to_have_count(3)
    assert chart.locator(".xtick text").all_text_contents() == HOSTILE_LABELS
    assert page.locator("#data-label-chart .main-svg a").count() == 0
    assert page.locator("#data-label-chart .main-svg tspan[style*='40px'], #data-label-chart .main-svg b").count() == 0
    page.close()


# At phone width gradio's own rule clips what sticks out of the page; the check lifts it, so what
# it measures is whether anything sticks out, not whether the clipping works.
UNCLIPPED = ".gradio-container { overflow-x: visible !important; }"


def test_every_tab_fits_a_phone_and_shows_all_six_steps(server, browser, tmp_path):
    """At 390 px no tab scrolls sideways (wide tables scroll inside their own box) and the tab bar
    wraps instead of hiding steps 3-6 behind gradio's '⋯' menu. The scrollbar is drawn, as a
    desktop browser at that width draws it: a width of 100vw counts it, and that page came out
    15 px wider than its window."""
    url, _ = server
    with_scrollbars = browser.browser_type.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                                  ignore_default_args=["--hide-scrollbars"])
    try:
        page = with_scrollbars.new_page(viewport={"width": 390, "height": 844})
        page.set_default_timeout(EXPECT_TIMEOUT_MS)
        page.goto(url)
        page.add_style_tag(content=UNCLIPPED)
        page.locator("#data-upload input[type=file]").set_input_files(str(_write_hostile_csv(tmp_path / "wide.csv")))
        sync_api.expect(page.locator("#data-facts")).to_contain_text("wide.csv")
        sync_api.expect(page.locator("#data-preview")).to_contain_text("order number")
        for name in ("1 · Data", "2 · Tokenizer", "3 · Hyperparameters", "4 · Train", "5 · Predict", "6 · Runs"):
            tab = page.get_by_role("tab", name=name)
            sync_api.expect(tab).to_be_visible()
            tab.click()
            panel = page.locator(f"#{tab.get_attribute('aria-controls')}")
            sync_api.expect(panel).to_be_visible()
            # What the page spans against what the window shows beside its scrollbar.
            width, visible = page.evaluate("() => [document.documentElement.scrollWidth, "
                                           "document.documentElement.clientWidth]")
            assert visible <= 390 and width <= visible, f"the {name} tab is {width} px wide in a {visible} px window"
        assert not page.get_by_role("button", name="More tabs").is_visible()
    finally:
        with_scrollbars.close()


TAGS = {"billing": ["invoice", "refund", "charged"], "delivery": ["parcel", "courier", "late"],
        "account": ["password", "login", "profile"]}


def _write_tagged_csv(path: Path, rows: int = 80) -> Path:
    """Support tickets with none, one or several tags in one cell, separated by commas."""
    names = list(TAGS)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["message", "tags"])
        for i in range(rows):
            tags = [name for j, name in enumerate(names) if (i + 1) >> j & 1]  # every mix, and none when i+1 = 8k
            words = " ".join(TAGS[t][i % 3] for t in tags) or "hello"
            writer.writerow([f"{words} ticket number {i}", ",".join(tags)])
    return path


def test_a_multi_label_file_trains_shows_its_per_label_results_and_predicts_a_set(server, browser, tmp_path):
    url, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    page.goto(url)
    page.locator("#data-upload input[type=file]").set_input_files(str(_write_tagged_csv(tmp_path / "tickets.csv")))
    sync_api.expect(page.locator("#data-facts")).to_contain_text("tickets.csv")
    _pick(page, "cfg-text_column", "message")
    _pick(page, "cfg-label_column", "tags")
    sync_api.expect(page.locator("#data-report")).to_contain_text("rows are usable", timeout=30_000)

    _tab(page, "Hyperparameters")
    wait_for_the_files_settings(page)
    _set_number(page, "cfg-epochs", 1)
    _set_number(page, "hp-max-length", 24)
    _tab(page, "Train")
    sync_api.expect(page.locator("#train-plan")).to_contain_text("several labels per row")
    sync_api.expect(page.locator("#train-plan")).to_contain_text("1 epoch ")
    page.locator("#train-start").click()
    sync_api.expect(page.locator("#train-progress")).to_contain_text("Finished", timeout=300_000)
    sync_api.expect(page.locator("#train-metrics")).to_contain_text("micro F1")
    summary = page.locator("#train-metrics-summary")
    sync_api.expect(summary).to_contain_text("At the tuned thresholds")
    sync_api.expect(summary).to_contain_text("At a fixed threshold of 0.5")
    table = page.locator("#train-per-class")
    sync_api.expect(table).to_contain_text("threshold")
    for tag in TAGS:
        sync_api.expect(table).to_contain_text(tag)

    _tab(page, "Predict")
    sync_api.expect(page.locator("#predict-about")).to_contain_text("each decided at its own threshold",
                                                                    timeout=60_000)
    page.locator("#predict-text textarea").fill("refund for the late parcel")
    page.locator("#predict-button").click()
    sync_api.expect(page.locator("#predict-answer")).to_contain_text("Predicted labels", timeout=60_000)
    sync_api.expect(page.locator("#predict-label")).to_be_hidden()
    page.wait_for_function("""() => {
        const plot = document.querySelector('#predict-label-chart .js-plotly-plot');
        return !!(plot && plot.data && plot.data.length === 2 && plot.data[0].y.length === 3);
    }""")
    bars, marks = page.evaluate("""() => {
        const plot = document.querySelector('#predict-label-chart .js-plotly-plot');
        return plot.data.map(trace => ({y: Array.from(trace.y), x: Array.from(trace.x), name: trace.name}));
    }""")
    assert bars["y"] == sorted(TAGS) and all(0.0 <= p <= 1.0 for p in bars["x"])
    assert marks["name"] == "threshold" and marks["y"] == sorted(TAGS) and all(0.0 < t < 1.0 for t in marks["x"])
    page.close()
