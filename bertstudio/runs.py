"""The run folder: its layout, atomic writes, environment record, status and listing.

A run folder describes itself; status, "latest run" and listings read its files, never its name.

    runs/<run-id>/
        config.json  data.json  environment.json  process.json  events.jsonl  metrics.json
        model/  README.md  validation_predictions.csv
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import shutil
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bertstudio.atomic import write_json_atomic, write_text_atomic
from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.events import last_terminal_type

CONFIG_FILE = "config.json"
DATA_FILE = "data.json"
ENVIRONMENT_FILE = "environment.json"
PROCESS_FILE = "process.json"
EVENTS_FILE = "events.jsonl"
METRICS_FILE = "metrics.json"
MODEL_DIR = "model"
CARD_FILE = "README.md"
PREDICTIONS_FILE = "validation_predictions.csv"


def new_run_id(name: str | None = None) -> str:
    """Sortable by time, readable, and unguessable thanks to 48 random bits."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^a-z0-9]+", "-", (name or "run").lower()).strip("-")[:40] or "run"
    return f"{stamp}-{slug}-{secrets.token_hex(6)}"


@dataclass
class RunFolder:
    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, output_dir: str | Path, run_id: str) -> "RunFolder":
        path = Path(output_dir) / run_id
        try:
            path.mkdir(parents=True, exist_ok=False)
        except FileExistsError as exc:
            raise StudioError(f"A run folder '{path}' already exists; choose another run name.") from exc
        except OSError as exc:
            raise StudioError(f"Cannot create the run folder '{path}'; check that the runs folder is "
                              "writable and the disk has space.", detail=str(exc)) from exc
        return cls(path)

    def file(self, name: str) -> Path:
        return self.path / name

    def write_json(self, name: str, data: Any) -> Path:
        return write_json_atomic(self.file(name), data)

    def write_text(self, name: str, text: str) -> Path:
        return write_text_atomic(self.file(name), text)

    def read_json(self, name: str) -> Any:
        path = self.file(name)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def mark_process(self) -> None:
        """Record who runs this, so a listing can tell a live run from one whose process died."""
        self.write_json(PROCESS_FILE, {"pid": os.getpid(), "host": socket.gethostname(),
                                       "started": time.time()})

    def status(self) -> str:
        """'finished', 'stopped', 'failed', 'running', or 'interrupted' (process gone, no end event)."""
        ended = last_terminal_type(self.file(EVENTS_FILE))
        if ended:
            return ended
        return "running" if _process_alive(self.read_json(PROCESS_FILE)) else "interrupted"


def _process_alive(info: dict | None) -> bool:
    if not info or info.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return False
    return True


def environment_record(device: str, precision: str, seed: int, num_processes: int) -> dict[str, Any]:
    """Versions and hardware, so a result can be traced to what produced it."""
    import accelerate
    import datasets
    import tokenizers
    import torch
    import transformers

    from bertstudio import __version__

    record = {
        "bertstudio": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "accelerate": accelerate.__version__,
        "datasets": datasets.__version__,
        "device": device,
        "precision": precision,
        "seed": seed,
        "num_processes": num_processes,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "created": datetime.now(timezone.utc).isoformat(),
    }
    if torch.cuda.is_available():
        record["gpu"] = torch.cuda.get_device_name(0)
        record["cuda"] = torch.version.cuda
    return record


@dataclass
class RunSummary:
    """One row of a runs listing."""

    run_id: str
    path: str
    status: str
    created: float
    model: str
    data: str | None
    labels: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def has_model(self) -> bool:
        return (Path(self.path) / MODEL_DIR / "config.json").exists()


def list_runs(output_dir: str | Path) -> list[RunSummary]:
    """Every run under `output_dir`, newest first; folders that are not runs are skipped."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    summaries = []
    for path in root.iterdir():
        run = RunFolder(path)
        config = run.read_json(CONFIG_FILE)
        if not path.is_dir() or not isinstance(config, dict):
            continue
        data = run.read_json(DATA_FILE) or {}
        metrics = run.read_json(METRICS_FILE) or {}
        summaries.append(RunSummary(
            run_id=path.name, path=str(path), status=run.status(),
            created=path.joinpath(CONFIG_FILE).stat().st_mtime,
            model=str(config.get("model", "")), data=data.get("file_name") or config.get("data"),
            labels=list(data.get("labels", [])), metrics=metrics))
    return sorted(summaries, key=lambda s: s.created, reverse=True)


def latest_finished_run(output_dir: str | Path) -> RunSummary | None:
    """The newest run that left a usable model (finished or stopped)."""
    for summary in list_runs(output_dir):
        if summary.status in ("finished", "stopped") and summary.has_model:
            return summary
    return None


def delete_run(output_dir: str | Path, run_id: str) -> None:
    """Remove one run folder; refuses ids that would reach outside `output_dir`."""
    root = Path(output_dir).resolve()
    target = (root / run_id).resolve()
    if target.parent != root or not (target / CONFIG_FILE).exists():
        raise StudioError(f"There is no run '{run_id}' to delete.")
    if RunFolder(target).status() == "running":
        raise StudioError(f"Run '{run_id}' is still training; stop it before deleting it.")
    shutil.rmtree(target)


def model_dir_of(path: str | Path) -> Path:
    """A run folder's model/ sub-folder, or the folder itself when it is a saved model."""
    path = Path(path)
    if (path / MODEL_DIR / "config.json").exists():
        return path / MODEL_DIR
    return path
