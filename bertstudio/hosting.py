"""Hosted mode: a public demo's limits read from environment variables, who owns which run, and clean-up.

One switch, BERTSTUDIO_HOSTED=1 (on by itself on a Hugging Face Space, which sets SPACE_ID), turns
the limits on; each limit has its own variable with a documented default, listed in `LIMITS`, from
which the README's table and the page's banner are written. Off, every check here lets everything
through, so a laptop install behaves as before. No gradio here: the UI calls these checks, the
worker and `app.py` call the rest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterable, Mapping

from bertstudio.errors import StudioError

HOSTED_SWITCH = "BERTSTUDIO_HOSTED"
OWNERS_DIR = ".owners"    # runs/.owners/<run-id>: sha256 of the owner token of that run
UPLOADS_DIR = ".uploads"  # runs/.uploads/<sha256>/<file name>: hosted uploads, kept for resumes
SECRET_FILE = ".browser-secret"  # runs/.browser-secret: the key the browsers' memory is kept under
SIGNIN_SWITCH = "BERTSTUDIO_REQUIRE_SIGNIN"
ACCOUNT_SECRET_FILE = ".account-secret"  # accounts.ACCOUNT_SECRET_FILE: the server's own key
PRIVATE_NAMES = (OWNERS_DIR, UPLOADS_DIR, SECRET_FILE, ACCOUNT_SECRET_FILE)  # never served, whatever the mode
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _limit(env: str, meaning: str, unit: str = "") -> dict[str, str]:
    return {"env": env, "meaning": meaning, "unit": unit}


def _default_models() -> tuple[str, ...]:
    from bertstudio.models import CURATED_MODELS

    return tuple(name for name, _ in CURATED_MODELS)


@dataclass(frozen=True)
class HostingSettings:
    """The limits of a shared deployment. With `hosted` off none of them applies."""

    hosted: bool = False
    max_upload_mb: float = field(default=10.0, metadata=_limit(
        "BERTSTUDIO_MAX_UPLOAD_MB", "Largest file a visitor may upload, counted after unpacking a .gz.", "MB"))
    max_rows: int = field(default=20_000, metadata=_limit(
        "BERTSTUDIO_MAX_ROWS", "Most data rows in a file to train on or to predict.", "rows"))
    # 100,000 characters: 7 times IMDB's longest review and 40 times what BERT reads of a text,
    # while one such text costs about 16 MB to tokenize (a personal install takes 1,000,000).
    max_text_chars: int = field(default=100_000, metadata=_limit(
        "BERTSTUDIO_MAX_TEXT_CHARS", "Longest text a visitor may type, or hold in one cell of a file.",
        "characters"))
    max_epochs: int = field(default=5, metadata=_limit(
        "BERTSTUDIO_MAX_EPOCHS", "Most epochs per run.", "epochs"))
    max_run_minutes: float = field(default=20.0, metadata=_limit(
        "BERTSTUDIO_MAX_RUN_MINUTES", "Wall time per run; a run is stopped there and keeps its model.",
        "minutes"))
    max_waiting: int = field(default=10, metadata=_limit(
        "BERTSTUDIO_MAX_QUEUE", "Most runs waiting for the GPU; each visitor may have one run waiting "
        "or training.", "runs"))
    ttl_hours: float = field(default=24.0, metadata=_limit(
        "BERTSTUDIO_TTL_HOURS", "Uploads, downloads and runs are deleted this long after their last "
        "change.", "hours"))
    # Each proxy appends the address it was reached from to X-Forwarded-For, so only the entries
    # the proxies wrote can be trusted: the visitor may have sent the header with any text in it.
    proxy_hops: int = field(default=1, metadata=_limit(
        "BERTSTUDIO_PROXY_HOPS", "Proxies in front of the app (a Space has one); a visitor's address is the "
        "X-Forwarded-For entry this many from the right, which a visitor cannot forge.", ""))
    models: tuple[str, ...] = field(default_factory=_default_models, metadata=_limit(
        "BERTSTUDIO_MODELS", "Comma-separated model ids visitors may pick; hub ids only, no local "
        "folders.", ""))
    # Training needs a Hugging Face sign-in (BERTSTUDIO_REQUIRE_SIGNIN, on by default on a Space);
    # exploring data and the tokenizer never does. Off the Space's OAuth there is no sign-in.
    require_signin: bool = False
    # The key signed-in visitors' owners are sealed with (`accounts.account_secret`), set by the
    # app at start-up; empty: nobody counts as signed in.
    account_key: str = field(default="", repr=False)

    # --- reading -------------------------------------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "HostingSettings":
        """Hosted when BERTSTUDIO_HOSTED says so, else when SPACE_ID is set; limits from their variables."""
        env = os.environ if env is None else env
        switch = (env.get(HOSTED_SWITCH) or "").strip().lower()
        if switch and switch not in _TRUE | _FALSE:
            raise StudioError(f"{HOSTED_SWITCH} is '{switch}'; set it to 1 (hosted limits on) or 0 (off).")
        on_space = bool((env.get("SPACE_ID") or "").strip())
        hosted = switch in _TRUE if switch else on_space
        signin = (env.get(SIGNIN_SWITCH) or "").strip().lower()
        if signin and signin not in _TRUE | _FALSE:
            raise StudioError(f"{SIGNIN_SWITCH} is '{signin}'; set it to 1 (training needs a Hugging Face "
                              "sign-in) or 0 (anyone may train).")
        values: dict[str, object] = {"hosted": hosted,
                                     "require_signin": hosted and (signin in _TRUE if signin else on_space)}
        for spec in limit_fields():
            raw = (env.get(spec.metadata["env"]) or "").strip()
            if raw:
                values[spec.name] = _parse(spec.name, spec.metadata["env"], raw)
        return cls(**values)

    # --- checks (each a no-op unless hosted) ---------------------------------------------------
    @property
    def max_upload_bytes(self) -> int | None:
        return int(self.max_upload_mb * 1_000_000) if self.hosted else None

    @property
    def text_limit(self) -> int:
        """The longest text taken: this deployment's limit when hosted, else the engine's own."""
        from bertstudio.limits import MAX_TEXT_CHARS

        return self.max_text_chars if self.hosted else MAX_TEXT_CHARS

    @property
    def max_run_seconds(self) -> float | None:
        return self.max_run_minutes * 60 if self.hosted else None

    @property
    def ttl_seconds(self) -> float:
        return self.ttl_hours * 3600

    def check_model(self, name: str | None) -> None:
        if self.hosted and (name or "").strip() not in self.models:
            raise StudioError(f"This shared demo offers only these models: {', '.join(self.models)}; "
                              "pick one of them, or run BERT Studio yourself for any other.")

    def check_rows(self, rows: int, file_name: str) -> None:
        if self.hosted and rows > self.max_rows:
            raise StudioError(f"'{file_name}' has {rows:,} rows, more than the {self.max_rows:,} this shared "
                              f"demo takes; upload a sample of at most {self.max_rows:,} rows, or run BERT "
                              "Studio yourself for the whole file.")

    def check_config(self, config) -> None:
        """Refuse a TrainConfig that goes past a limit, naming the limit and what to do."""
        if not self.hosted:
            return
        self.check_model(config.model)
        if config.epochs > self.max_epochs:
            raise StudioError(f"This shared demo trains at most {self.max_epochs} epochs per run; set "
                              f"Epochs to {self.max_epochs} or fewer.")
        # A visitor's run must not send anything to an account or server of the host's.
        if getattr(config, "report_to", "none") != "none":
            raise StudioError("This shared demo sends no run to an experiment tracker; set 'Report to' to "
                              "none, or run BERT Studio yourself to use one.")

    # --- who is signing in ----------------------------------------------------------------------
    def account(self, owner: str | None) -> str | None:
        """The Hugging Face username `owner` was sealed for by this server (signed in), else None."""
        from bertstudio.accounts import account_of

        return account_of(owner, self.account_key) if self.hosted else None

    def counted_address(self, owner: str | None, address: str | None) -> str | None:
        """The address a visitor's runs count under: none for an account (its runs count per
        account, so two signed-in colleagues behind one office address may each train), the
        client address for everyone else."""
        return None if self.account(owner) else address

    def check_may_train(self, owner: str | None) -> None:
        if self.hosted and self.require_signin and not self.account(owner):
            raise StudioError("Sign in with Hugging Face to train (the button at the top of the page); "
                              "exploring your data and the tokenizer needs no account.")

    def facts(self) -> list[str]:
        """The limits as short phrases, for the page's banner."""
        signin = ["sign in with Hugging Face to train"] if self.require_signin else []
        return signin + [f"files up to {self.max_upload_mb:g} MB and {self.max_rows:,} rows",
                f"up to {self.max_epochs} epochs and {self.max_run_minutes:g} minutes per run",
                "one training at a time on the GPU, in a queue",
                f"your files and runs are deleted after {self.ttl_hours:g} hours"]


