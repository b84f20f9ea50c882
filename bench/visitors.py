"""Many visitors at once: 20 sessions load data, tokenize and predict while one run trains.

    python bench/visitors.py [--visitors 20] [--predictions 5] [--ramp 30] [--client auto|browser|api]
                             [--hosted] [--burst] [--first-run RUN_DIR] [--json] [--save bench/results]

What it does, on loopback only: trains one quick run with the CLI (so Predict has a model), starts
`python app.py` on a free port with a temporary runs folder and the bundled model, starts a long
training from one browser page, then opens `--visitors` more pages, each in its own browser
context (its own cookies and storage, as separate people), all in one headless chromium; they
arrive spread over `--ramp` seconds, as people do, and all stay open until the last is done. Each
visitor uploads the sample CSV and waits for the data report, waits for the Tokenizer tab's
length statistics, waits for the Predict tab's model description, then predicts `--predictions`
texts one after another. A prediction's latency runs from the click to the end of the page's own
loading indicator on the answer. Errors counted: a step that timed out, an error toast, a
problem box, a page error, an HTTP 5xx. Every wait has a timeout and every loop a bound; the app
and the training are stopped at the end (by the app's own process id).

`--client api` takes the same steps through gradio_client instead, one thread and one session
per visitor, calling the app's named events (load_data, prepare_data, measure_tokens,
predict_runs, predict_text): the server does the same work, without twenty browsers rendering
pages on the same processor. `auto` (the default) uses browsers on machines of 8 cores or more.

`--hosted` starts the app with BERTSTUDIO_HOSTED=1 (its limits, and each visitor sees only their
own runs): every visitor then gets a copy of the first run recorded as theirs, and sends its owner
token as a browser would. `--burst` is the load of a freshly started app: no training, no data or
tokenizer steps, every visitor (API client) released at once by a barrier into its first
prediction, so the first model loads of the process happen together. The app's peak resident
memory (VmHWM) is read just before it is stopped. `--first-run` reuses a finished run folder
instead of training one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO_ROOT, child_env, machine, publish  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
SAMPLE = REPO_ROOT / "assets" / "sample_reviews.csv"
TEXTS = ["Where is my parcel? It was due on Monday.", "Lovely mug, arrived quickly and well packed.",
         "The zip broke after two days, I want a refund.", "Can I change the colour of my order?",
         "Great service, thank you so much!", "Still no reply from support after a week."]

# Resolves with the milliseconds from the click to the end of the answer's loading indicator (the
# status tracker that gradio shows on #predict-label while the event runs), or -1 on timeout.
PREDICT_JS = """async (timeoutMs) => {
  const label = document.querySelector('#predict-label');
  const tracker = () => label.querySelector('[data-testid=status-tracker]');
  return await new Promise((resolve) => {
    let shown = false;
    const start = performance.now();
    const check = () => {
      const t = tracker();
      const hidden = !t || t.classList.contains('hide');
      if (!hidden) shown = true;
      else if (shown) { observer.disconnect(); clearTimeout(timer); resolve(performance.now() - start); }
    };
    const observer = new MutationObserver(check);
    observer.observe(label, {subtree: true, attributes: true, childList: true});
    const timer = setTimeout(() => { observer.disconnect(); resolve(-1); }, timeoutMs);
    document.querySelector('#predict-button').click();
  });
}"""


@dataclass
class Visitor:
    index: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    steps_s: dict[str, float] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_first_run(runs: Path, reuse: Path | None = None) -> None:
    """A quick finished run, so Predict has a model from the start (a copy of `reuse` if given)."""
    if reuse is not None:
        shutil.copytree(reuse, runs / reuse.name)
        return
    subprocess.run([sys.executable, "-m", "bertstudio", "train", "--data", str(SAMPLE), "--model", "bundled",
                    "--epochs", "2", "--batch-size", "16", "--max-length", "64", "--output-dir", str(runs)],
                   cwd=REPO_ROOT, env=child_env(), check=True, capture_output=True, timeout=600)


def give_each_visitor_a_run(runs: Path, visitors: int) -> list[dict[str, Any]]:
    """Hosted: a copy of the first run per visitor, recorded as started by that visitor's browser;
    returns each visitor's browser memory (owner token and runs), as the page would send it."""
    import secrets

    from bertstudio.hosting import record_owner

    first = next(path for path in runs.iterdir() if (path / "config.json").is_file())
    memories = []
    for index in range(visitors):
        run_id, owner = f"{first.name}-visitor{index}", secrets.token_urlsafe(18)
        shutil.copytree(first, runs / run_id)
        record_owner(runs, run_id, owner)
        memories.append({"owner": owner, "run_id": None, "runs": [run_id]})
    return memories


