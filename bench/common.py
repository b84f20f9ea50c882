"""Helpers the benchmark scripts share: A-B-B-A ordering, fresh-process runs, machine facts, peak memory."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "BENCH-RESULT "  # a child's one line of JSON on stdout starts with this


def abba_order(variants: Sequence[str], repeats: int) -> list[str]:
    """A B C C B A (A B C ...): every variant meets early and late slots alike, so a machine that
    slows down or speeds up during the benchmark tilts no variant's mean."""
    forward, order = list(variants), []
    for i in range(repeats):
        order.extend(forward if i % 2 == 0 else forward[::-1])
    return order


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    # The benchmark's own code must come from this checkout, installed or not.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_child(argv: list[str], timeout: float | None = None) -> dict[str, Any]:
    """Run `python argv...` in a fresh process and return the JSON it reported.

    A fresh process per measurement: peak RSS, thread pools and allocator state then belong to
    one variant alone, and nothing warmed by the previous variant helps the next.
    """
    proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=child_env(),
                          cwd=REPO_ROOT, timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    raise RuntimeError(f"child {argv} exited with {proc.returncode} and no result:\n"
                       f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def report_result(result: dict[str, Any]) -> None:
    """The child's side of run_child."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def peak_memory_mib() -> float:
    """Peak resident memory of this process on the CPU; peak allocated GPU memory under CUDA."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def machine() -> dict[str, Any]:
    """What the numbers were measured on, written next to them."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), "")
    except OSError:
        flags = ""
    record = {
        "cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "avx512_bf16": " avx512_bf16" in flags, "amx": " amx_tile" in flags,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(), "torch": torch.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        import accelerate
        import transformers
        record.update(transformers=transformers.__version__, accelerate=accelerate.__version__)
    except ImportError:
        pass
    return record


def mean_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.fmean(values) if values else None


def publish(args, stem: str, payload: dict[str, Any], text: str) -> None:
    """Every benchmark's ending: the JSON record (--json) or the table on stdout, and with --save
    FOLDER both kept as FOLDER/<stem>.json and .txt."""
    print(json.dumps(payload, indent=2) if args.json else text)
    if args.save:
        folder = Path(args.save)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{stem}.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        (folder / f"{stem}.txt").write_text(text, encoding="utf-8")
