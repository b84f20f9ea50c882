"""The Runs tab in the real app: three finished runs of one file told apart, one opened by a click
on its row, two compared (curves overlaid, settings side by side, final metrics), one trained again
from the form it fills, and that new run stopped from the Runs tab while it trains.

The runs are trained with the engine beforehand (a tiny BERT, a few seconds each), so the page is
used only for what a person does on it. BERTSTUDIO_SCREENSHOTS=<folder> keeps the pictures
(runs_open.png, runs_compare.png) for a person to look at."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from browser_support import (BROWSER_MARKS, EXPECT_TIMEOUT_MS, keep_screenshot, launched_chromium, open_tab,
                             running_app, set_number, wait_for_loss_points, wait_for_the_files_settings)

pytestmark = BROWSER_MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright for Python")
expect = sync_api.expect

# name: (learning rate, epochs). Only 'careful' learns the file; the other two stay at chance, as
# runs with too small a learning rate for a random tiny model do.
RUNS = {"quick-look": (1e-4, 2), "steady": (5e-4, 4), "careful": (1e-3, 6)}
DIFFERS = {"quick-look": "lr 1e-4 · 2 epochs", "steady": "lr 5e-4 · 4 epochs", "careful": "lr 1e-3 · 6 epochs"}
HIGHLIGHT_RGB = "rgb(254, 243, 199)"  # compare.HIGHLIGHT's amber, as the browser computes it


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir, learnable_rows):
    """Three finished runs of one file in a fresh runs folder: the file and the folder."""
    from bertstudio.config import TrainConfig
    from bertstudio.training.trainer import train

    folder = tmp_path_factory.mktemp("runs-compare")
    data = folder / "reviews.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["text", "label"], *learnable_rows])
    for name, (learning_rate, epochs) in RUNS.items():
        result = train(TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(folder / "runs"),
                                   run_name=name, learning_rate=learning_rate, epochs=epochs, batch_size=16,
                                   max_length=32, warmup_ratio=0.1, logging_steps=2))
        assert result.status == "finished", result.message
    return folder, data


@pytest.fixture(scope="module")
def server(trained):
    folder, _ = trained
    with running_app(folder, {"BERTSTUDIO_RUNS_DIR": str(folder / "runs")}) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with launched_chromium(sync_api) as launched:
        yield launched


@pytest.fixture
def page(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    page.goto(server)
    yield page
    page.close()


def _row(page, text: str):
    """The Runs table's row (gradio 6 draws rows as div role=row, not <tr>) holding `text`."""
    return page.locator("#runs-table .virtual-row").filter(has_text=text)


def _click_row(page, text: str) -> None:
    """Click the name cell of the row holding `text`, as a person clicks the words they know; the
    table's select event opens the row's run."""
    from bertstudio.ui.results import RUNS_HEADERS

    _row(page, text).locator("[role=gridcell]").nth(RUNS_HEADERS.index("name")).click()


def _trace_names(page, elem_id: str) -> list[str]:
    return page.evaluate("""id => {
        const plot = document.querySelector(`#${id} .js-plotly-plot`);
        return plot && plot.data ? plot.data.map(trace => trace.name) : [];
    }""", elem_id)


def _wait_for_traces(page, elem_id: str, names: list[str]) -> None:
    page.wait_for_function("""([id, names]) => {
        const plot = document.querySelector(`#${id} .js-plotly-plot`);
        const drawn = plot && plot.data ? plot.data.map(trace => trace.name) : [];
        return names.every(name => drawn.includes(name));
    }""", arg=[elem_id, names])


def _pick_to_compare(page, *names: str) -> None:
    """Pick runs in the multiselect by their names, then close its list. (Its list opens when the
    box takes focus, so a second click into the still-focused box after Escape opens nothing:
    all the picks are made while it is open.)"""
    page.locator("#runs-compare-picks input").first.click()
    for name in names:
        page.get_by_role("option", name=re.compile(f"· {re.escape(name)} ·")).click()
    page.keyboard.press("Escape")
    expect(page.get_by_role("option")).to_have_count(0)
    for name in names:
        expect(page.locator("#runs-compare-picks")).to_contain_text(f"· {name} ·")


