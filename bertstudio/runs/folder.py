"""The run folder: its layout, atomic writes, environment record, status and listing.

A run folder describes itself; status, "latest run" and listings read its files, never its name.
Every reader of a run goes through `read_run` (or `read_config` for the settings alone), which
never raises: a damaged file makes the run "damaged", with one sentence naming the file, and the
other runs are listed as ever. A run id is a plain folder name (`is_safe_run_id`), checked here
for every module that takes one from a browser or a file.

    runs/<run-id>/
        run.json  config.json  data.json  environment.json  process.json  events.jsonl  metrics.json
        model/  README.md  validation_predictions.csv

`run.json` says which layout the folder has ({"format": RUN_FORMAT}). Format 1 is a folder from
before run.json existed, the same files otherwise: it loads as ever. A folder of a newer format
than this copy knows is listed, with a sentence saying to update BERT Studio, and not opened.
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
from bertstudio.events import Event, decode_line, last_terminal_event, metrics_problem
from bertstudio.runs.checkpoint_state import STATE_FILE, checkpoint_dir, checkpoint_step

RUN_FILE = "run.json"
CONFIG_FILE = "config.json"
DATA_FILE = "data.json"
ENVIRONMENT_FILE = "environment.json"
PROCESS_FILE = "process.json"
EVENTS_FILE = "events.jsonl"
METRICS_FILE = "metrics.json"
MODEL_DIR = "model"
CARD_FILE = "README.md"
PREDICTIONS_FILE = "validation_predictions.csv"

# The layout this copy writes. 1: no run.json (folders made before it); 2: run.json names the format.
RUN_FORMAT = 2


def new_run_id(name: str | None = None) -> str:
    """Sortable by time, readable, and unguessable thanks to 48 random bits."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^a-z0-9]+", "-", (name or "run").lower()).strip("-")[:40] or "run"
    return f"{stamp}-{slug}-{secrets.token_hex(6)}"


def is_safe_run_id(run_id: Any) -> bool:
    """Whether `run_id` (from a browser, a file or a flag) names one folder directly inside the runs
    folder: not empty, not hidden or `..`, and no path separator or NUL that could reach elsewhere."""
    return (isinstance(run_id, str) and bool(run_id) and not run_id.startswith(".")
            and not any(ch in run_id for ch in "/\\\x00"))


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
        try:
            write_json_atomic(path / RUN_FILE, {"format": RUN_FORMAT})
        except OSError as exc:
            shutil.rmtree(path, ignore_errors=True)
            raise StudioError(f"Cannot write into the run folder '{path}'; check that the runs folder is "
                              "writable and the disk has space.", detail=str(exc)) from exc
        return cls(path)

    def file(self, name: str) -> Path:
        return self.path / name

    def write_json(self, name: str, data: Any) -> Path:
        return write_json_atomic(self.file(name), data)

    def write_text(self, name: str, text: str) -> Path:
        return write_text_atomic(self.file(name), text)

    def read_json(self, name: str) -> Any:
        """A JSON file of the run, or None when it is missing or cannot be read as JSON."""
        try:
            return _read_json(self.file(name))
        except (FileNotFoundError, _Unreadable):
            return None

    def mark_process(self) -> None:
        """Record who runs this, so a listing can tell a live run from one whose process died."""
        self.write_json(PROCESS_FILE, {"pid": os.getpid(), "host": socket.gethostname(),
                                       "started": time.time()})

    def clear_process(self) -> None:
        """The run's process is done with it (removing a file needs no free disk space)."""
        try:
            self.file(PROCESS_FILE).unlink(missing_ok=True)
        except OSError:
            pass

    def status(self) -> str:
        """'finished', 'stopped', 'failed', 'running', or 'interrupted' (process gone, no end event)."""
        return _status(last_terminal_event(self.file(EVENTS_FILE)), self.read_json(PROCESS_FILE))


def _status(ending: Event | None, process: Any) -> str:
    if ending is not None:
        return ending.type
    return "running" if _process_alive(process) else "interrupted"


def _process_alive(info: Any) -> bool:
    if not isinstance(info, dict) or info.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError, OverflowError):
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


JSON_MAX_BYTES = 64 * 2**20  # a run's JSON files are KB to a few MB; far bigger is not one of ours


class _Unreadable(Exception):
    """A run file that exists but cannot be used; the message completes "<file> ..."."""


