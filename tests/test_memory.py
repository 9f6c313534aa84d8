"""sim.memory: the C heap keeps the month's freed scratch memory (glibc), and does nothing elsewhere."""

from __future__ import annotations

import platform

import pytest

from sim import memory


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_takes_the_settings_and_releases_kept_memory():
    assert memory.keep_freed_memory() is True
    memory.release_freed_memory()


def test_without_glibc_nothing_is_changed(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert memory.keep_freed_memory() is False
    memory.release_freed_memory()  # a no-op, not an error