def limit_fields() -> list:
    """The settable limits in declaration order (each field's metadata names its variable)."""
    return [spec for spec in fields(HostingSettings) if "env" in spec.metadata]


def limits_table() -> str:
    """The Markdown table of variables, defaults and meanings that the README shows."""
    defaults = HostingSettings()
    lines = ["| variable | default | what it limits |", "|---|---|---|",
             f"| `{HOSTED_SWITCH}` | off (on when `SPACE_ID` is set) | Turns every limit below on; 0 turns "
             "them off even on a Space. |"]
    for spec in limit_fields():
        value = getattr(defaults, spec.name)
        shown = f"the curated list: {', '.join(f'`{m}`' for m in value)}" if spec.name == "models" else (
            f"{value:g} {spec.metadata['unit']}" if isinstance(value, float)
            else f"{value:,} {spec.metadata['unit']}")
        lines.append(f"| `{spec.metadata['env']}` | {shown.strip()} | {spec.metadata['meaning']} |")
    return "\n".join(lines)


def _parse(name: str, env: str, raw: str) -> object:
    if name == "models":
        from bertstudio.models import _looks_like_path

        models = tuple(dict.fromkeys(m.strip() for m in raw.split(",") if m.strip()))
        local = [m for m in models if _looks_like_path(m) or Path(m).expanduser().exists()]
        if local or not models:
            raise StudioError(f"{env} must list hub model ids (or 'bundled'), not local folders; remove "
                              f"{', '.join(local) or 'the empty entries'}.")
        return models
    kind = int if name in ("max_rows", "max_epochs", "max_waiting", "max_text_chars", "proxy_hops") else float
    try:
        value = kind(raw)
    except ValueError:
        raise StudioError(f"{env} is '{raw}'; set it to a {'whole ' if kind is int else ''}number "
                          "such as 10.") from None
    if not value > 0 or value != value or value == float("inf"):
        raise StudioError(f"{env} is {raw}; set it to a number above 0.")
    return value


