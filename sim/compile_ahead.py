"""Compile the engine's kernels ahead of a first run, in parallel processes, into numba's disk cache.

After an install, and after any change to the package's sources (which starts a new cache, see
:mod:`sim`), a run first compiles its kernels: about 50 s on one core for the default scenario, most of
a one-minute run. Numba compiles under a process-wide lock, so one process compiles one kernel at a
time; but it caches each kernel on disk on its own, so several processes can compile different
kernels side by side, and the run then loads them all from the cache.

The kernels that the model calls from Python, with their argument types, are listed in
``kernel_signatures.json`` together with the seconds each took to compile (the longest start first).
``python -m sim.compile_ahead`` records the list from a run of the default scenario; a test checks
that it matches what a run calls. A kernel called with other types than those listed is compiled on
its first call, as without this module.

Each change of the sources starts a new cache folder beside the old ones; after compiling into a new one,
the folders of earlier sources that no run has used for a day are removed (:func:`prune_stale_caches`),
keeping the few used last (switching back and forth between two versions of the code reuses both).
Processes that start at once compile one after the other (:func:`exclusive`): the first compiles, the
others wait and then load its kernels.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path

import numba
from filelock import FileLock
from numba.core import event, types

SIGNATURES = Path(__file__).with_name("kernel_signatures.json")
_PACKAGE = Path(__file__).resolve().parent
_MARKER = "compiled-ahead.json"  # in the cache folder: the sources' stamps when every kernel was compiled
_RECORD_SCENARIO = _PACKAGE.parent / "scenarios" / "plan-2024.yaml"
_LOCK = "compile.lock"  # in the cache folder: held by the process that compiles ahead
_CACHE_FOLDER = re.compile(r"[0-9a-f]{16}")  # a cache folder's name: the digest of its sources (see sim)
KEEP_RECENT_CACHES = 3  # earlier sources' folders kept whatever their age, the last used first
STALE_AFTER_SECONDS = 24 * 3600  # past this since its last use, any other earlier folder is removed


@dataclass(frozen=True)
class KernelSignature:
    """One compiled version of a kernel: ``kernel`` (module.name), its argument types as numba writes
    them (``uint8[::1]``: a C-contiguous uint8 vector), and its compile time when recorded."""

    kernel: str
    args: tuple[str, ...]
    seconds: float


def type_text(t: types.Type) -> str:
    """A numba type as text that :func:`parse_type` reads back (the short form for writable C arrays)."""
    if isinstance(t, types.Array) and t.layout == "C" and t.mutable and t.aligned:
        text = f"{t.dtype}[{', '.join([':'] * (t.ndim - 1) + ['::1'])}]"
    else:
        text = repr(t)
    if parse_type(text) != t:
        raise ValueError(f"numba type {t!r} does not survive a round trip through text")
    return text


def parse_type(text: str) -> types.Type:
    """The numba type written as ``text`` by :func:`type_text` (evaluated among numba's type names)."""
    return eval(text, {"__builtins__": {}}, vars(types))  # noqa: S307 - the package's own list, not user input


def load_signatures() -> list[KernelSignature]:
    """The recorded kernel signatures (:data:`SIGNATURES`), longest compile first; none if the list is
    missing or unreadable (an installation without it compiles each kernel on first call)."""
    try:
        listed = json.loads(SIGNATURES.read_text())
        entries = [KernelSignature(e["kernel"], tuple(e["args"]), e["seconds"]) for e in listed]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return sorted(entries, key=lambda e: -e.seconds)


def _source_stamps() -> dict[str, list[float] | str]:
    """Modification time and size of every source file, and the numba and Python versions: numba drops a
    file's cached kernels when any of them changes."""
    stamps: dict[str, list[float] | str] = {"numba": numba.__version__, "python": sys.version}
    for path in sorted(_PACKAGE.rglob("*.py")):
        st = path.stat()
        stamps[path.relative_to(_PACKAGE).as_posix()] = [st.st_mtime, st.st_size]
    return stamps


def cache_dir() -> Path:
    """The folder of numba's cache for these sources (see :mod:`sim`)."""
    return Path(numba.config.CACHE_DIR)


def _marker() -> Path:
    return cache_dir() / _MARKER


def _mark_compiled() -> None:
    try:
        _marker().parent.mkdir(parents=True, exist_ok=True)
        _marker().write_text(json.dumps(_source_stamps()))
    except OSError:  # a cache folder this process cannot write: compiled ahead again next time, no harm
        pass


def mark_used() -> None:
    """Record that a run uses this cache folder now (the marker's time: see :func:`prune_stale_caches`)."""
    try:
        os.utime(_marker())
    except OSError:  # not compiled ahead, or not writable: nothing to record
        pass


def exclusive() -> FileLock:
    """A lock on this cache folder for compiling into it: held, another process waits for it to be released."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    return FileLock(cache_dir() / _LOCK)


def _last_used(folder: Path) -> float:
    marker = folder / _MARKER
    return (marker if marker.exists() else folder).stat().st_mtime


def prune_stale_caches(now: float | None = None) -> list[Path]:
    """Remove the cache folders of earlier sources beside this one (named by a sources digest, see :mod:`sim`)
    that no run has used for :data:`STALE_AFTER_SECONDS`, except the :data:`KEEP_RECENT_CACHES` used last.
    Returns the folders removed; one that cannot be read or removed is left as it is."""
    now = time.time() if now is None else now
    current = cache_dir().resolve()
    earlier = []
    for folder in current.parent.iterdir() if current.parent.is_dir() else ():
        if folder.is_dir() and _CACHE_FOLDER.fullmatch(folder.name) and folder.resolve() != current:
            try:
                earlier.append((_last_used(folder), folder))
            except OSError:
                continue
    removed = []
    for last_used, folder in sorted(earlier, reverse=True)[KEEP_RECENT_CACHES:]:
        if now - last_used > STALE_AFTER_SECONDS:
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder)
    return removed


def is_compiled() -> bool:
    """Whether the kernels were compiled ahead into the cache for the sources as they are now."""
    try:
        return json.loads(_marker().read_text()) == _source_stamps()
    except (OSError, ValueError):
        return False


def _compile_one(kernel: str, args: tuple[str, ...]) -> str | None:
    """Compile one kernel into the cache (in a worker process); the error as text where it fails."""
    module, name = kernel.rsplit(".", 1)
    try:
        getattr(importlib.import_module(module), name).compile(tuple(parse_type(a) for a in args))
    except Exception as err:  # a stale entry: the run compiles that kernel on first call instead
        return f"{kernel}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return None


def processes_for(workers: int) -> int:
    """Processes to start for ``workers`` offered: no more than pay (the longest kernel bounds the time
    however many there are, so past ``total / longest`` compile seconds processes only cost memory)."""
    seconds = [e.seconds for e in load_signatures()] or [0.0]
    return max(1, min(workers, math.ceil(sum(seconds) / max(max(seconds), 1e-3))))


def compile_ahead(workers: int, on_compiled: Callable[[int, int], None] | None = None) -> list[str]:
    """Compile the listed kernels into the cache with up to ``workers`` processes (:func:`processes_for`).
    Calls ``on_compiled(done, total)``
    after each kernel; returns the errors of the kernels that failed (they compile on first call). The
    cache is marked compiled (:func:`is_compiled`) only when none failed, so a stale list is reported on
    every run until it is recorded again; then the stale folders of earlier sources are removed
    (:func:`prune_stale_caches`)."""
    entries = load_signatures()
    if not entries:
        return [f"no kernel list in {SIGNATURES} (record it: python -m sim.compile_ahead)"]
    errors = []
    try:
        with ProcessPoolExecutor(processes_for(workers), mp_context=multiprocessing.get_context("spawn")) as pool:
            pending = [pool.submit(_compile_one, e.kernel, e.args) for e in entries]
            for done, future in enumerate(as_completed(pending), start=1):
                if (error := future.result()) is not None:
                    errors.append(error)
                if on_compiled is not None:
                    on_compiled(done, len(entries))
    except (OSError, BrokenProcessPool) as err:  # no worker processes here: compile on first call
        return [f"worker processes: {err}"]
    if not errors:
        _mark_compiled()
        prune_stale_caches()
    return errors


def record(scenario: Path = _RECORD_SCENARIO, months: int = 14, scale: int = 20_000) -> list[KernelSignature]:
    """Run ``scenario`` (January and September included) with an empty cache and list every kernel compiled
    for a call from Python, with its compile time. Must run before any kernel module is imported, so that
    the kernels use the empty cache (as in ``python -m sim.compile_ahead``)."""
    if "sim.population" in sys.modules:
        raise RuntimeError("record() must run in a fresh process, before the kernels are imported")
    found: dict[tuple[str, tuple[str, ...]], float] = {}

    class OutermostCompiles(event.Listener):
        """Compiles that no other compile started: the calls from Python (the kernels' callees are nested)."""

        def __init__(self) -> None:
            self.started: list[float] = []

        def on_start(self, ev: event.Event) -> None:
            self.started.append(time.perf_counter())

        def on_end(self, ev: event.Event) -> None:
            seconds = time.perf_counter() - self.started.pop()
            if not self.started:
                fn = ev.data["dispatcher"].py_func
                key = (f"{fn.__module__}.{fn.__qualname__}", tuple(type_text(t) for t in ev.data["args"]))
                found[key] = round(seconds, 2)

    with tempfile.TemporaryDirectory(prefix="citizensim-record-") as empty_cache:
        numba.config.CACHE_DIR = empty_cache
        from sim.model import CitizenizationModel

        event.register("numba:compile", OutermostCompiles())
        model = CitizenizationModel(scenario, scale=scale, months=months, seed=1)
        while model.running:
            model.step()
    return sorted((KernelSignature(k, args, s) for (k, args), s in found.items()), key=lambda e: -e.seconds)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Record the kernels a run calls, with their argument types and "
                                             f"compile times, into {SIGNATURES.name}.")
    ap.add_argument("--out", type=Path, default=SIGNATURES, help="file to write (default: %(default)s)")
    args = ap.parse_args(argv)
    entries = record()
    args.out.write_text("[\n" + ",\n".join(json.dumps(asdict(e)) for e in entries) + "\n]\n")  # a line per kernel
    print(f"{len(entries)} kernel signatures, {sum(e.seconds for e in entries):.1f} s of compilation -> {args.out}")


if __name__ == "__main__":
    main()