def start_app(runs: Path, port: int, log: Path, hosted: bool = False, timeout_s: float = 300) -> subprocess.Popen:
    env = {**child_env(), "GRADIO_ANALYTICS_ENABLED": "False", "BERTSTUDIO_RUNS_DIR": str(runs)}
    if hosted:
        env["BERTSTUDIO_HOSTED"] = "1"
    process = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
                               cwd=REPO_ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"app.py served no page within {timeout_s:.0f} s")


def peak_memory_mib(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM, Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (Linux), to tell the app's share of the load."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def step_count(runs: Path) -> int:
    """Logged training steps in every run's events file (the long run is the only one still growing)."""
    total = 0
    for events in runs.glob("*/events.jsonl"):
        total += sum(1 for line in events.read_text(encoding="utf-8").splitlines() if '"type": "step"' in line)
    return total


async def open_page(browser, url: str, visitor: Visitor | None = None):
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(180_000)
    if visitor is not None:
        page.on("pageerror", lambda error: visitor.errors.append(f"page error: {error}"))
        page.on("response", lambda response: response.status >= 500 and visitor.errors.append(
            f"HTTP {response.status} {response.url}"))
    await page.goto(url)
    return context, page


async def start_training(browser, url: str):
    """One page starts a long run (50 epochs of the sample data, one row per step) that trains
    through the whole bench; it is stopped at the end."""
    context, page = await open_page(browser, url)
    await page.locator("#data-example").click()
    await page.locator("#data-report").filter(has_text="rows are usable").wait_for()
    await page.get_by_role("tab", name="Hyperparameters").click()
    for name, value in (("cfg-epochs", 50), ("cfg-batch_size", 1)):
        box = page.locator(f"#{name} input[type=number]").first
        await box.fill(str(value))
        await box.press("Enter")
    await page.get_by_role("tab", name="Train").click()
    await page.locator("#train-start").click()
    await page.locator("#train-progress").filter(has_text="step").wait_for(timeout=300_000)
    return context, page


async def visit(browser, url: str, visitor: Visitor, predictions: int, timeout_s: float, delay: float) -> None:
    await asyncio.sleep(delay)
    context, page = await open_page(browser, url, visitor)
    try:
        async def timed(name: str, action) -> bool:
            start = time.perf_counter()
            try:
                await asyncio.wait_for(action(), timeout_s)
            except (asyncio.TimeoutError, Exception) as exc:  # noqa: BLE001 - every failure is counted
                visitor.errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
                return False
            visitor.steps_s[name] = time.perf_counter() - start
            return True

        async def load_data():
            await page.locator("#data-upload input[type=file]").set_input_files(str(SAMPLE))
            await page.locator("#data-report").filter(has_text="rows are usable").wait_for()

        async def tokenize():
            await page.get_by_role("tab", name="Tokenizer").click()
            await page.locator("#tok-length-facts").filter(has_text="Suggested max length").wait_for()

        async def open_predict():
            await page.get_by_role("tab", name="Predict").click()
            await page.locator("#predict-about").filter(has_text="Classes").wait_for()

        if not (await timed("data", load_data) and await timed("tokenizer", tokenize)
                and await timed("predict tab", open_predict)):
            return
        for i in range(predictions):
            await page.locator("#predict-text textarea").fill(TEXTS[(visitor.index + i) % len(TEXTS)])
            ms = await page.evaluate(PREDICT_JS, int(timeout_s * 1000))
            if ms < 0:
                visitor.errors.append(f"prediction {i}: no answer within {timeout_s:.0f} s")
                continue
            visitor.latencies_ms.append(ms)
        for box in ("#data-file-problem", "#data-column-problem", "#tok-model-problem", "#predict-problem"):
            text = (await page.locator(box).inner_text()).strip()
            if text:
                visitor.errors.append(f"{box}: {text[:200]}")
        toasts = await page.locator(".toast-body.error").count()
        if toasts:
            visitor.errors.append(f"{toasts} error toast(s)")
    finally:
        await context.close()


def visit_by_api(url: str, visitor: Visitor, predictions: int, timeout_s: float, delay: float,
                 memory: dict[str, Any] | None = None, burst: threading.Barrier | None = None) -> None:
    """The same steps as `visit`, as gradio_client calls in one session of the app; with `burst`,
    only the predictions, the first one released together with every other visitor's."""
    from gradio_client import Client, handle_file

    time.sleep(delay)
    memory = memory or {}

    def step(name: str, call):
        start = time.perf_counter()
        result = call()
        visitor.steps_s[name] = time.perf_counter() - start
        return result

    def problem(outputs, positions) -> None:
        for at in positions:
            if isinstance(outputs[at], str) and outputs[at].strip():
                visitor.errors.append(f"problem box: {outputs[at][:200]}")

    try:
        client = Client(url, verbose=False, httpx_kwargs={"timeout": timeout_s})
        endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        # Every control at its default, as on a freshly opened page; the columns are then suggested.
        form = [p.get("parameter_default") for p in endpoints["/prepare_data"]["parameters"]]

        def load_data():
            problem(client.predict(handle_file(str(SAMPLE)), api_name="/load_data"), [-1])
            report = client.predict(*form, api_name="/prepare_data")
            if "rows are usable" not in report[0]:
                visitor.errors.append(f"no data report: {report[0][:200]}")

        def tokenize():
            facts = client.predict("bundled", 128, api_name="/measure_tokens")[1]
            if "Suggested max length" not in facts:
                visitor.errors.append(f"no length statistics: {facts[:200]}")

        if burst is None:
            step("data", load_data)
            step("tokenizer", tokenize)
        run_id = step("predict tab", lambda: client.predict(memory, None, api_name="/predict_runs"))["value"]
        if burst is not None:
            burst.wait(timeout_s)
        for i in range(predictions):
            start = time.perf_counter()
            # PredictTab.shown: the Label view (one label per row), the per-label bars and the
            # answer text (several labels, a score), and the problem box; only the task's own are filled.
            label, _chart, answer, said = client.predict(run_id, TEXTS[(visitor.index + i) % len(TEXTS)], "",
                                                         memory, api_name="/predict_text")
            visitor.latencies_ms.append((time.perf_counter() - start) * 1000)
            said = said or ""
            answered = (isinstance(label, dict) and label.get("label")) or (isinstance(answer, str) and answer.strip())
            if said.strip() or not answered:
                visitor.errors.append(f"prediction {i}: {said[:200] or label or answer}")
    except Exception as exc:  # noqa: BLE001 - every failure is counted, with what it was
        visitor.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        if burst is not None:
            burst.abort()  # the others must not wait for a visitor that is gone


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


@dataclass
class Load:
    """What one bench run does: who comes, how, and to which app."""

    visitors: int
    predictions: int
    timeout_s: float
    ramp: float
    client: str
    hosted: bool = False
    burst: bool = False
    first_run: Path | None = None


async def visit_all(load: Load, browser, url: str, memories: list[dict[str, Any]]) -> tuple[list[Visitor], float]:
    """Every visitor's steps, arriving over the ramp (all at once in a burst); returns them and the wall time."""
    people = [Visitor(i) for i in range(load.visitors)]
    delays = [0.0 if load.burst else load.ramp * person.index / max(1, load.visitors - 1) for person in people]
    burst = threading.Barrier(load.visitors) if load.burst else None
    start = time.perf_counter()
    if load.client == "browser":
        await asyncio.gather(*(visit(browser, url, person, load.predictions, load.timeout_s, delay)
                               for person, delay in zip(people, delays)))
    else:
        # One thread per visitor: asyncio.to_thread's default pool has only cores + 4 threads, which
        # would let just 6 of 20 visitors in at a time on two cores (and never fill the barrier).
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=load.visitors) as pool:
            await asyncio.gather(*(loop.run_in_executor(pool, visit_by_api, url, person, load.predictions,
                                                        load.timeout_s, delay,
                                                        memories[person.index] if memories else None, burst)
                                   for person, delay in zip(people, delays)))
    return people, time.perf_counter() - start


