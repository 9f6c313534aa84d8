"""The ``calibrate`` and ``backtest`` commands of ``citizensim`` (registered on the typer app of :mod:`sim.cli`).

User mistakes end with one line on stderr and exit code 2.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sim import cli_support
from sim.cli_support import UserError, compile_kernels_ahead, err_console, fail, month_progress, set_threads

console = Console()


def parse_seeds(text: str) -> list[int]:
    """The seeds of a ``--seeds`` option ("0,1,2"); a one-line error (exit 2) for anything else."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        seeds = []
    if not seeds or any(s < 0 for s in seeds):
        fail(f"option --seeds: expected comma-separated non-negative integers, got {text!r}")
    return seeds


def calibrate(
    scale: Annotated[int, typer.Option(min=1000, max=1_000_000,
                                       help="Persons per agent of the calibration runs (coarse: fast).")] = 10_000,
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds, the same for every evaluation "
                                            "(common random numbers).")] = "1,2",
    max_evals: Annotated[int, typer.Option(min=1, max=1000, help="Most objective evaluations.")] = 30,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processes running seeds side by side.")] = 2,
    out: Annotated[Path | None, typer.Option(help="Where to write the fitted values "
                                                  "(default: sim/data/calibrated.yaml).")] = None,
    from_defaults: Annotated[bool, typer.Option(help="Start the search from the code defaults instead of the "
                                                     "values in sim/data/calibrated.yaml.")] = False,
) -> None:
    """Fit the behavioural parameters to NBS history 2021-2022 from the end-2020 state.

    Resident urbanization 2021-2022, hukou urbanization 2021, migrant workers in towns 2021-2022 and their
    ageing since 2020;
    2023-2024 are out-of-sample and never fitted. The search starts from the current calibrated values
    (a refit after a model change), or with --from-defaults from the code defaults. Writes
    sim/data/calibrated.yaml, the default behaviour of every scenario.
    """
    try:
        import scipy.optimize  # noqa: F401
    except ImportError:
        fail("calibrate needs scipy: pip install scipy (or the test extras: pip install -e '.[test]')")
    from analysis.calibrate import FITTED, calibrated_values, write_calibrated
    from analysis.calibrate import calibrate as run_calibration
    from analysis.outputs import OutputError, check_file_destination
    from sim.scenario_io import CALIBRATED

    seed_list = parse_seeds(seeds)
    try:
        out = check_file_destination(out or CALIBRATED, "calibrated.yaml")
    except OutputError as err:
        fail(str(err))
    err_console.print(f"calibrating {', '.join(FITTED)} at 1 agent = {scale} persons, seeds {seed_list}, "
                      f"at most {max_evals} evaluations", highlight=False)
    start = None if from_defaults else calibrated_values()
    compile_kernels_ahead()
    result = run_calibration(scale=scale, seeds=seed_list, max_evals=max_evals, workers=workers, start=start,
                             log=lambda line: err_console.print(line, highlight=False))
    path = write_calibrated(result, out)
    console.print(f"loss {result.loss_before:.3f} (uncalibrated) -> {result.loss_after:.3f} (calibrated) "
                  f"in {result.seconds:.0f} s", highlight=False)
    for name, value in result.values.items():
        console.print(f"  {name}: {result.default_values[name]:.6g} (default), {result.start_values[name]:.6g} "
                      f"(start) -> {value:.6g}", highlight=False)
    t = result.table_after.merge(result.table_before[["year", "metric", "simulated"]], on=["year", "metric"],
                                 suffixes=("", "_uncalibrated"))
    typer.echo(t.to_string(index=False))
    console.print(f"wrote {path}", highlight=False)
    _print_backtest(result.values, scale, seed_list)


def _print_backtest(values: dict[str, float], scale: int, seeds: list[int]) -> None:
    """The backtest table (2023-2024 out of sample) of the fitted values, at the calibration's scale and seeds."""
    from analysis.backtest import backtest_months, backtest_table, format_table, simulate_backtest
    from analysis.calibrate import BACKTEST_SCENARIO, with_values
    from sim.inputs import load_history
    from sim.scenario_io import load_scenario

    sc = with_values(load_scenario(BACKTEST_SCENARIO, calibrated=False), values).model_copy(update={"scale": scale})
    months = backtest_months(sc) * len(seeds)
    with month_progress(months, f"backtest of the fitted values (1 agent = {scale} persons)") as bar:
        task = bar.add_task("run", total=months)
        simulated = simulate_backtest(sc, seeds, on_month=lambda m: bar.update(task, completed=m))
    console.print(f"backtest, seeds {seeds} (`citizensim backtest` runs it at the default scale):", highlight=False)
    typer.echo(format_table(backtest_table(simulated, load_history())))


def backtest(
    scenario: Annotated[Path, typer.Argument(help="Backtest scenario YAML.")] = Path("scenarios/backtest-2020.yaml"),
    scale: Annotated[int | None, typer.Option(help="Persons per agent (default: the scenario's, 1000).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the scenario's).")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds run one after the other: the table "
                                                   "gives their mean and the range of a single seed's error.")] = None,
    out: Annotated[Path | None, typer.Option(help="Results folder (default: results/<scenario name>).")] = None,
    threads: Annotated[int | None, typer.Option(help="Numba threads (default: all cores).")] = None,
) -> None:
    """Run the backtest from end-2020 to end-2024 and print simulated vs official history.

    Writes backtest.csv, backtest.md, backtest.png, simulated.csv and manifest.json. 2023-2024 are
    out-of-sample. Targets: resident urbanization within 0.3 pp, migrant workers within 3% (over several
    --seeds, for their mean).
    """
    from analysis.backtest import YEARS, backtest_months, format_table, run_backtest
    from analysis.outputs import OutputError, check_destination
    from sim.scenario_io import ScenarioError, load_scenario

    if seed is not None and seeds is not None:
        fail("options --seed and --seeds: give one of them")
    seed_list = parse_seeds(seeds) if seeds is not None else None
    try:
        set_threads(threads)
        sc = load_scenario(scenario, scale=scale, seed=seed)
        if sc.start_year != min(YEARS):
            raise UserError(f"{scenario}: key 'start_year': a backtest starts in {min(YEARS)} (from the end-2020 "
                            f"state), got {sc.start_year}")
        out_dir = check_destination(out or Path("results") / sc.name)
    except (ScenarioError, UserError, OutputError) as err:
        fail(str(err))
    cli_support.warn_if_short_of_memory(sc.start_year, sc.scale)
    months = backtest_months(sc) * len(seed_list or [sc.seed])
    started = time.perf_counter()
    compile_kernels_ahead()
    runs = f", {len(seed_list)} seeds" if seed_list else ""
    with month_progress(months, f"{sc.name} (1 agent = {sc.scale} persons{runs})") as bar:
        task = bar.add_task("run", total=months)
        table, path = run_backtest(sc, out_dir, on_month=lambda m: bar.update(task, completed=m),
                                   extra={"scenario_file": str(scenario)}, seeds=seed_list)
    typer.echo(format_table(table))
    res = table[table["metric"] == "resident_rate"]
    mw = table[table["metric"] == "migrant_workers"]
    console.print(f"resident urbanization within 0.3 pp: {int(res['within_target'].sum())}/{len(res)} years; "
                  f"migrant workers within 3%: {int(mw['within_target'].sum())}/{len(mw)} years "
                  f"({time.perf_counter() - started:.0f} s) -> {path}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``calibrate`` and ``backtest`` to the ``citizensim`` app."""
    app.command(name="calibrate")(calibrate)
    app.command(name="backtest")(backtest)
