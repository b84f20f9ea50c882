"""After a restart: the runs whose training process, started by an earlier server, still lives."""

from __future__ import annotations

from pathlib import Path

from bertstudio.launch.child import Child
from bertstudio.runs.folder import RunRecord, list_runs


def still_training(runs_dir: str | Path) -> list[RunRecord]:
    """Runs without an end event whose child process (named in launch.json) is alive on this
    host, oldest first: the one that has held the device longest is the one training."""
    found = [record for record in list_runs(runs_dir)
             if record.ending is None and record.config is not None and not record.damage
             and Child.find(Path(record.path)) is not None]
    return sorted(found, key=lambda record: record.created)
