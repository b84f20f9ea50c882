"""Who a visitor is on a hosted Space: a Hugging Face account when signed in, else a browser's token.

Every run, limit and "your runs" listing keys on an owner string (`hosting.record_owner`/`owns`,
the worker's one run per owner). A browser's own owner is a random token it keeps in its
storage, so clearing the browser makes it someone new. A signed-in visitor's owner is instead
derived from the account, "hf:<username>:<seal>", the same in every browser and after any
clearing, so their runs and limits follow the account.

The seal is an HMAC under a key only the server knows (runs/.account-secret): the browser's
storage is encrypted with a key the page itself carries, so a visitor could write any owner
there, and "hf:alice" alone would be anyone's to claim. Only the server, reading the account
from gradio's OAuth session, makes a sealed owner.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

ACCOUNT_PREFIX = "hf:"
from bertstudio.hosting import ACCOUNT_SECRET_FILE  # runs/.account-secret: the key owners are sealed with
SIGN_IN_HINT = "Sign in with Hugging Face to train"


def account_owner(username: str, key: str) -> str:
    """The owner of everything `username` starts: "hf:<username>:<seal>"."""
    return f"{ACCOUNT_PREFIX}{username}:{_seal(username, key)}"


def account_of(owner: str | None, key: str) -> str | None:
    """The username an owner string was sealed for by this server, or None (a browser token, a forgery)."""
    if not key or not isinstance(owner, str) or not owner.startswith(ACCOUNT_PREFIX):
        return None
    username, _, seal = owner[len(ACCOUNT_PREFIX):].rpartition(":")
    return username if username and hmac.compare_digest(seal, _seal(username, key)) else None


def owner_for(remembered: str, username: str | None, key: str) -> str:
    """The owner a page works as: the account's when signed in; else the browser's own token,
    made afresh when the browser still holds an account's (signed out) or a forged one."""
    if username:
        return account_owner(username, key)
    if remembered.startswith(ACCOUNT_PREFIX) or not remembered:
        return secrets.token_urlsafe(18)
    return remembered


def _seal(username: str, key: str) -> str:
    return hmac.new(key.encode("utf-8"), username.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def account_secret(runs_dir: str | Path) -> str:
    """The server's key for sealing account owners, made once per runs folder (so a restart keeps
    every account's runs); never sent to a browser, unlike the browsers' storage key."""
    path = Path(runs_dir) / ACCOUNT_SECRET_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def claim_runs(runs_dir: str | Path, run_ids: list[str], browser_owner: str, account: str,
               busy=lambda run_id: False) -> list[str]:
    """Hand the runs a browser started before its visitor signed in to the account, so they stay
    theirs after the switch of owner; a run still waiting or training (`busy`) is left to the
    browser's token, which its job carries, and is claimed on a later load. Returns the claimed."""
    from bertstudio.hosting import owns, record_owner

    claimed = [run_id for run_id in run_ids if not busy(run_id) and owns(runs_dir, run_id, browser_owner)]
    for run_id in claimed:
        record_owner(runs_dir, run_id, account)
    return claimed
