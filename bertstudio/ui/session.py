"""Per-visitor state: a registry of objects that cannot live in gr.State, and what the browser remembers.

Two visitors never share anything through here: every object is filed under the visitor's own
session hash and dropped when the page unloads. What must outlive a reload (the owner token and
the runs this browser started) lives in the browser itself via gr.BrowserState.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")
RUNS_REMEMBERED = 50


@dataclass
class SessionObjects:
    """A visitor's loaded tokenizer and predictor (not deep-copyable) and their downloads folder."""

    tokenizer_name: str | None = None
    tokenizer: Any = None
    predictor_path: str | None = None
    predictor: Any = None
    downloads: Path | None = None
    downloads_root: Path | None = None  # where the folder is made (the system temp folder if None)

    def downloads_dir(self) -> Path:
        """A private folder, with a random name, for this visitor's files (config JSON, predictions,
        zips). Every file the page offers for download is written here and nowhere else."""
        if self.downloads is None:
            if self.downloads_root is not None:
                self.downloads_root.mkdir(parents=True, exist_ok=True)
            self.downloads = Path(tempfile.mkdtemp(prefix="bertstudio-session-", dir=self.downloads_root))
        # A page left open past the time to live finds its folder swept away; make it again.
        self.downloads.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.downloads

    def close(self) -> None:
        self.tokenizer = self.predictor = None
        if self.downloads is not None:
            shutil.rmtree(self.downloads, ignore_errors=True)
            self.downloads = None


class SessionRegistry(Generic[T]):
    """Objects keyed by gradio's `request.session_hash`, made on first use, closed on unload."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._items: dict[str, T] = {}
        self._lock = threading.Lock()

    def get(self, session: str) -> T:
        with self._lock:
            item = self._items.get(session)
            if item is None:
                item = self._items[session] = self._factory()
            return item

    def drop(self, session: str) -> None:
        with self._lock:
            item = self._items.pop(session, None)
        close = getattr(item, "close", None)
        if callable(close):
            close()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, session: str) -> bool:
        with self._lock:
            return session in self._items


@dataclass
class BrowserMemory:
    """What the browser keeps in localStorage: who it is, the run it follows, the runs it started."""

    owner: str = ""
    run_id: str | None = None
    runs: list[str] = field(default_factory=list)

    @classmethod
    def from_value(cls, value: Any) -> "BrowserMemory":
        """Read the stored value forgivingly: anything malformed starts a fresh memory."""
        if not isinstance(value, dict):
            return cls()
        runs = value.get("runs")
        return cls(owner=value.get("owner") if isinstance(value.get("owner"), str) else "",
                   run_id=value.get("run_id") if isinstance(value.get("run_id"), str) else None,
                   runs=[r for r in runs if isinstance(r, str)] if isinstance(runs, list) else [])

    def with_owner(self) -> "BrowserMemory":
        """This memory with an owner token, making one (unguessable) on a browser's first visit."""
        if self.owner:
            return self
        return BrowserMemory(owner=secrets.token_urlsafe(18), run_id=self.run_id, runs=list(self.runs))

    def for_visitor(self, username: str | None, key: str) -> "BrowserMemory":
        """This memory as the visitor now is (`accounts.owner_for`): signed in, the account's owner,
        so their runs and limits follow the account into any browser; signed out, or never signed
        in, the browser's own token. The runs an account started stay with the account on sign-out."""
        from bertstudio.accounts import ACCOUNT_PREFIX, owner_for

        owner = owner_for(self.owner, username, key)
        if owner == self.owner:
            return self
        if self.owner.startswith(ACCOUNT_PREFIX):  # signed out, or forged: nothing of the account's is kept
            return BrowserMemory(owner=owner)
        return BrowserMemory(owner=owner, run_id=self.run_id, runs=list(self.runs))

    def following(self, run_id: str) -> "BrowserMemory":
        runs = [run_id] + [r for r in self.runs if r != run_id]
        return BrowserMemory(owner=self.owner, run_id=run_id, runs=runs[:RUNS_REMEMBERED])

    def forgetting(self, run_id: str) -> "BrowserMemory":
        return BrowserMemory(owner=self.owner, run_id=None if self.run_id == run_id else self.run_id,
                             runs=[r for r in self.runs if r != run_id])

    def to_value(self) -> dict[str, Any]:
        return {"owner": self.owner, "run_id": self.run_id, "runs": list(self.runs)}


SETTING_TEXT_LIMIT = 1000  # a remembered setting longer than this is garbage, not a choice


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= SETTING_TEXT_LIMIT else None


@dataclass
class RememberedChoices:
    """What a visitor chose on the page, kept in their own browser (never on the server, never
    shared) so that a reload does not forget it: the files' server paths, the validation mode,
    the selected preset and every form setting by TrainConfig field name, as the widgets hold them.

    Everything here came back from a browser, so it is only a wish: the paths are checked against
    the folders the server itself writes uploads to, and the settings are validated, before use."""

    data: str | None = None
    validation: str | None = None
    validation_mode: str | None = None
    preset: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_value(cls, value: Any) -> "RememberedChoices":
        """Read the stored value forgivingly: malformed parts are dropped, the rest kept."""
        if not isinstance(value, dict):
            return cls()
        settings = value.get("settings") if isinstance(value.get("settings"), dict) else {}
        kept = {name: v for name, v in settings.items() if isinstance(name, str) and (
            v is None or isinstance(v, (bool, int, float)) or _text(v) is not None)}
        return cls(data=_text(value.get("data")), validation=_text(value.get("validation")),
                   validation_mode=_text(value.get("validation_mode")), preset=_text(value.get("preset")),
                   settings=kept)

    @property
    def empty(self) -> bool:
        return not self.data and not self.settings

    def to_value(self) -> dict[str, Any]:
        return {"data": self.data, "validation": self.validation, "validation_mode": self.validation_mode,
                "preset": self.preset, "settings": dict(self.settings)}
