"""What every ``citizensim`` command shares: one-line errors, the thread option, the month progress bar,
compiling the kernels ahead on a first run."""

from __future__ import annotations

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