# --- who is asking ---------------------------------------------------------------------------

FORWARDED_HEADER = "x-forwarded-for"


def visitor_address(settings: "HostingSettings", headers: Mapping[str, str] | None,
                    peer: str | None) -> str | None:
    """The network address a visitor's live runs are counted under; None when not hosted.

    Behind a Hugging Face Space's proxy every connection comes from the proxy, so the peer address
    is the same for all visitors. Each proxy appends the address it was reached from to
    X-Forwarded-For, after whatever the visitor sent in that header himself; so the visitor's own
    address is the entry `proxy_hops` from the right (the right-most behind one proxy, as on a
    Space), and the entries left of it are the visitor's to forge. The header is read only in
    hosted mode; an operator who serves hosted mode behind several proxies sets
    BERTSTUDIO_PROXY_HOPS to their number; with fewer entries than that (no proxy in front) the
    peer address counts. Off (a personal install), no address is used.
    `headers` is any mapping of header names (either case) to values.
    """
    if not settings.hosted:
        return None
    forwarded = ""
    for name, value in (headers or {}).items():
        if str(name).lower() == FORWARDED_HEADER:
            forwarded = str(value)
            break
    entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
    if len(entries) >= settings.proxy_hops:
        return entries[-settings.proxy_hops]
    return (peer or "").strip() or None