def _read_json(path: Path) -> Any:
    """Parsed JSON; FileNotFoundError when absent, _Unreadable (a plain reason) when unusable."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(JSON_MAX_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _Unreadable("cannot be opened") from exc
    if len(raw) > JSON_MAX_BYTES:
        raise _Unreadable("is far too large to be one of the run's files")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _Unreadable("is not text") from exc
    except (ValueError, RecursionError) as exc:
        raise _Unreadable("is not valid JSON") from exc


@dataclass
class RunRecord:
    """A run folder read back whole: the typed config, the data record, metrics and status.

    `damage` is one sentence naming the file that could not be used; the run's status is then
    "damaged", and it can be deleted but not opened for predictions or resumed.
    """

    run_id: str
    path: str
    status: str  # finished | stopped | failed | running | interrupted | damaged
    created: float
    model: str
    data: str | None  # the training file's name, as listings show it
    labels: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    config: TrainConfig | None = None
    data_record: dict[str, Any] = field(default_factory=dict)  # data.json as written
    ending: Event | None = None  # the Finished, Stopped or Failed event, once the run has ended
    damage: str | None = None
    damaged_file: str | None = None  # the file `damage` names, for a listing's short status
    format: int = 1  # the folder's layout (run.json); 1 for folders from before it existed

    @property
    def status_text(self) -> str:
        """The status as a listing shows it: 'damaged (config.json)' says which file at a glance."""
        return f"damaged ({self.damaged_file})" if self.damage else self.status

    @property
    def warning(self) -> str | None:
        """The sentence a run ended with when its model learned nothing useful (metrics.json's
        "warning", else its end event's), or None; only a finished or stopped run has a model
        it speaks of (metrics.json is written just before the end event, which may not be)."""
        return warning_of(self.metrics, self.ending) if self.status in ("finished", "stopped") else None

    @property
    def has_model(self) -> bool:
        return (Path(self.path) / MODEL_DIR / "config.json").exists()

    @property
    def failure(self) -> str:
        """The plain sentence a failed run ended with ("" otherwise)."""
        return getattr(self.ending, "message", "") if self.status == "failed" else ""

    @property
    def resumable(self) -> bool:
        """Cut off by a restart, or failed for a cause outside the run (a full disk), with a
        checkpoint to carry on from."""
        cut_off = self.status == "interrupted" or (self.status == "failed" and getattr(self.ending, "resumable", False))
        return cut_off and checkpoint_dir(self.path) is not None


RunSummary = RunRecord  # the name listings used before the reader was typed


def warning_of(metrics: Any, ending: Event | None = None) -> str | None:
    """A run's learned-nothing sentence from its metrics (or end event); None when there is none
    or it is not text (a damaged file must not put a dict on a page)."""
    for warning in ((metrics or {}).get("warning") if isinstance(metrics, dict) else None,
                    getattr(ending, "warning", None)):
        if isinstance(warning, str) and warning.strip():
            return warning
    return None


def run_warning(path: str | Path) -> str | None:
    """The learned-nothing sentence of the run in `path`, from its metrics.json alone (cheaper
    than `read_run` for a page that only needs this)."""
    return warning_of(RunFolder(Path(path)).read_json(METRICS_FILE))


def is_run_folder(path: str | Path) -> bool:
    """A run's folder: it has the config.json every run gets first (a saved model's is not one)."""
    path = Path(path)
    try:
        return (path / CONFIG_FILE).is_file() and not _is_saved_model(path)
    except OSError:
        return False


def read_config(path: str | Path) -> TrainConfig | None:
    """The settings a run was started with, typed; None when `path` is not a run or its
    config.json cannot be used (`read_run` says why). Never raises."""
    return _read_config(Path(path), []) if is_run_folder(path) else None


def read_run(path: str | Path) -> RunRecord | None:
    """The run in `path`, or None when it is not a run folder (no config.json). Never raises."""
    path = Path(path)
    if not is_run_folder(path):
        return None
    try:
        created = (path / CONFIG_FILE).stat().st_mtime
    except OSError:
        return None
    problems: list[str] = []
    layout = _read_format(path, problems)
    if layout > RUN_FORMAT:
        return RunRecord(run_id=path.name, path=str(path), status="damaged", created=created, model="",
                         data=None, format=layout, damaged_file=RUN_FILE,
                         damage=f"This run was saved by a newer BERT Studio (run format {layout}; this copy "
                                f"reads up to {RUN_FORMAT}); update BERT Studio to open it.")
    config = _read_config(path, problems)
    data = _read_object(path / DATA_FILE, problems, _data_problem)
    metrics = _read_object(path / METRICS_FILE, problems, metrics_problem)
    events = path / EVENTS_FILE
    ending = last_terminal_event(events)
    if ending is None and _nothing_readable(events):
        problems.append(f"{EVENTS_FILE} holds no readable event")
    process = RunFolder(path).read_json(PROCESS_FILE)
    damage = damaged_file = None
    if problems:  # each problem starts with its file's name
        damage = f"This run is damaged: {problems[0]}; delete it, or repair that file."
        damaged_file = problems[0].split(" ", 1)[0]
    model = config.model if config is not None else ""
    return RunRecord(
        run_id=path.name, path=str(path), status="damaged" if damage else _status(ending, process),
        created=created, model=model,
        data=data.get("file_name") or (Path(config.data).name if config is not None and config.data else None),
        labels=list(data.get("labels", [])), metrics=metrics, config=config, data_record=data, ending=ending,
        damage=damage, damaged_file=damaged_file, format=layout)


_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def _is_saved_model(path: Path) -> bool:
    """A bare `save_pretrained` folder (its config.json is the model's, not a TrainConfig): weights
    beside it and no event log, which every run folder gets before its model."""
    return not (path / EVENTS_FILE).exists() and any((path / name).is_file() for name in _WEIGHT_FILES)


def _read_format(path: Path, problems: list[str]) -> int:
    """The layout run.json names; 1 when there is none (a folder from before it existed)."""
    try:
        value = _read_json(path / RUN_FILE)
    except FileNotFoundError:
        return 1
    except _Unreadable as exc:
        problems.append(f"{RUN_FILE} {exc}")
        return 1
    layout = value.get("format") if isinstance(value, dict) else None
    if isinstance(layout, bool) or not isinstance(layout, int) or layout < 1:
        problems.append(f"{RUN_FILE} is malformed: its 'format' is not a whole number from 1")
        return 1
    return layout


def _read_config(path: Path, problems: list[str]) -> TrainConfig | None:
    try:
        raw = _read_json(path / CONFIG_FILE)
        return TrainConfig.from_dict(raw)
    except FileNotFoundError:
        problems.append(f"{CONFIG_FILE} is missing")
    except _Unreadable as exc:
        problems.append(f"{CONFIG_FILE} {exc}")
    except StudioError as exc:
        problems.append(f"{CONFIG_FILE} is not a valid config ({exc.message.rstrip('.')})")
    return None


def _read_object(file: Path, problems: list[str], check) -> dict[str, Any]:
    """A JSON object file of the run ({} when absent, as in a run that has not got that far)."""
    try:
        value = _read_json(file)
    except FileNotFoundError:
        return {}
    except _Unreadable as exc:
        problems.append(f"{file.name} {exc}")
        return {}
    problem = check(value)
    if problem:
        problems.append(f"{file.name} is malformed: {problem}")
        return {}
    return value


def _data_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "it is not a JSON object"
    labels = data.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        return "its labels are not a list of names"
    for key in ("file_name", "validation_file_name", "path", "fingerprint"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return f"its '{key}' is not text"
    for key in ("columns", "report", "label2id"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            return f"its '{key}' is not a JSON object"
    return None


def _nothing_readable(events: Path) -> bool:
    """A non-empty events.jsonl of which not one line is an event (binary junk, another format)."""
    try:
        if events.stat().st_size == 0:
            return False
    except OSError:
        return False
    try:
        with open(events, "rb") as handle:
            head = handle.read(1 << 20)  # a readable log says so in its first line
    except OSError:
        return True
    lines = head.splitlines()[:-1] if not head.endswith(b"\n") else head.splitlines()
    return bool(lines) and not any(decode_line(line) for line in lines if line.strip())


def list_runs(output_dir: str | Path) -> list[RunRecord]:
    """Every run under `output_dir`, newest first; folders that are not runs are skipped, damaged
    ones are listed as damaged."""
    root = Path(output_dir)
    try:
        paths = [path for path in root.iterdir() if path.is_dir()]
    except OSError:
        return []
    records = [record for path in paths if (record := read_run(path)) is not None]
    return sorted(records, key=lambda r: r.created, reverse=True)


def latest_finished_run(output_dir: str | Path) -> RunRecord | None:
    """The newest run that left a usable model (finished or stopped)."""
    for record in list_runs(output_dir):
        if record.status in ("finished", "stopped") and record.has_model:
            return record
    return None


def run_to_resume(path: str | Path) -> RunRecord:
    """The run in `path` if it can carry on from its checkpoint; a plain StudioError if not."""
    record = read_run(path)
    if record is None:
        raise StudioError(f"'{path}' is not a run folder (it has no config.json); pass the folder that "
                          "`bertstudio train` printed.")
    if record.damage:
        raise StudioError(record.damage)
    if not record.resumable:
        if record.status in ("interrupted", "failed"):
            raise StudioError(f"This run is {record.status} and has no checkpoint to carry on from (or failed "
                              "in a way that would only repeat); start a new run with the same settings.")
        raise StudioError(f"This run is {record.status}, not interrupted; only a run cut off by a restart "
                          "or a full disk can be resumed.")
    if checkpoint_step(path) is None:  # refused here, before a failed attempt overwrites its status
        raise StudioError(f"The checkpoint of this run is damaged ({STATE_FILE} cannot be read); start a new "
                          "run with the same settings instead.")
    return record


def delete_run(output_dir: str | Path, run_id: str) -> None:
    """Remove one run folder; refuses ids that would reach outside `output_dir`."""
    root = Path(output_dir).resolve()
    target = (root / run_id).resolve() if is_safe_run_id(run_id) else root
    # resolve() as well: a symlinked run folder would lead outside the runs folder.
    if target.parent != root or not is_run_folder(target):
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
