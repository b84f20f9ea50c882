"""Atomic file writes: write a temporary file beside the target, fsync, then rename over it."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, TextIO


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """A temporary path beside `path` for a library that writes files itself (openpyxl, pyarrow);
    renamed over `path` at the end, so a failed write leaves the old file and no temporary one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield tmp
        # mkstemp makes the file private (0600); a run's files are ordinary files, readable as usual.
        os.chmod(tmp, 0o644)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | Path, *, newline: str | None = None) -> Iterator[TextIO]:
    """Yield a text handle; the target appears whole when the block ends, or not at all.

    The rename is atomic on POSIX and Windows when both names are on one file system, which is
    why the temporary file lives in the target's own folder (`atomic_path` does the temporary
    file, the fsync and the rename; this only writes text into it).
    """
    with atomic_path(path) as tmp_name:
        with open(tmp_name, "w", encoding="utf-8", newline=newline) as handle:
            yield handle


def write_text_atomic(path: str | Path, text: str) -> Path:
    with atomic_write(path) as handle:
        handle.write(text)
    return Path(path)


def write_json_atomic(path: str | Path, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


NEARLY_FULL_BYTES = 16 * 2**20  # less free space than this after a failed write: the disk is full

_FULL_WORDS = ("no space left", "os error 28", "storagefull", "disk quota", "quota exceeded")


def disk_is_full(exc: BaseException, folder: str | Path | None = None) -> bool:
    """Whether a failed write failed because the disk (or the quota) is full.

    Writers report it differently: Python raises OSError(ENOSPC); torch.save a RuntimeError
    ("unexpected pos ..." or "file write failed") with no errno at all; safetensors a text that
    names os error 28. So the errno and the words are looked for along the exception's chain,
    and failing those, the free space left on `folder`'s disk decides (call this before removing
    the partial files, which are what filled it). Without `folder` only the chain is read.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(word in str(current).lower() for word in _FULL_WORDS):
            return True
        current = current.__cause__ or current.__context__
    if folder is None:
        return False
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL_BYTES
    except OSError:
        return False
