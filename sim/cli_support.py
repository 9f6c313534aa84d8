"""What every ``citizensim`` command shares: one-line errors, the thread option, the month progress bar,
compiling the kernels ahead on a first run."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

err_console = Console(stderr=True)


class UserError(Exception):
    """A mistake in the command's input, reported as one line."""


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` on stderr and exit with ``code`` (2: a user mistake)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


#: peak resident memory of a run: the interpreter with its libraries, and bytes per agent above it (the
#: larger of the measured 1:1000 and 1:100 figures, benchmarks/README.md: synthesis and January's compaction)
BASE_MEMORY_BYTES = 350e6
PEAK_BYTES_PER_AGENT = 52


def available_memory_bytes() -> float | None:
    """The memory the system can give a new process now (Linux ``MemAvailable``); None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def warn_if_short_of_memory(start_year: int, scale: int) -> None:
    """A warning (the run goes on) where a run from ``start_year`` at ``scale`` persons per agent looks likely
    to exceed the memory available: the system would kill it without a word, perhaps after an hour."""
    from sim.inputs import load_history

    history = load_history()
    persons = float(history.loc[history["year"] == start_year - 1, "total_pop"].iloc[0])
    available = available_memory_bytes()
    need = BASE_MEMORY_BYTES + PEAK_BYTES_PER_AGENT * persons / scale
    if available is not None and need > available:
        err_console.print(f"[bold yellow]warning:[/] 1 agent = {scale} persons needs about {need / 1e9:.1f} GB of "
                          f"memory at its peak and {available / 1e9:.1f} GB are available now; the run may be "
                          "killed for lack of memory (a larger --scale needs less)", highlight=False, soft_wrap=True)


def set_threads(threads: int | None) -> None:
    """Use ``threads`` numba threads (at most NUMBA_NUM_THREADS, which defaults to the cores)."""
    if threads is None:
        return
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    if not 1 <= threads <= limit:
        raise UserError(f"option --threads: {threads} is out of range (allowed: 1 to {limit}; "
                        "set NUMBA_NUM_THREADS for more)")
    numba.set_num_threads(threads)


def month_progress(total: int, label: str) -> Progress:
    """A progress bar over simulated months."""
    return Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TextColumn("months"),
                    TimeElapsedColumn(), console=err_console)


def compile_kernels_ahead(workers: int | None = None) -> list[str]:
    """Compile the kernels in parallel processes (:mod:`sim.compile_ahead`) unless the cache holds them:
    ``workers`` processes, or by default one per numba thread where there are two or more (a single
    process compiles no faster ahead than on each kernel's first call). Waits while another process
    compiles into the same cache, then uses its kernels. With a progress bar; returns (and prints as
    warnings) the kernels that failed, which compile on first call instead."""
    import numba
    from filelock import Timeout

    from sim import compile_ahead

    if compile_ahead.is_compiled():
        compile_ahead.mark_used()
        return []
    if workers is None:
        workers = numba.get_num_threads()
        if workers < 2:
            return []
    lock = compile_ahead.exclusive()
    try:
        lock.acquire(timeout=0)
    except Timeout:
        with err_console.status("waiting for another process that compiles the kernels into the same cache"):
            lock.acquire()
    try:
        if compile_ahead.is_compiled():  # compiled by the process that held the lock
            return []
        label = f"compiling kernels, once after an install or change ({compile_ahead.processes_for(workers)} processes)"
        progress = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err_console, transient=True)
        with progress:
            task = progress.add_task("compile", total=None)
            errors = compile_ahead.compile_ahead(workers, lambda done, total: progress.update(task, completed=done,
                                                                                               total=total))
    finally:
        lock.release()
    for error in errors:
        err_console.print(f"warning: not compiled ahead (compiles on first call): {error}", highlight=False,
                          soft_wrap=True, markup=False)
    return errors
