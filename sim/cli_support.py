"""What every ``citizensim`` command shares: one-line errors, the thread option, the month progress bar."""

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
