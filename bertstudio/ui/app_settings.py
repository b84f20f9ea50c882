"""How this studio is deployed: its runs folder, private runs, hosted limits and where files go."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bertstudio.hosting import UPLOADS_DIR, HostingSettings


@dataclass(frozen=True)
class AppSettings:
    runs_dir: Path
    private_runs: bool = False        # a shared deployment: each browser sees only its own runs
    default_model: str = "bundled"    # works offline
    example_data: Path | None = None
    hosting: HostingSettings = field(default_factory=HostingSettings)  # limits; all off unless hosted
    downloads_root: Path | None = None  # parent of the visitors' download folders (system temp if None)

    @property
    def limits(self) -> HostingSettings | None:
        """The hosted limits when they apply, else None (handlers then check nothing)."""
        return self.hosting if self.hosting.hosted else None

    @property
    def uploads_dir(self) -> Path | None:
        """Where hosted uploads are kept so that an interrupted run can be resumed after a restart."""
        return Path(self.runs_dir) / UPLOADS_DIR if self.hosting.hosted else None


def default_runs_dir() -> Path:
    return Path(os.environ.get("BERTSTUDIO_RUNS_DIR") or "runs")