def test_runs_are_told_apart_opened_by_a_click_and_compared(page, tmp_path):
    open_tab(page, "Runs")
    table = page.locator("#runs-table")
    for name, differs in DIFFERS.items():
        expect(_row(page, name)).to_contain_text(differs)
    expect(_row(page, "careful")).to_contain_text("1.0000")  # its headline score, macro F1

    # A click on a row opens that run: the picker names it, its summary, charts and settings show.
    _click_row(page, "careful")
    expect(page.locator("#runs-picker input")).to_have_value(re.compile(r"· careful ·"))
    summary = page.locator("#runs-summary")
    expect(summary).to_contain_text("Finished")
    expect(summary).to_contain_text("Macro F1: 1.0000")
    expect(page.locator("#runs-train-again")).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    shot = tmp_path / "runs_open.png"
    page.screenshot(path=str(shot), full_page=False)
    keep_screenshot(shot, "runs_open.png")
    # Another row opens another run.
    _click_row(page, "quick-look")
    expect(page.locator("#runs-picker input")).to_have_value(re.compile(r"· quick-look ·"))
    expect(summary).to_contain_text("learned nothing useful")

    # Compare two: both runs' curves in each chart, named in the legend.
    _pick_to_compare(page, "careful", "quick-look")
    page.locator("#runs-compare-button").click()
    expect(page.locator("#runs-compare-note")).to_contain_text("Comparing careful, quick-look.")
    _wait_for_traces(page, "runs-compare-loss", ["careful · training", "careful · validation",
                                                 "quick-look · training", "quick-look · validation"])
    _wait_for_traces(page, "runs-compare-metric", ["careful", "quick-look"])
    assert "macro F1" in page.locator("#runs-compare-metric").inner_text()

    # The final metrics side by side, a column per run.
    metrics = page.locator("#runs-compare-metrics")
    expect(metrics.locator("thead")).to_contain_text("careful")
    expect(metrics.locator("thead")).to_contain_text("quick-look")
    expect(metrics.locator(".virtual-row").filter(has_text="macro F1").first).to_contain_text("1.0000")
    expect(metrics.locator(".virtual-row").filter(has_text="macro F1").first).to_contain_text("0.1667")

    # The settings side by side: the two that differ first, highlighted; the shared ones plain.
    settings = page.locator("#runs-compare-settings .virtual-row")
    expect(settings.nth(0)).to_contain_text("Learning rate")
    expect(settings.nth(0)).to_contain_text("1e-3")
    expect(settings.nth(0)).to_contain_text("1e-4")
    expect(settings.nth(1)).to_contain_text("Epochs")
    backgrounds = page.evaluate("""() => Array.from(document.querySelectorAll(
        '#runs-compare-settings .virtual-row')).slice(0, 4).map(row =>
        getComputedStyle(row.querySelector('[role=gridcell]')).backgroundColor)""")
    assert backgrounds[:2] == [HIGHLIGHT_RGB] * 2 and HIGHLIGHT_RGB not in backgrounds[2:], backgrounds
    # Only the differences, on request.
    page.locator("#runs-compare-only-differences input").check()
    expect(settings).to_have_count(2)
    page.mouse.move(0, 0)  # no hover highlight on a row in the picture
    shot = tmp_path / "runs_compare.png"
    page.locator("#runs-compare").screenshot(path=str(shot))
    keep_screenshot(shot, "runs_compare.png")
    assert table.is_visible()


def test_train_again_fills_the_form_and_the_new_run_is_stopped_from_the_runs_tab(page, trained):
    _, data = trained
    # The run's own file, uploaded as a person would: Train again recognises it by its bytes.
    page.locator("#data-upload input[type=file]").set_input_files(str(data))
    expect(page.locator("#data-report")).to_contain_text("rows are usable")
    open_tab(page, "Hyperparameters")
    wait_for_the_files_settings(page)
    learning_rate = page.locator("#hp-learning-rate-box input").first
    epochs = page.locator("#cfg-epochs input[type=number]").first
    before = (learning_rate.input_value(), epochs.input_value())
    assert before != ("0.0005", "4"), before  # else the check below would prove nothing

    open_tab(page, "Runs")
    _click_row(page, "steady")
    expect(page.locator("#runs-summary")).to_contain_text("Finished")
    page.locator("#runs-train-again").click()
    said = page.locator("#runs-problem")
    expect(said).to_contain_text("from this run:")
    expect(said).to_contain_text("lr 5e-4")
    expect(said).to_contain_text("4 epochs")
    expect(said).to_contain_text("Its training file, reviews.csv, is the one loaded on the Data tab.")
    assert "steady" not in said.inner_text()  # the new run's name is the visitor's to give

    open_tab(page, "Hyperparameters")
    expect(learning_rate).to_have_value("0.0005")
    expect(epochs).to_have_value("4")

    # That run again, for long enough to be stopped from the Runs tab while it trains (a tiny model
    # trains 50 epochs of batch 16 here in seconds): batch 2, and early stopping off, or a file
    # this easy ends it after a few epochs.
    set_number(page, "cfg-epochs", 50)
    set_number(page, "cfg-batch_size", 2)
    if not page.locator("#cfg-early_stopping_patience input[type=number]").first.is_visible():
        page.get_by_text("Evaluation and early stopping", exact=True).click()
    set_number(page, "cfg-early_stopping_patience", 0)
    open_tab(page, "Train")
    expect(page.locator("#train-start")).to_be_enabled()
    page.locator("#train-start").click()
    wait_for_loss_points(page, 1)
    open_tab(page, "Runs")  # the tab lists the runs afresh when it opens
    live = _row(page, "running")
    expect(live).to_have_count(1)
    expect(live).to_contain_text("lr 5e-4 · batch 2 · 50 epochs")
    live.locator("[role=gridcell]").nth(1).click()  # its status cell: it has no name
    expect(page.locator("#runs-summary")).to_contain_text("Still training")
    stop = page.locator("#runs-stop")
    expect(stop).to_be_visible()
    stop.click()
    expect(page.locator("#runs-problem")).to_contain_text("Stopping after the current step")
    expect(stop).to_be_hidden()
    open_tab(page, "Train")
    expect(page.locator("#train-progress")).to_contain_text("Stopped")
    open_tab(page, "Runs")
    expect(_row(page, "50 epochs")).to_contain_text("stopped")
