"""Screenshots of every tab for the docs: launches the app, walks through it with the example dataset
(training a short run so Train, Predict and Runs have something to show) and saves
docs/screenshots/<tab>.png at 1280x800 (full page), plus narrow.png at 420 px wide.

    python scripts/screenshots.py [--out docs/screenshots] [--model bundled]

Needs playwright for Python and a chromium at /usr/bin/chromium (or --chromium PATH).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--model", default="bundled", help="model preselected in the app")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--epochs", type=int, default=6)
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(port: int, runs_dir: Path, model: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--runs-dir", str(runs_dir),
                                "--default-model", model], cwd=REPO, env=env, stdout=log.open("w"),
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit(f"the app did not start; see {log}")
            time.sleep(0.3)


def set_number(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input[type=number]").first
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def settle(page, seconds: float = 1.5) -> None:
    """Let pending events finish and plotly draw before the shot (gradio's open event stream means
    the page never reaches "network idle", so this waits for the progress spinners instead)."""
    time.sleep(0.5)
    page.wait_for_function("() => !document.querySelector('.progress-text, .eta-bar')", timeout=60_000)
    time.sleep(seconds)


def walk(page, out: Path, epochs: int) -> None:
    from playwright.sync_api import expect

    def tab(name: str) -> None:
        page.get_by_role("tab", name=name).click()

    def shot(name: str) -> None:
        settle(page)
        page.screenshot(path=str(out / f"{name}.png"), full_page=True)
        print(f"saved {out / name}.png")

    page.click("#data-example")
    expect(page.locator("#data-report")).to_contain_text("rows are usable", timeout=60_000)
    shot("data")

    tab("Tokenizer")
    expect(page.locator("#tok-length-facts")).to_contain_text("Suggested max length", timeout=120_000)
    page.locator("#tok-text textarea").fill("The unbelievably comfortable Ærø raincoat arrived late — "
                                            "can I still return it after thirty days?")
    page.locator("#tok-pair textarea").fill("Returns are free within 30 days.")
    set_number(page, "cfg-max_length", 24)
    expect(page.locator("#tok-chips .tok-cut")).to_be_visible(timeout=60_000)
    shot("tokenizer")
    page.locator("#tok-pair textarea").fill("")
    set_number(page, "cfg-max_length", 32)

    tab("Hyperparameters")
    page.locator("#preset-recommended").click()
    # The bundled model is tiny and learns faster with a larger rate: typed into the box beside the
    # slider, as a person who knows the number would (the slider follows it).
    set_number(page, "hp-learning-rate-box", "5e-4")
    set_number(page, "cfg-epochs", epochs)
    set_number(page, "cfg-batch_size", 16)
    page.locator("#hp-show-command").click()
    expect(page.locator("#hp-command")).to_be_visible(timeout=30_000)
    shot("hyperparameters")
    page.get_by_text("Run", exact=True).click()
    set_number(page, "cfg-logging_steps", 2)

    tab("Train")
    page.locator("#train-start").click()
    expect(page.locator("#train-progress")).to_contain_text("Finished", timeout=600_000)
    expect(page.locator("#train-results")).to_be_visible()
    shot("train")

    tab("Predict")
    expect(page.locator("#predict-about")).to_contain_text("Classes", timeout=60_000)
    page.locator("#predict-text textarea").fill("Can I change the delivery address after ordering?")
    page.locator("#predict-button").click()
    expect(page.locator("#predict-label")).to_contain_text("question", timeout=60_000)
    page.locator("#predict-upload input[type=file]").set_input_files(str(REPO / "assets" / "sample_reviews.csv"))
    expect(page.locator("#predict-result a").first).to_be_visible(timeout=120_000)
    shot("predict")

    tab("Runs")
    page.locator("#runs-picker input").click()
    page.get_by_role("option").first.click()
    expect(page.locator("#runs-summary")).to_contain_text("Finished", timeout=60_000)
    shot("runs")


def narrow(page, out: Path) -> None:
    """A phone-sized window, opened at that size as a phone would."""
    from playwright.sync_api import expect

    page.click("#data-example")
    expect(page.locator("#data-report")).to_contain_text("rows are usable", timeout=60_000)
    settle(page)
    page.screenshot(path=str(out / "narrow.png"), full_page=True)
    print(f"saved {out / 'narrow'}.png")


def main() -> int:
    from playwright.sync_api import sync_playwright

    args = parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bertstudio-shots-") as scratch:
        port = free_port()
        app = start_app(port, Path(scratch) / "runs", args.model, Path(scratch) / "app.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.set_default_timeout(60_000)
                page.goto(f"http://127.0.0.1:{port}/")
                walk(page, out, args.epochs)
                phone = browser.new_page(viewport={"width": 420, "height": 800})
                phone.goto(f"http://127.0.0.1:{port}/")
                narrow(phone, out)
                browser.close()
        finally:
            app.terminate()
            app.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
