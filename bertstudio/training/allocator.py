"""Keep freed memory for reuse while training on the CPU (glibc's malloc; elsewhere a no-op).

glibc serves every allocation above 32 MiB with a fresh mmap and unmaps it on free. A BERT step
frees and re-allocates its word-embedding gradient (30,522 x 384 floats, 47 MB, for MiniLM) every
step, so every step page-faults 11,000 fresh pages in and zero-fills them: a tenth of a MiniLM
step on SST-2. Raising the mmap and trim thresholds for the run lets malloc hand the same memory
back step after step; afterwards the defaults return and `malloc_trim` gives the memory back.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys
import threading
from typing import Iterator

_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_KEEP_BYTES = 1 << 30  # allocations up to 1 GiB come from (and return to) malloc's own heap
_GLIBC_DEFAULT = 128 * 1024  # both thresholds' documented defaults

_lock = threading.Lock()
_active = 0  # runs inside reuse_freed_memory(): the app may train while a test trains too


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:  # musl and friends: nothing to tune
        return None


def _set_thresholds(libc, value: int) -> bool:
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(value))
                and libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(value)))


@contextlib.contextmanager
def reuse_freed_memory() -> Iterator[bool]:
    """Yields whether the tuning is on (glibc only); nested and concurrent uses share it."""
    global _active
    libc = _glibc()
    if libc is None:
        yield False
        return
    with _lock:
        _active += 1
        tuned = _set_thresholds(libc, _KEEP_BYTES) if _active == 1 else True
    try:
        yield tuned
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                _set_thresholds(libc, _GLIBC_DEFAULT)
                libc.malloc_trim(ctypes.c_size_t(0))  # the run's memory goes back to the system
