"""A search's folder, `<output_dir>/search-<id>/`: what was searched and how (search.json), one row
per trial (trials.csv), and the winner (best.json, plus best_config.json that `bertstudio train
--config` re-runs as is). Rewritten whole after every trial, so a reader never sees half a file.

The folder holds no config.json, so the runs list does not take it for a run; the trials' run
folders sit beside it in the runs folder, as ordinary runs.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bertstudio.atomic import write_json_atomic, write_text_atomic
from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError

FORMAT_VERSION = 1
SEARCH_FILE = "search.json"
TRIALS_FILE = "trials.csv"
BEST_FILE = "best.json"
BEST_CONFIG_FILE = "best_config.json"


@dataclass
class TrialRecord:
    number: int
    state: str  # "complete" | "pruned" | "failed" | "stopped"
    params: dict[str, Any]
    value: float | None
    run_dir: str | None
    seconds: float
    note: str = ""


@dataclass
class SearchRecord:
    """Everything search.json says; `trials` grows as the search goes."""

    search_id: str
    metric: str
    higher_is_better: bool
    space: list[dict[str, Any]]
    fixed: dict[str, Any]
    sampler: dict[str, Any]
    pruner: dict[str, Any]
    trials_requested: int | None
    time_budget_seconds: float | None
    base_config: dict[str, Any]
    status: str = "running"
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    trials: list[TrialRecord] = field(default_factory=list)
    best_number: int | None = None


def new_search_id() -> str:
    """Sortable by time, like a run id, and unique thanks to 48 random bits."""
    return f"search-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(6)}"


def create_folder(output_dir: str | Path, search_id: str) -> Path:
    path = Path(output_dir) / search_id
    try:
        path.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise StudioError(f"The search folder '{path}' cannot be created; check that the runs folder "
                          "is writable, or pick another with --output-dir.", detail=str(exc)) from exc
    return path


def best_trial(record: SearchRecord) -> TrialRecord | None:
    """The complete trial with the best value; when none completed, the best of those that were
    cut short (pruned or stopped), whose model is kept too. Ties go to the earlier trial."""
    for states in (("complete",), ("pruned", "stopped")):
        scored = [t for t in record.trials if t.state in states and t.value is not None]
        if scored:
            sign = 1 if record.higher_is_better else -1
            return max(scored, key=lambda t: (sign * t.value, -t.number))
    return None


def write_record(folder: Path, record: SearchRecord, best_config: TrainConfig | None) -> None:
    """search.json and trials.csv; best.json and best_config.json once there is a best trial."""
    best = next((t for t in record.trials if t.number == record.best_number), None)
    write_json_atomic(folder / SEARCH_FILE, {"format": FORMAT_VERSION, **asdict(record)})
    write_text_atomic(folder / TRIALS_FILE, _trials_csv(record))
    if best is not None and best_config is not None:
        write_json_atomic(folder / BEST_CONFIG_FILE, best_config.to_dict())
        write_json_atomic(folder / BEST_FILE, {
            "format": FORMAT_VERSION, "number": best.number, "state": best.state, "metric": record.metric,
            "value": best.value, "params": best.params, "run_dir": best.run_dir,
            "config": str(folder / BEST_CONFIG_FILE),
            "rerun": f"bertstudio train --config {folder / BEST_CONFIG_FILE}"})


def _trials_csv(record: SearchRecord) -> str:
    names = [dim["name"] for dim in record.space]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["number", "state", record.metric, "seconds", *names, "run_dir", "note"])
    for t in record.trials:
        writer.writerow([t.number, t.state, "" if t.value is None else t.value, round(t.seconds, 1),
                         *(t.params.get(n, "") for n in names), t.run_dir or "", t.note])
    return buffer.getvalue()
