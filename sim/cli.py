"""The ``citizensim`` command line.

User mistakes (a missing or invalid scenario file, a bad option) end with one line on stderr and
exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from analysis.outputs import OutputError, check_destination, check_file_destination
from sim import cli_support
from sim.cli_support import UserError, compile_kernels_ahead, err_console, fail, month_progress, set_threads
from sim.scenario_io import ScenarioError, load_scenario

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Agent-based projections of migrant workers' citizenization (国发〔2024〕17号).")


def _print_version(value: bool) -> None:
    if value:
        from importlib import metadata

        from analysis.outputs import git_revision

        revision = git_revision()
        typer.echo(f"citizensim {metadata.version('citizensim')}" + (f" ({revision})" if revision else ""))
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version (and the source's git revision) and exit.")] = False,
) -> None:
    """Agent-based projections of migrant workers' citizenization (国发〔2024〕17号)."""


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file, e.g. scenarios/plan-2024.yaml")],
    scale: Annotated[int | None, typer.Option(help="Persons per agent (default: the scenario's, 1000).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the scenario's).")] = None,
    months: Annotated[int | None, typer.Option(help="Months to simulate (default: the scenario's, 60).")] = None,
    out: Annotated[Path | None, typer.Option(help="Results folder (default: results/<scenario name>).")] = None,
    threads: Annotated[int | None, typer.Option(help="Numba threads (default: all cores).")] = None,
    replications: Annotated[int, typer.Option(min=1, max=10_000, help="Runs with seeds seed, seed+1, ...: "
                                              "an ensemble with a 'run' column, mean and 5-95% bands.")] = 1,
    checkpoint: Annotated[Path | None, typer.Option(
        help="Also save the model to this file after --checkpoint-at months (continue: `citizensim resume`).")] = None,
    checkpoint_at: Annotated[int | None, typer.Option(
        min=1, help="Month after which --checkpoint is saved (default: 12).")] = None,
) -> None:
    """Run one projection and write series.parquet, manifest.json and urbanization.png."""
    try:
        if checkpoint_at is not None and checkpoint is None:
            raise UserError("option --checkpoint-at: only with --checkpoint FILE (where to save the model)")
        checkpoint_at = 12 if checkpoint_at is None else checkpoint_at
        set_threads(threads)
        sc = load_scenario(scenario, scale=scale, seed=seed, months=months)
        if checkpoint is not None and (replications > 1 or checkpoint_at >= sc.months):
            raise UserError(f"option --checkpoint-at: {checkpoint_at} is out of range (allowed: 1 to {sc.months - 1},"
                            " one run only)")
        out_dir = check_destination(out or Path("results") / sc.name)
        if checkpoint is not None:
            check_file_destination(checkpoint, "run.ckpt")
    except (ScenarioError, UserError, OutputError) as err:
        fail(str(err))
    cli_support.warn_if_short_of_memory(sc.start_year, sc.scale)
    compile_kernels_ahead()
    from sim.runner import run_scenario

    if replications > 1:  # an ensemble (analysis/ensemble.py)
        from analysis.ensemble import run_ensemble

        with month_progress(sc.months * replications, f"{sc.name} x {replications} seeds") as bar:
            task = bar.add_task("run", total=sc.months * replications)
            path, end = run_ensemble(sc, replications, out_dir, on_month=lambda m: bar.update(task, completed=m),
                                     extra={"scenario_file": str(scenario)})
        for metric in ("resident_rate", "hukou_rate"):
            mean, low, high = end.loc[metric, ["mean", "p05", "p95"]]
            err_console.print(f"{sc.name}: {metric} {mean:.2%} (5-95%: {low:.2%}-{high:.2%}) -> {path}",
                              highlight=False)
        return
    started = time.perf_counter()
    with month_progress(sc.months, f"{sc.name} (1 agent = {sc.scale} persons)") as bar:
        task = bar.add_task("run", total=sc.months)
        result = run_scenario(sc, on_month=lambda m: bar.update(task, completed=m), checkpoint_at=checkpoint_at,
                              checkpoint=checkpoint)
    _write_and_report(result, out_dir, started, {"scenario_file": str(scenario)})


@app.command()
def resume(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint written by `citizensim run --checkpoint`.")],
    scenario: Annotated[Path | None, typer.Option(
        help="Branch: go on under this scenario's levers, behaviour and months instead of the checkpoint's "
             "(same population, seed and scale; the same start year).")] = None,
    out: Annotated[Path | None, typer.Option(help="Results folder (default: results/<scenario name>).")] = None,
    threads: Annotated[int | None, typer.Option(help="Numba threads (default: all cores).")] = None,
) -> None:
    """Continue a checkpointed run to the end of its scenario (results equal an uninterrupted run's), or
    branch it into another scenario from the saved month."""
    from sim.checkpoint import CheckpointError, load_checkpoint
    from sim.runner import finish_run

    started = time.perf_counter()
    try:
        set_threads(threads)
        model = load_checkpoint(checkpoint)
        saved_at = model.steps
        if scenario is not None:
            try:
                model.branch(load_scenario(scenario))
            except ValueError as err:  # a scenario that cannot continue the run (CitizenizationModel.branch)
                raise UserError(f"{scenario}: {err}") from None
        sc = model.scenario
        out_dir = check_destination(out or Path("results") / sc.name)
    except (CheckpointError, ScenarioError, UserError, OutputError) as err:
        fail(str(err))
    cli_support.warn_if_short_of_memory(sc.start_year, sc.scale)
    compile_kernels_ahead()
    with month_progress(sc.months, f"{sc.name} from month {saved_at} (1 agent = {sc.scale} persons)") as bar:
        task = bar.add_task("run", total=sc.months, completed=saved_at)
        result = finish_run(model, time.perf_counter() - started, on_month=lambda m: bar.update(task, completed=m))
    extra = {"resumed_from": str(checkpoint), "resumed_at_month": saved_at}
    if scenario is not None:
        extra["scenario_file"] = str(scenario)
    _write_and_report(result, out_dir, started, extra)


