"""The malloc tuning is on only while a run trains, and nesting or concurrent runs share it."""

from __future__ import annotations

import sys

import pytest

from bertstudio.training import allocator


class RecordingLibc:
    """Stands in for glibc only to record what was asked of it; the real call is tested below."""

    def __init__(self) -> None:
        self.thresholds: dict[int, int] = {}
        self.trims = 0

    def mallopt(self, parameter, value) -> int:
        self.thresholds[parameter] = value.value
        return 1

    def malloc_trim(self, pad) -> int:
        self.trims += 1
        return 1


def test_thresholds_are_raised_while_inside_and_restored_after(monkeypatch):
    libc = RecordingLibc()
    monkeypatch.setattr(allocator, "_glibc", lambda: libc)
    with allocator.reuse_freed_memory() as tuned:
        assert tuned and set(libc.thresholds.values()) == {allocator._KEEP_BYTES}
        with allocator.reuse_freed_memory():  # a second run at the same time
            pass
        assert set(libc.thresholds.values()) == {allocator._KEEP_BYTES} and libc.trims == 0
    assert set(libc.thresholds.values()) == {allocator._GLIBC_DEFAULT} and libc.trims == 1


def test_without_glibc_it_does_nothing(monkeypatch):
    monkeypatch.setattr(allocator, "_glibc", lambda: None)
    with allocator.reuse_freed_memory() as tuned:
        assert tuned is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_the_real_glibc_accepts_the_settings():
    if allocator._glibc() is None:
        pytest.skip("not glibc")
    with allocator.reuse_freed_memory() as tuned:
        big = bytearray(64 << 20)  # above glibc's default mmap ceiling
        del big
    assert tuned is True
