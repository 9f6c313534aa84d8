"""The ``sweep``, ``sensitivity`` and ``report`` commands of ``citizensim`` (registered on the typer
app of :mod:`sim.cli`). Heavy imports (dask, SALib) happen inside the commands.

User mistakes end with one line on stderr and exit code 2; a sweep with runs that still failed after
their retries exits with 1 (its other results are written); an interrupted sweep exits with 130.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sim.cli_support import compile_kernels_ahead, err_console, fail

console = Console()


def sweep(
    sweep_file: Annotated[Path, typer.Argument(help="Sweep YAML file, e.g. sweeps/levers.yaml")],
    scheduler: Annotated[str | None, typer.Option(
        help="Address (tcp://host:8786) or scheduler JSON file of a running Dask cluster.")] = None,
    cluster: Annotated[Path | None, typer.Option(
        help="dask-jobqueue cluster file (SLURM etc.), e.g. sweeps/slurm-example.yaml.")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, max=4096, help="Worker processes of the local cluster (default: cores / threads_per_run).")] = None,
    out: Annotated[Path | None, typer.Option(help="Sweep folder (default: results/sweeps/<sweep name>).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue a sweep: skip runs already done.")] = False,
) -> None:
    """Run a parameter sweep on Dask; write each run's result and one results.parquet table."""
    from analysis.cluster import ClusterError
    from analysis.designs import SweepError, load_sweep
    from analysis.outputs import OutputError
    from analysis.sweep import SweepStateError, build_design, describe, run_sweep

    try:
        sw = load_sweep(sweep_file)
        if workers is not None and (scheduler or cluster):
            raise SweepError("option --workers: only for the local cluster (not with --scheduler or --cluster)")
        if cluster is not None:
            from analysis.cluster import load_cluster_file

            load_cluster_file(cluster)
    except (SweepError, ClusterError) as err:
        fail(str(err))
    out_dir = out or Path("results") / "sweeps" / sw.name
    if scheduler is None and cluster is None:  # the local cluster's workers share this machine's kernel cache
        compile_kernels_ahead()

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=err_console)
    task = None

    def on_start(to_run: int, total: int) -> None:
        nonlocal task
        progress.console.print(f"{describe(sw, build_design(sw)[0])} -> {out_dir}", highlight=False, soft_wrap=True)
        if to_run < total:
            progress.console.print(f"{total - to_run} of {total} runs already done; running {to_run}",
                                   highlight=False, soft_wrap=True)
        task = progress.add_task(sw.name, total=to_run)

    def on_result(outcome: dict, done: int, to_run: int) -> None:
        if outcome["status"] == "failed":
            progress.console.print(f"[red]run {outcome['run_id']} failed after {outcome['attempts']} attempts:[/] "
                                   f"{outcome['error']}", highlight=False, soft_wrap=True)
        progress.update(task, completed=done)

    try:
        with progress:
            summary = run_sweep(sw, out_dir, resume=resume, scheduler=scheduler, workers=workers,
                                cluster_file=cluster, on_start=on_start, on_result=on_result)
    except (SweepError, SweepStateError, ClusterError, OutputError) as err:
        fail(str(err))
    except KeyboardInterrupt:
        err_console.print(f"interrupted; finished runs are kept in {out_dir}/runs - continue with --resume",
                          highlight=False, soft_wrap=True)
        raise typer.Exit(code=130) from None
    ran = len(summary.executed)
    err_console.print(f"{sw.name}: {ran} runs done, {len(summary.skipped)} skipped (done before), "
                      f"{len(summary.failed)} failed in {summary.seconds:.0f} s -> {summary.results}", highlight=False,
                      soft_wrap=True)
    if summary.failed:
        fail(f"{len(summary.failed)} run(s) failed after {sw.spec.retries} retries (listed in {out_dir}/sweep.json); "
              "rerun with --resume to try them again", code=1)


def sensitivity(
    sweep_dir: Annotated[Path, typer.Argument(help="Folder written by `citizensim sweep`.")],
    metric: Annotated[list[str] | None, typer.Option(
        help="Outcome metric (national, final year); repeat for several. Default: resident_rate, hukou_rate.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Folder for sensitivity.csv/.png (default: the sweep folder).")] = None,
) -> None:
    """Sobol (or Morris, or delta) indices of the final-year urbanization rates: table and bar chart."""
    from analysis import sensitivity as sa
    from analysis.outputs import OutputError

    try:
        table = sa.analyse(sweep_dir, tuple(metric) if metric else sa.DEFAULT_OUTCOMES)
        csv, png = sa.write(sweep_dir, table, out)
    except (sa.SensitivityError, OutputError) as err:
        fail(str(err))
    w = sa.wide(table)
    shown = Table(title=f"Sensitivity, {table['year'].iloc[0]} ({table['method'].iloc[0]} design)")
    for col in w.columns:
        shown.add_column(col, justify="left" if col in ("outcome", "factor") else "right")
    for row in w.itertuples(index=False):
        shown.add_row(*[v if isinstance(v, str) else f"{v:.3f}" for v in row])
    console.print(shown)
    if sa.wide_intervals(table):
        err_console.print("warning: the confidence intervals are wide; the ranking is not reliable - increase "
                          "design.samples (and seeds) in the sweep file", highlight=False, soft_wrap=True)
    err_console.print(f"-> {csv}, {png}", highlight=False, soft_wrap=True)


def report(
    results: Annotated[list[Path], typer.Argument(
        help="Result folders (runs, ensembles) and optionally a sweep folder.")],
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    pdf: Annotated[bool, typer.Option(
        "--pdf", help="Also write the figures and tables as a PDF beside the HTML.")] = False,
    title: Annotated[str | None, typer.Option(help="Report title.")] = None,
) -> None:
    """A self-contained HTML report (figures embedded) of one or more projections."""
    from analysis.outputs import OutputError
    from analysis.report import ReportError, build_report

    try:
        paths = build_report(results, out, pdf=pdf, title=title)
    except (ReportError, OutputError) as err:
        fail(str(err))
    err_console.print("-> " + ", ".join(str(p) for p in paths), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(sweep)
    app.command()(sensitivity)
    app.command()(report)
