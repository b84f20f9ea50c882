"""The Train tab's "Train on" in the real app, in headless chromium: the devices listed with their
free memory, the memory a run needs following the settings, and Refresh.

This machine has no GPU, so the app is started with an `nvidia-smi` of the test's on its PATH that
prints what the real one prints on a two-GPU machine (its `--query-gpu` CSV); the listing, the
choices and the estimate are the studio's own. The CPU choice is this machine's own CPU and RAM.
BERTSTUDIO_SCREENSHOTS=<folder> keeps the picture (device_picker.png) for a person to look at."""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

import pytest

from browser_support import (BROWSER_MARKS, EXPECT_TIMEOUT_MS, keep_screenshot, launched_chromium, open_tab,
                             running_app, set_number, wait_for_the_files_settings)

pytestmark = BROWSER_MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright for Python")
expect = sync_api.expect

# Index, UUID, name, total, used, free (MiB), as `nvidia-smi --format=csv,noheader,nounits` prints them.
GPUS = ("0, GPU-1f2e3d4c-0000-1111-2222-333344445555, NVIDIA H200, 143771, 4521, 139250\n"
        "1, GPU-9a8b7c6d-0000-1111-2222-333344445555, NVIDIA H200, 143771, 142771, 1000\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("device-picker")
    tools = folder / "bin"
    tools.mkdir()
    smi = tools / "nvidia-smi"
    smi.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write({GPUS!r})\n", encoding="utf-8")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    env = {"BERTSTUDIO_RUNS_DIR": str(folder / "runs"), "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}
    with running_app(folder, env) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with launched_chromium(sync_api) as launched:
        yield launched


def test_the_devices_are_listed_and_the_memory_a_run_needs_follows_the_settings(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    page.goto(server)
    page.locator("#data-example").click()
    expect(page.locator("#data-report")).to_contain_text("rows are usable", timeout=60_000)

    open_tab(page, "Train")
    picker = page.locator("#train-device")
    expect(picker).to_contain_text("GPU 0 · NVIDIA H200 · 146.0 GB free of 150.8 GB")
    expect(picker).to_contain_text("GPU 1 · NVIDIA H200 · 1.0 GB free of 150.8 GB")
    expect(picker).to_contain_text("All 2 GPUs together")
    expect(picker).to_contain_text(re.compile(r"CPU · \d+ cores? · [\d.]+ GB of [\d.]+ GB RAM free"))
    expect(picker.get_by_role("radio", name=re.compile("^GPU 0"))).to_be_checked()  # the first GPU, by default
    need = page.locator("#train-memory")
    expect(need).to_contain_text("on GPU 0")
    expect(need).to_contain_text("fits")

    # A long, large batch on the nearly full GPU does not fit (the bundled model at 64 × 512 needs
    # about 1.3 GB), and the advice names a batch that would.
    open_tab(page, "Hyperparameters")
    wait_for_the_files_settings(page)
    set_number(page, "cfg-batch_size", 64)
    set_number(page, "hp-max-length", 512)
    open_tab(page, "Train")
    page.get_by_role("radio", name=re.compile("^GPU 1")).check()
    expect(need).to_contain_text("64 rows × 512 tokens")
    expect(need).to_contain_text("does not fit")
    expect(need).to_contain_text("Lower the batch size to")
    expect(page.locator("#train-memory .memory-short")).to_have_count(1)

    page.get_by_role("radio", name=re.compile("^All 2 GPUs")).check()
    expect(need).to_contain_text("on each of the 2 GPUs")
    page.get_by_role("radio", name=re.compile("^CPU")).check()
    expect(need).to_contain_text("in the CPU's RAM")

    # Refresh lists the devices again and keeps the choice (a click during a refresh would be
    # undone by its answer, as it is for a person: so choose first, then refresh).
    page.get_by_role("radio", name=re.compile("^GPU 1")).check()
    expect(need).to_contain_text("does not fit")
    page.locator("#train-device-refresh").click()
    expect(page.locator("#train-device-refresh")).to_be_enabled()
    expect(page.get_by_role("radio", name=re.compile("^GPU 1"))).to_be_checked()
    expect(need).to_contain_text("on GPU 1")
    shot = tmp_path / "device_picker.png"
    page.screenshot(path=str(shot), full_page=False)
    keep_screenshot(shot, "device_picker.png")
    page.close()
