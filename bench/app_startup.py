"""Seconds from `python app.py` to a served page (HTTP 200 on /), measured a few times.

    python bench/app_startup.py [--repeats 3] [--json] [--save bench/results] [-- extra app.py flags]

Each start gets a free port and a temporary runs folder, and the app is stopped (by its own
process id) once the page has been served.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO_ROOT, child_env, machine, publish  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def served(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def time_one_start(extra: list[str], timeout: float) -> float:
    port = free_port()
    with tempfile.TemporaryDirectory() as runs:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port),
                                 "--runs-dir", runs, *extra], cwd=REPO_ROOT, env=child_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            while time.perf_counter() - start < timeout:
                if proc.poll() is not None:
                    raise RuntimeError(f"app.py exited with {proc.returncode}: "
                                       f"{proc.stderr.read().decode(errors='replace')[-2000:]}")
                if served(f"http://127.0.0.1:{port}/"):
                    return time.perf_counter() - start
                time.sleep(0.05)
            raise RuntimeError(f"app.py served no page within {timeout:.0f} s")
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--save", type=Path)
    parser.add_argument("extra", nargs="*", help="flags passed on to app.py (after --)")
    args = parser.parse_args(argv)
    seconds = [time_one_start(args.extra, args.timeout) for _ in range(args.repeats)]
    payload: dict[str, Any] = {"seconds": seconds, "mean_s": statistics.fmean(seconds),
                               "min_s": min(seconds), "max_s": max(seconds), "machine": machine()}
    text = (f"python app.py -> served page: {', '.join(f'{s:.2f}' for s in seconds)} s "
            f"(mean {payload['mean_s']:.2f} s)\nmachine: {payload['machine']['cpu']}, "
            f"{payload['machine']['cores']} cores; load average {payload['machine']['load_average']}\n")
    publish(args, "app_startup", payload, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