async def run(load: Load, folder: Path) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    runs = folder / "runs"
    train_first_run(runs, load.first_run)
    memories = give_each_visitor_a_run(runs, load.visitors) if load.hosted else []
    port = free_port()
    app = start_app(runs, port, folder / "app.log", hosted=load.hosted, timeout_s=load.timeout_s)
    url = f"http://127.0.0.1:{port}/"
    steps_during, progress, peak_mib = 0, "", None
    try:
        if load.burst:  # a freshly started app: nothing has trained or predicted in it yet
            server_cpu = process_cpu_seconds(app.pid)
            people, wall = await visit_all(load, None, url, memories)
            server_cpu = process_cpu_seconds(app.pid) - server_cpu
        else:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                trainer_context, trainer = await start_training(browser, url)
                steps_before = step_count(runs)
                server_cpu = process_cpu_seconds(app.pid)
                people, wall = await visit_all(load, browser, url, memories)
                server_cpu = process_cpu_seconds(app.pid) - server_cpu
                steps_during = step_count(runs) - steps_before
                progress = (await trainer.locator("#train-progress").inner_text()).strip()
                await trainer.locator("#train-stop").click()
                await trainer_context.close()
                await browser.close()
        peak_mib = peak_memory_mib(app.pid)
    finally:
        app.terminate()
        try:
            app.wait(30)
        except subprocess.TimeoutExpired:
            app.kill()
    latencies = [ms for person in people for ms in person.latencies_ms]
    errors = [f"visitor {person.index}: {error}" for person in people for error in person.errors]
    step_means = {name: statistics.fmean(p.steps_s[name] for p in people if name in p.steps_s)
                  for name in ("data", "tokenizer", "predict tab")
                  if any(name in p.steps_s for p in people)}
    return {"client": load.client, "hosted": load.hosted, "burst": load.burst, "visitors": load.visitors,
            "predictions_per_visitor": load.predictions, "ramp_seconds": 0.0 if load.burst else load.ramp,
            "server_cpu_seconds": server_cpu, "app_peak_rss_mib": peak_mib,
            "predictions_answered": len(latencies), "errors": len(errors), "error_list": errors[:50],
            "predict_ms_p50": percentile(latencies, 0.50), "predict_ms_p95": percentile(latencies, 0.95),
            "predict_ms_max": max(latencies) if latencies else None,
            "mean_step_seconds": step_means, "wall_seconds": wall,
            "training_steps_logged_meanwhile": steps_during, "training_progress_at_end": progress[:200],
            "machine": machine()}


