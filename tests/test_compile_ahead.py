"""Compiling the kernels ahead in parallel processes (sim/compile_ahead.py): the recorded list is the
kernels a run calls, compiling it fills the cache so that a run compiles nothing, and stale entries are
reported, not raised."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numba
import pytest
from numba.core import types

from sim import compile_ahead
from tests.conftest import ROOT, SMALL_SCALE

# In a fresh interpreter with an empty cache: compile ahead, run 14 months (January's compaction and
# September's school round included), and report which kernels the run loaded from the cache and which
# it had to compile itself.
_COLD_RUN = textwrap.dedent(f"""
    import json, sys
    from numba.core.registry import CPUDispatcher
    from sim import compile_ahead
    before = compile_ahead.is_compiled()
    errors = compile_ahead.compile_ahead(2)
    from sim.model import CitizenizationModel
    model = CitizenizationModel({str(ROOT / "scenarios" / "plan-2024.yaml")!r}, scale={SMALL_SCALE}, months=14,
                                seed=3)
    while model.running:
        model.step()
    loaded, compiled, seen = [], [], set()
    for name, module in list(sys.modules.items()):
        if name != "sim" and not name.startswith("sim."):
            continue
        for obj in list(vars(module).values()):
            if isinstance(obj, CPUDispatcher) and id(obj) not in seen:
                seen.add(id(obj))
                kernel = obj.py_func.__module__ + "." + obj.py_func.__qualname__
                for found, counter in ((loaded, obj.stats.cache_hits), (compiled, obj.stats.cache_misses)):
                    found += [[kernel, [compile_ahead.type_text(t) for t in sig]] for sig in counter]
    print(json.dumps({{"before": before, "after": compile_ahead.is_compiled(), "errors": errors,
                      "loaded": loaded, "compiled": compiled}}))
""")


def test_compiled_ahead_kernels_are_exactly_those_a_run_calls(tmp_path):
    """After compiling ahead into an empty cache, a run loads every kernel it calls from the cache and
    compiles none (the list is complete), and loads every listed one (no stale entry). If this fails
    after a change to a kernel's arguments, rerun ``python -m sim.compile_ahead``."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", _COLD_RUN], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["errors"] == []
    assert report["compiled"] == [], "compiled during the run, missing from sim/kernel_signatures.json"
    listed = {(e.kernel, e.args) for e in compile_ahead.load_signatures()}
    assert {(k, tuple(args)) for k, args in report["loaded"]} == listed
    assert (report["before"], report["after"]) == (False, True)


def test_stale_entries_are_reported_and_the_cache_is_not_marked_for_them(tmp_path, monkeypatch):
    stale = tmp_path / "signatures.json"
    stale.write_text(json.dumps([
        {"kernel": "sim.rng.no_such_kernel", "args": ["int64"], "seconds": 1.0},
        {"kernel": "sim.rng._uniform_array", "args": ["float64[::1]", "int64", "int64"], "seconds": 0.5},
    ]))
    monkeypatch.setattr(compile_ahead, "SIGNATURES", stale)
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))
    errors = compile_ahead.compile_ahead(2)
    assert len(errors) == 2
    assert errors[0].startswith("sim.rng.no_such_kernel: AttributeError") or \
        errors[1].startswith("sim.rng.no_such_kernel: AttributeError")
    assert any(e.startswith("sim.rng._uniform_array: TypingError") for e in errors)
    assert not compile_ahead.is_compiled()


def test_a_run_compiles_ahead_only_with_two_threads_or_more(monkeypatch):
    """One process compiles no faster ahead than on each kernel's first call, so a one-thread run does not
    start one; with two threads, two processes compile."""
    from sim import cli_support

    calls = []
    monkeypatch.setattr(compile_ahead, "is_compiled", lambda: False)
    monkeypatch.setattr(compile_ahead, "compile_ahead", lambda workers, on_compiled: calls.append(workers) or [])
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        cli_support.compile_kernels_ahead()
        assert calls == []
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        cli_support.compile_kernels_ahead()
        assert calls == ([2] if numba.config.NUMBA_NUM_THREADS >= 2 else [])
    finally:
        numba.set_num_threads(threads)