# --- ZeroGPU ----------------------------------------------------------------------------------

ZERO_GPU_SWITCH = "SPACES_ZERO_GPU"  # set by Hugging Face on a ZeroGPU Space
ZERO_GPU_SAVE_SECONDS = 30  # left of each call for the checkpoint and the model's files


def on_zero_gpu(env: Mapping[str, str] | None = None) -> bool:
    """Whether this is a ZeroGPU Space, where a GPU exists only inside `spaces.GPU` calls."""
    env = os.environ if env is None else env
    return (env.get(ZERO_GPU_SWITCH) or "").strip().lower() in _TRUE


def _run_piece(piece):
    return piece()


def zero_gpu_slicing(duration_seconds: int = 120, env: Mapping[str, str] | None = None) -> dict | None:
    """`train_in_slices` keywords for a ZeroGPU Space: each slice a `spaces.GPU(duration=...)` call,
    ending `ZERO_GPU_SAVE_SECONDS` before the call's time is up; None anywhere else.

    Make it once, before the app launches: ZeroGPU looks for its GPU functions at start-up."""
    if not on_zero_gpu(env):
        return None
    try:
        import spaces
    except ImportError:
        raise StudioError("This is a ZeroGPU Space but the 'spaces' package is missing; add spaces to the "
                          "Space's requirements.txt.") from None
    call = spaces.GPU(duration=duration_seconds)(_run_piece)
    return {"call": call, "slice_seconds": max(duration_seconds - ZERO_GPU_SAVE_SECONDS, duration_seconds / 2)}


# --- login -----------------------------------------------------------------------------------

def auth_from_env(env: Mapping[str, str] | None = None) -> list[tuple[str, str]] | None:
    """(user, password) pairs for gradio's login from BERTSTUDIO_USERS="alice:pw1,bob:pw2" or
    BERTSTUDIO_AUTH_USER + BERTSTUDIO_AUTH_PASSWORD; None when neither is set (no login)."""
    env = os.environ if env is None else env
    pairs: list[tuple[str, str]] = []
    for entry in (env.get("BERTSTUDIO_USERS") or "").split(","):
        if not entry.strip():
            continue
        user, colon, password = entry.strip().partition(":")
        if not colon or not user or not password:
            raise StudioError("BERTSTUDIO_USERS must read like alice:password1,bob:password2; an entry "
                              "lacks its user name or password.")
        pairs.append((user, password))
    user, password = env.get("BERTSTUDIO_AUTH_USER") or "", env.get("BERTSTUDIO_AUTH_PASSWORD") or ""
    if bool(user) != bool(password):
        raise StudioError("Set both BERTSTUDIO_AUTH_USER and BERTSTUDIO_AUTH_PASSWORD, or neither.")
    if user:
        pairs.append((user, password))
    return pairs or None


# --- who owns a run ----------------------------------------------------------------------------

def _owner_file(runs_dir: str | Path, run_id: str) -> Path | None:
    """runs/.owners/<run-id>, or None for an id that is not a plain folder name."""
    from bertstudio.runs.folder import is_safe_run_id

    if not is_safe_run_id(run_id):
        return None
    return Path(runs_dir) / OWNERS_DIR / run_id


def _token_hash(owner: str) -> str:
    # Only a hash is stored: a copied runs folder does not hand out the browsers' tokens.
    return hashlib.sha256(owner.encode("utf-8")).hexdigest()


def record_owner(runs_dir: str | Path, run_id: str, owner: str) -> None:
    path = _owner_file(runs_dir, run_id)
    if path is None or not owner:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_token_hash(owner) + "\n", encoding="utf-8")


def recorded_owner(runs_dir: str | Path, run_id: str) -> str | None:
    """The stored hash of the run's owner, or None when the run has no recorded owner."""
    path = _owner_file(runs_dir, run_id)
    try:
        return path.read_text(encoding="utf-8").strip() if path is not None else None
    except OSError:
        return None


def owns(runs_dir: str | Path, run_id: str, owner: str) -> bool:
    """Whether `owner` (a browser's secret token) started this run."""
    stored = recorded_owner(runs_dir, run_id)
    return bool(owner) and stored is not None and stored == _token_hash(owner)