def describe(result: dict[str, Any]) -> str:
    """The result as a few plain lines."""
    mode = ("hosted " if result["hosted"] else "") + f"{result['client']} visitors"
    if result["burst"]:
        text = f"{result['visitors']} {mode} on a freshly started app, first predictions released at once: "
    else:
        text = f"{result['visitors']} {mode} (arriving over {result['ramp_seconds']:g} s) while one run trains: "
    p50, p95 = result["predict_ms_p50"], result["predict_ms_p95"]
    text += (f"{result['predictions_answered']} predictions answered, {result['errors']} errors\n"
             f"predict latency: p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {result['predict_ms_max']:.0f} ms\n"
             if p50 is not None else f"{result['errors']} errors, no prediction answered\n")
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result["mean_step_seconds"].items())
    peak = result["app_peak_rss_mib"]
    text += (f"mean time per visitor step: {steps}; all visitors done in {result['wall_seconds']:.0f} s, "
             f"the app using {result['server_cpu_seconds']:.0f} CPU seconds meanwhile, peak memory "
             f"{f'{peak:.0f} MiB' if peak else 'unknown'}\n")
    if not result["burst"]:
        text += (f"training meanwhile: {result['training_steps_logged_meanwhile']} steps logged "
                 f"({result['training_progress_at_end'][:80]!r})\n")
    text += f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores\n"
    for error in result["error_list"][:10]:
        text += f"  {error}\n"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--predictions", type=int, default=5, help="texts each visitor predicts, one at a time")
    parser.add_argument("--ramp", type=float, default=30, help="seconds over which the visitors arrive")
    parser.add_argument("--client", choices=("auto", "browser", "api"), default="auto",
                        help="real browsers, or gradio_client sessions (auto: browsers on 8+ cores)")
    parser.add_argument("--hosted", action="store_true", help="start the app with BERTSTUDIO_HOSTED=1 (API client)")
    parser.add_argument("--burst", action="store_true",
                        help="a fresh app, no training: only predictions, the first ones all at once (API client)")
    parser.add_argument("--first-run", type=Path, help="a finished run folder to copy instead of training one")
    parser.add_argument("--timeout", type=float, default=300, help="seconds any one step may take")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--save", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the temporary runs folder and app log")
    args = parser.parse_args(argv)
    client = args.client if args.client != "auto" else ("browser" if (os.cpu_count() or 1) >= 8 else "api")
    if client == "browser" and (args.hosted or args.burst):
        # A hosted visitor's runs are found by the owner token in its browser's memory, which
        # only the API client can be handed; a burst is many first calls at one instant.
        print("--hosted and --burst take the API client (--client api)", file=sys.stderr)
        return 2
    if not args.burst and not CHROMIUM.exists():
        print("needs /usr/bin/chromium (apt-get install chromium) and playwright for Python", file=sys.stderr)
        return 2
    load = Load(args.visitors, args.predictions, args.timeout, args.ramp, client, hosted=args.hosted,
                burst=args.burst, first_run=args.first_run.resolve() if args.first_run else None)
    folder = Path(tempfile.mkdtemp(prefix="bertstudio-visitors-"))
    try:
        result = asyncio.run(run(load, folder))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    stem = "visitors" + ("-hosted" if args.hosted else "") + ("-burst" if args.burst else "")
    publish(args, stem, result, describe(result))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