def test_marker_follows_the_sources(tmp_path, monkeypatch):
    """The cache is marked compiled for the sources' stamps: a touched source needs compiling again."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "kernel.py").write_text("x = 1\n")
    monkeypatch.setattr(compile_ahead, "_PACKAGE", package)
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))
    assert not compile_ahead.is_compiled()
    compile_ahead._mark_compiled()
    assert compile_ahead.is_compiled()
    (package / "kernel.py").write_text("x = 22\n")
    assert not compile_ahead.is_compiled()


@pytest.mark.parametrize("t", [types.uint8[::1], types.float64[:, ::1], types.int64[:, :, ::1], types.uint64,
                               types.boolean, types.float64, types.Array(types.int32, 1, "A"),
                               types.Array(types.int16, 1, "C", readonly=True), types.UniTuple(types.int64, 2)])
def test_type_text_round_trips(t):
    assert compile_ahead.parse_type(compile_ahead.type_text(t)) == t


def test_listed_signatures_parse():
    entries = compile_ahead.load_signatures()
    assert entries and all(compile_ahead.parse_type(a) for e in entries for a in e.args)
    assert [e.seconds for e in entries] == sorted((e.seconds for e in entries), reverse=True)


def test_compile_command_reports_a_full_cache_and_fails_on_a_stale_list(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from sim.cli import app

    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(compile_ahead, "is_compiled", lambda: True)
    res = CliRunner().invoke(app, ["compile"])
    assert res.exit_code == 0 and "already compiled" in res.output
    stale = tmp_path / "signatures.json"
    stale.write_text(json.dumps([{"kernel": "sim.rng.no_such_kernel", "args": ["int64"], "seconds": 1.0}]))
    monkeypatch.setattr(compile_ahead, "SIGNATURES", stale)
    monkeypatch.setattr(compile_ahead, "is_compiled", lambda: False)
    res = CliRunner().invoke(app, ["compile", "--workers", "1"])
    assert res.exit_code == 1
    assert "sim.rng.no_such_kernel: AttributeError" in res.output
    assert "record the list again: python -m sim.compile_ahead" in res.output


def test_no_more_processes_than_pay():
    """The longest kernel bounds the time, so processes past total / longest compile seconds only cost memory."""
    seconds = [e.seconds for e in compile_ahead.load_signatures()]
    useful = -(-sum(seconds) // max(seconds))
    assert [compile_ahead.processes_for(w) for w in (1, 2)] == [1, min(2, useful)]
    assert compile_ahead.processes_for(1000) == useful < len(seconds)


def test_marker_follows_the_numba_version(tmp_path, monkeypatch):
    """Numba's cache holds kernels for the numba that compiled them: an upgrade needs compiling again."""
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    compile_ahead._mark_compiled()
    assert compile_ahead.is_compiled()
    monkeypatch.setattr(numba, "__version__", numba.__version__ + ".post1")
    assert not compile_ahead.is_compiled()


def test_a_missing_kernel_list_is_reported_not_raised(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_ahead, "SIGNATURES", tmp_path / "missing.json")
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))
    errors = compile_ahead.compile_ahead(2)
    assert len(errors) == 1 and "no kernel list" in errors[0]
    assert compile_ahead.processes_for(2) == 1
    assert not compile_ahead.is_compiled()


def test_earlier_sources_cache_folders_unused_for_a_day_are_removed_but_the_last_used(tmp_path, monkeypatch):
    """Every change of the sources starts a new cache folder: the old ones go once no run has used them for
    a day, except the few used last; folders of other names and the current one stay."""
    now = 1_000_000_000.0
    day = compile_ahead.STALE_AFTER_SECONDS
    current = tmp_path / "0123456789abcdef"
    current.mkdir()
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(current))
    ages = {"a" * 16: 3 * day, "b" * 16: 4 * day, "c" * 16: 5 * day, "d" * 16: 6 * day, "e" * 16: 0.5 * day}
    for name, age in ages.items():
        marker = tmp_path / name / "compiled-ahead.json"
        marker.parent.mkdir()
        marker.write_text("{}")
        os.utime(marker, (now - age, now - age))
    unfinished = tmp_path / ("f" * 16)  # never marked compiled: its own time counts
    unfinished.mkdir()
    os.utime(unfinished, (now - 7 * day, now - 7 * day))
    other = tmp_path / "not-a-cache"
    other.mkdir()
    os.utime(other, (now - 9 * day, now - 9 * day))
    removed = compile_ahead.prune_stale_caches(now)
    # used last: e (half a day), a, b; older than a day and not among them: c, d, f
    assert sorted(p.name for p in removed) == ["c" * 16, "d" * 16, "f" * 16]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["0123456789abcdef", "a" * 16, "b" * 16, "e" * 16,
                                                                 "not-a-cache"])


def test_a_run_marks_the_cache_it_uses(tmp_path, monkeypatch):
    from sim import cli_support

    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))
    compile_ahead._mark_compiled()
    marker = tmp_path / "cache" / "compiled-ahead.json"
    os.utime(marker, (1.0, 1.0))
    assert cli_support.compile_kernels_ahead() == []
    assert marker.stat().st_mtime > 1.0


def test_a_run_waits_for_another_process_compiling_the_same_cache_and_uses_its_kernels(tmp_path, monkeypatch):
    """Runs started together compile once: the one that holds the cache's lock compiles, the others wait for
    it and find the cache compiled."""
    import threading

    from filelock import FileLock

    from sim import cli_support

    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))
    compiled = threading.Event()
    calls = []
    monkeypatch.setattr(compile_ahead, "is_compiled", compiled.is_set)
    monkeypatch.setattr(compile_ahead, "compile_ahead", lambda workers, on_compiled: calls.append(workers) or [])
    other = FileLock(compile_ahead.exclusive().lock_file)  # as another process would hold it: its own handle
    other.acquire()
    waiting = threading.Thread(target=cli_support.compile_kernels_ahead, args=(2,))
    waiting.start()
    waiting.join(timeout=1.0)
    assert waiting.is_alive()  # waits while the other one compiles
    compiled.set()
    other.release()
    waiting.join(timeout=10.0)
    assert not waiting.is_alive() and calls == []  # and then compiles nothing itself
    compiled.clear()  # (sources changed since): the lock is free, so the next run compiles at once
    later = threading.Thread(target=cli_support.compile_kernels_ahead, args=(2,))
    later.start()
    later.join(timeout=10.0)
    assert not later.is_alive() and calls == [2]
