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


def with_account_key(settings: AppSettings) -> AppSettings:
    """These settings with the server's key for signed-in visitors' owners (`accounts.account_secret`),
    made once in the runs folder; hosted only (a personal install has no accounts)."""
    from dataclasses import replace

    from bertstudio.accounts import account_secret

    if not settings.hosting.hosted or settings.hosting.account_key:
        return settings
    return replace(settings, hosting=replace(settings.hosting, account_key=account_secret(settings.runs_dir)))


def default_runs_dir() -> Path:
    return Path(os.environ.get("BERTSTUDIO_RUNS_DIR") or "runs")