@app.command(name="compile")
def compile_kernels(
    workers: Annotated[int | None, typer.Option(min=1, max=256, help="Processes (default: all cores; no more "
                                                                     "than pay, 5 for the current kernels).")] = None,
) -> None:
    """Compile the engine's kernels into numba's cache now, in parallel processes.

    A first run does it itself. On a cluster, run it once where the workers share the package's cache
    before a sweep with --cluster or --scheduler.
    """
    import os

    from sim import compile_ahead

    if compile_ahead.is_compiled():
        err_console.print(f"kernels already compiled in {compile_ahead.cache_dir()}", highlight=False)
        return
    started = time.perf_counter()
    if errors := compile_kernels_ahead(workers or os.cpu_count() or 1):
        fail(f"{len(errors)} kernel(s) of sim/kernel_signatures.json failed to compile (listed above); "
             "record the list again: python -m sim.compile_ahead", code=1)
    err_console.print(f"compiled {len(compile_ahead.load_signatures())} kernels in "
                      f"{time.perf_counter() - started:.0f} s -> {compile_ahead.cache_dir()}", highlight=False)


def _write_and_report(result, out_dir: Path, started: float, extra: dict) -> None:
    """Write a run's results folder and print its final national rates."""
    from sim.runner import write_run

    sc = result.model.scenario
    path = write_run(result, out_dir, extra={"wall_seconds": round(time.perf_counter() - started, 3), **extra})
    national = result.series[(result.series["level"] == "national")
                             & (result.series["month"] == result.series["month"].max())]
    rates = national.set_index("metric")["value"]
    err_console.print(
        f"{sc.name}: {sc.start_year + (sc.months - 1) // 12} resident {rates['resident_rate']:.2%}, "
        f"hukou {rates['hukou_rate']:.2%} -> {path}", highlight=False)


# sweep, sensitivity and report live in analysis/commands.py
from analysis.commands import register as _register_analysis_commands  # noqa: E402

_register_analysis_commands(app)

# compare lives in analysis/compare.py
from analysis.compare import compare as _compare  # noqa: E402

app.command(name="compare")(_compare)

# calibrate and backtest live in analysis/calibration_commands.py
from analysis.calibration_commands import register as _register_calibration_commands  # noqa: E402

_register_calibration_commands(app)


def cli() -> None:
    """The ``citizensim`` script and ``python -m sim``: the app, with typer's own usage errors (a bad option
    value, a missing argument, an unknown command or option) as one line on stderr, exit code 2, like every
    other user mistake, instead of typer's framed box."""
    try:
        code = app(prog_name="citizensim", standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):  # Ctrl-C outside a command, or end of input at a prompt
        _interrupted()
    except SystemError as err:  # Ctrl-C inside a numba kernel surfaces as this, caused by the interrupt
        if _caused_by_interrupt(err):
            _interrupted()
        raise
    except typer.TyperException as err:  # typer's usage errors (click's, vendored)
        message = err.format_message()
        if message:  # no message: typer showed the help instead (no arguments at all)
            err_console.print(f"[bold red]error:[/] {message}{_allowed_range(err)}", highlight=False,
                              soft_wrap=True)
        sys.exit(getattr(err, "exit_code", 2))
    if code == 130:  # typer turns Ctrl-C in a command into this code, silently
        _interrupted()
    sys.exit(code or 0)


def _caused_by_interrupt(err: BaseException) -> bool:
    """Whether a KeyboardInterrupt is in ``err``'s chain of causes (numba wraps it in SystemErrors)."""
    for _ in range(32):
        if err is None:
            return False
        if isinstance(err, KeyboardInterrupt):
            return True
        err = err.__cause__ or err.__context__
    return False


def _interrupted() -> None:
    # The real stderr: a progress bar stopped by the interrupt may have left sys.stderr redirected.
    print("interrupted: no results folder is left half-written (each appears only once complete)",
          file=sys.__stderr__)
    sys.exit(130)


def _allowed_range(err: Exception) -> str:
    """' (allowed: a to b)' for an option with bounds, else ''."""
    param = getattr(err, "param", None)
    lo, hi = getattr(param, "min", None), getattr(param, "max", None)
    if lo is None and hi is None:
        return ""
    return f" (allowed: {lo} to {hi})" if hi is not None else f" (allowed: {lo} or more)" if lo is not None \
        else f" (allowed: up to {hi})"