def forget_owner(runs_dir: str | Path, run_id: str) -> None:
    path = _owner_file(runs_dir, run_id)
    if path is not None:
        path.unlink(missing_ok=True)


def browser_secret(runs_dir: str | Path) -> str | None:
    """The key under which browsers keep their memory (owner token, runs), made once per runs folder.

    Gradio makes a new key at every start unless given one, and a browser whose memory can no
    longer be read after a restart would lose its token, and with it its runs. None (a fresh key
    each start) when the runs folder cannot be written.
    """
    import secrets

    path = Path(runs_dir) / SECRET_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    secret = secrets.token_urlsafe(24)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret


# --- uploads -----------------------------------------------------------------------------------

def keep_upload(uploads_dir: str | Path, path: str | Path) -> Path:
    """A copy of an uploaded file that outlives gradio's cache (which a restart empties), so a run
    can be resumed; named by its content hash, so only someone who has the bytes can name it."""
    source = Path(path)
    digest = hashlib.sha256()
    with open(source, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    folder = Path(uploads_dir) / digest.hexdigest()
    target = folder / source.name
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{source.name}.{time.time_ns()}.part"
        shutil.copyfile(source, partial)
        partial.replace(target)
    os.utime(folder)  # in use again: the time to live starts over
    return target


# --- time to live ------------------------------------------------------------------------------

def _last_change(path: Path) -> float:
    """The newest modification time of a folder or of the files directly in it."""
    try:
        times = [path.stat().st_mtime] + [child.stat().st_mtime for child in path.iterdir()]
    except OSError:
        return time.time()  # vanished or unreadable right now: leave it for the next sweep
    return max(times)


def sweep(runs_dir: str | Path, ttl_seconds: float, *, busy: Callable[[str], bool] = lambda run_id: False,
          extra_dirs: Iterable[str | Path] = (), now: float | None = None) -> list[Path]:
    """Delete runs, kept uploads and other folders (`extra_dirs`' children) unchanged for `ttl_seconds`.

    A run that `busy` says is queued or training is kept whatever its age; owner records go with
    their run. Returns what was removed.
    """
    from bertstudio.runs.folder import RunFolder

    root = Path(runs_dir)
    now = time.time() if now is None else now
    removed: list[Path] = []
    if root.is_dir():
        for path in root.iterdir():
            try:
                if not path.is_dir() or path.name in (OWNERS_DIR, UPLOADS_DIR) or busy(path.name):
                    continue
                if now - _last_change(path) > ttl_seconds and RunFolder(path).status() != "running":
                    shutil.rmtree(path, ignore_errors=True)
                    forget_owner(root, path.name)
                    removed.append(path)
            except Exception as exc:  # noqa: BLE001 - one bad folder must not keep the others from being swept
                print(f"bertstudio: clean-up skipped '{path.name}': {type(exc).__name__}: {exc}", flush=True)
        owners = root / OWNERS_DIR
        if owners.is_dir():
            for record in owners.iterdir():
                if not (root / record.name).exists() and not busy(record.name) and \
                        now - record.stat().st_mtime > ttl_seconds:
                    record.unlink(missing_ok=True)  # a run deleted by hand, or never started
    for parent in [root / UPLOADS_DIR, *map(Path, extra_dirs)]:
        if not parent.is_dir():
            continue
        for path in parent.iterdir():
            if now - _last_change(path) > ttl_seconds:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
                removed.append(path)
    return removed


class Sweeper:
    """Runs a clean-up function now and then every `interval` seconds on a daemon thread, until stopped."""

    def __init__(self, clean: Callable[[], object], interval: float) -> None:
        self._clean = clean
        self._interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Sweeper":
        self._thread = threading.Thread(target=self._loop, name="bertstudio-sweeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            try:
                self._clean()
            except Exception as exc:  # noqa: BLE001 - a full disk, a corrupt folder: never the end of sweeping
                print(f"bertstudio: clean-up failed, will retry: {type(exc).__name__}: {exc}", flush=True)
            self._stopped.wait(self._interval)
