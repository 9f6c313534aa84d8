"""Running a sweep on a Dask cluster: one task per run, each writing its own result folder atomically.

Layout of a sweep folder::

    sweep.json        the sweep as resolved (settings, base scenario, fingerprint), status, failures
    design.parquet    one row per run: run_id, point, seed and the factor values applied
    sample.parquet    one row per design point: the raw sampled values (for SALib analysis)
    runs/<run_id>/    metrics.parquet (yearly and end-of-period metrics), manifest.json,
                      series.parquet (only with save_series: true)
    results.parquet   all runs' metrics in one tidy table, joined with the design

Runs stream to disk from the workers; the client only receives a few numbers per run, and at most a
bounded window of runs is queued on the scheduler, so memory stays bounded by the workers. A run
folder appears only once complete (:func:`analysis.outputs.write_atomically`), so ``--resume`` simply
skips runs whose folder exists; a run whose worker died is rescheduled by Dask, and a run that raises
is resubmitted up to ``retries`` times and then reported in ``sweep.json`` (the rest still finish).
A rerun of a run that has already been written (a worker lost after writing) finds the folder and
returns at once, so every run is present exactly once.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import outputs
from analysis.designs import Sweep, build_design, describe

RESULTS = "results.parquet"
METRICS = "metrics.parquet"
PERIODS = ("start", "year", "end")


class SweepStateError(Exception):
    """The output folder does not fit the request (e.g. an existing sweep without --resume); one line."""


# -- one run -------------------------------------------------------------------------------------
def summarise(series: pd.DataFrame, start_year: int, levels: list[str] | tuple[str, ...],
              flows: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Yearly and end-of-period metrics of one run's tidy series.

    Rows: ``period`` "start" (month 0, the state before the first step), "year" (one per calendar
    year: stocks and rates at the year's last simulated month, flows summed over its simulated
    months) and "end" (stocks at the last month, flows summed over the whole run); ``year`` and
    ``month`` say which year and month a row refers to.
    """
    if flows is None:
        from sim.model import FLOWS as flows
    s = series[series["level"].isin(list(levels))]
    s = s[["month", "level", "region", "metric", "value"]].copy()
    for col in ("level", "region", "metric"):
        s[col] = s[col].astype(str)
    is_flow = s["metric"].isin(list(flows)).to_numpy()
    year = np.where(s["month"] >= 1, start_year + (s["month"] - 1) // 12, start_year - 1)
    s["year"] = year
    last = int(s["month"].max())
    keys = ["level", "region", "metric"]
    stocks, flow_rows = s[~is_flow], s[is_flow & (s["month"] >= 1).to_numpy()]
    year_end = s[s["month"] >= 1].groupby("year")["month"].max()
    parts = [stocks[stocks["month"] == 0].assign(period="start")]
    parts.append(stocks[stocks["month"].isin(year_end.to_numpy())].assign(period="year"))
    fy = flow_rows.groupby(["year", *keys], observed=True, sort=False)["value"].sum().reset_index()
    fy["month"] = fy["year"].map(year_end).astype(np.int64)
    parts.append(fy.assign(period="year"))
    parts.append(stocks[stocks["month"] == last].assign(period="end"))
    fe = flow_rows.groupby(keys, observed=True, sort=False)["value"].sum().reset_index()
    parts.append(fe.assign(period="end", month=last, year=int(start_year + (last - 1) // 12)))
    out = pd.concat(parts, ignore_index=True)
    out = out[["period", "year", "month", "level", "region", "metric", "value"]]
    out["year"] = out["year"].astype(np.int64)
    out["month"] = out["month"].astype(np.int64)
    return out.sort_values(["period", "year", "level", "region", "metric"], kind="stable", ignore_index=True)


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs for one run (no file access other than its output folder)."""

    run_id: str
    out_dir: str
    scenario: dict
    threads: int = 1
    levels: tuple[str, ...] = ("national", "tier", "province")
    save_series: bool = False
    extra: dict = field(default_factory=dict)


def is_complete(run_dir: Path) -> bool:
    return (Path(run_dir) / "manifest.json").is_file() and (Path(run_dir) / METRICS).is_file()


def execute_run(task: RunTask) -> dict:
    """Run one simulation on a worker and write its folder atomically; returns a small summary."""
    out = Path(task.out_dir)
    if is_complete(out):
        return {"run_id": task.run_id, "status": "done-before"}
    import numba

    numba.set_num_threads(max(1, min(task.threads, numba.config.NUMBA_NUM_THREADS)))
    from sim.policy import Scenario
    from sim.runner import manifest, run_scenario

    started = time.perf_counter()
    scenario = Scenario.model_validate(task.scenario)
    result = run_scenario(scenario)
    table = summarise(result.series, scenario.start_year, task.levels)
    extra = {"run_id": task.run_id, **task.extra, "wall_seconds": round(time.perf_counter() - started, 3),
             "host": os.uname().nodename, "pid": os.getpid()}

    def fill(tmp: Path) -> None:
        table.to_parquet(tmp / METRICS, index=False)
        if task.save_series:
            outputs.write_series(tmp / "series.parquet", result.series)
        outputs.write_json(tmp / "manifest.json", manifest(result, extra))

    try:
        outputs.write_atomically(out, fill)
    except OSError:
        if not is_complete(out):  # a duplicate attempt that finished first is fine; anything else is not
            raise
    end = table[(table["period"] == "end") & (table["level"] == "national")].set_index("metric")["value"]
    return {"run_id": task.run_id, "status": "ok", "seconds": extra["wall_seconds"],
            "resident_rate": float(end.get("resident_rate", np.nan)),
            "hukou_rate": float(end.get("hukou_rate", np.nan))}


# -- the sweep folder ------------------------------------------------------------------------------
def run_dir(out: Path, run_id: str) -> Path:
    return Path(out) / "runs" / run_id


def read_state(out: Path) -> dict | None:
    path = Path(out) / "sweep.json"
    if not path.is_file():
        return None
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def prepare(sweep: Sweep, out: Path, resume: bool, write: bool = True) -> pd.DataFrame:
    """Write (or, with ``resume``, check) the sweep's description and design; return the design.
    With ``write=False`` only check that ``out`` can take this sweep (nothing is written)."""
    out = Path(out)
    design, raw = build_design(sweep)
    fingerprint = sweep.fingerprint(design)
    state = read_state(out)
    if state is not None and not resume:
        raise SweepStateError(f"{out} already holds a sweep ('{state.get('name')}'); pass --resume to "
                              "continue it, or choose another --out")
    if state is not None and state.get("fingerprint") != fingerprint:
        raise SweepStateError(f"{out}: the sweep file's design, base scenario or settings changed since this "
                              "sweep was started (fingerprints differ); use a new --out")
    if out.exists() and not out.is_dir():
        raise SweepStateError(f"{out}: is a file, not a sweep folder; choose another --out")
    if state is None and out.exists() and any(out.iterdir()):  # --resume too: it starts a sweep in a new folder
        raise SweepStateError(f"{out} exists, is not empty and holds no sweep (no sweep.json); choose another --out")
    outputs.check_writable(out)
    if not write:
        return design
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs").mkdir(exist_ok=True)
    if state is None:
        _write_parquet(out / "design.parquet", design)
        _write_parquet(out / "sample.parquet", raw)
        write_state(out, {
            "name": sweep.name, "description": sweep.spec.description, "sweep_file": str(sweep.path),
            "fingerprint": fingerprint, "created_utc": _now(), "spec": sweep.spec.model_dump(mode="json"),
            "base_scenario": sweep.base_raw, "problem": sweep.problem(), "runs": len(design),
            "points": int(design["point"].nunique()), "status": "started",
        })
    return pd.read_parquet(out / "design.parquet")


def write_state(out: Path, state: dict) -> None:
    tmp = Path(out) / f".sweep.json.tmp-{os.getpid()}"
    outputs.write_json(tmp, state)
    os.replace(tmp, Path(out) / "sweep.json")


def _write_parquet(path: Path, df: pd.DataFrame) -> None:
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def clean_partial(out: Path) -> int:
    """Remove temporary folders left by runs killed while writing (they never look like results)."""
    n = 0
    for tmp in (Path(out) / "runs").glob(".*.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
        n += 1
    for old in (Path(out) / "runs").glob(".*.old-*"):
        shutil.rmtree(old, ignore_errors=True)
    return n


# -- running ---------------------------------------------------------------------------------------
@dataclass
class SweepSummary:
    out: Path
    total: int
    skipped: list[str]
    executed: list[str]
    failed: dict[str, str]
    attempts: dict[str, int]
    results: Path | None
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.failed


def make_tasks(sweep: Sweep, design: pd.DataFrame, out: Path) -> dict[str, RunTask]:
    """One validated task per run of the design."""
    names = sweep.factor_names
    tasks = {}
    for rowd in design.to_dict(orient="records"):
        values = {k: rowd[k] for k in names}
        scenario = sweep.scenario(values, int(rowd["seed"]))
        scenario = scenario.model_copy(update={"name": f"{scenario.name}:{rowd['run_id']}"})
        tasks[rowd["run_id"]] = RunTask(
            run_id=rowd["run_id"], out_dir=str(run_dir(out, rowd["run_id"])),
            scenario=scenario.model_dump(mode="json"), threads=sweep.spec.threads_per_run,
            levels=tuple(sweep.spec.levels), save_series=sweep.spec.save_series,
            extra={"sweep": sweep.name, "point": int(rowd["point"]),
                   "factors": {k: _plain(v) for k, v in values.items()}})
    return tasks


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def run_sweep(sweep: Sweep, out: Path, *, resume: bool = False, client: Any = None, scheduler: str | None = None,
              workers: int | None = None, cluster_file: Path | None = None,
              on_start: Callable[[int, int], None] | None = None,
              on_result: Callable[[dict, int, int], None] | None = None,
              runner: Callable[[RunTask], dict] = execute_run, window: int | None = None) -> SweepSummary:
    """Run every run of ``sweep`` not yet in ``out`` on Dask and collect the results table.

    ``client``: an existing ``distributed.Client``; otherwise one is opened on ``scheduler`` (an
    address), on a jobqueue ``cluster_file``, or on a new LocalCluster of ``workers`` processes.
    ``on_start(to_run, total)`` is called once, ``on_result(outcome, done, to_run)`` after every
    finished or finally failed run (outcome has run_id, status and, for new runs, the end rates).
    """
    from analysis.cluster import open_client

    started = time.perf_counter()
    out = Path(out)
    design = prepare(sweep, out, resume, write=False)  # refuse a wrong folder before starting any cluster
    tasks = make_tasks(sweep, design, out)
    done_before = [rid for rid in tasks if is_complete(run_dir(out, rid))]
    executed: list[str] = []
    failed: dict[str, str] = {}
    attempts: Counter[str] = Counter()

    def go(c) -> None:
        prepare(sweep, out, resume)  # written only once a cluster is there to run on
        clean_partial(out)
        todo = [rid for rid in tasks if rid not in set(done_before)]
        if on_start is not None:
            on_start(len(todo), len(tasks))
        if todo:
            _drive(c, tasks, todo, sweep.spec.retries, runner, window, executed, failed, attempts, on_result)

    if client is not None or len(done_before) == len(tasks):
        go(client)
    else:
        with open_client(scheduler, workers, sweep.spec.threads_per_run, cluster_file) as c:
            go(c)
    skipped = done_before
    clean_partial(out)
    results = collect_results(out)
    state = read_state(out) or {}
    done = sum(is_complete(run_dir(out, rid)) for rid in tasks)
    state.update({"status": "complete" if done == len(tasks) else "incomplete", "runs_done": done,
                  "failures": failed, "updated_utc": _now()})
    write_state(out, state)
    return SweepSummary(out, len(tasks), skipped, executed, failed, dict(attempts), results,
                        time.perf_counter() - started)


def _drive(client, tasks: dict[str, RunTask], todo: list[str], retries: int, runner, window: int | None,
           executed: list[str], failed: dict[str, str], attempts: Counter, on_result) -> None:
    """Submit runs in a bounded window, resubmit failures up to ``retries`` times, report each."""
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    queue = list(reversed(todo))  # pop() from the end keeps design order
    in_flight: dict[Any, str] = {}
    seq = as_completed()
    n_done = 0

    def limit() -> int:
        if window is not None:
            return window
        threads = sum(client.nthreads().values()) if client.scheduler_info() else 0
        return max(4 * threads, 256)

    def submit(rid: str) -> None:
        attempts[rid] += 1
        fut = client.submit(runner, tasks[rid], key=f"citizensim-{rid}-try{attempts[rid]}-{token}", pure=False)
        in_flight[fut] = rid
        seq.add(fut)

    def top_up() -> None:
        cap = limit()
        while queue and len(in_flight) < cap:
            submit(queue.pop())

    top_up()
    try:
        for fut in seq:
            rid = in_flight.pop(fut)
            try:
                outcome = fut.result()
            except Exception as err:  # the run raised, or its worker kept dying (KilledWorker)
                if attempts[rid] <= retries:
                    fut.release()
                    submit(rid)
                    continue
                message = f"{type(err).__name__}: {err}".splitlines()[0][:500]
                failed[rid] = message
                outcome = {"run_id": rid, "status": "failed", "error": message, "attempts": attempts[rid]}
            else:
                executed.append(rid)
            fut.release()
            n_done += 1
            if on_result is not None:
                on_result(outcome, n_done, len(todo))
            top_up()
    except BaseException:
        for fut in list(in_flight):
            fut.cancel()
        raise


# -- the results table -----------------------------------------------------------------------------
def collect_results(out: Path, rows_per_group: int = 500_000) -> Path | None:
    """Stream every complete run's metrics, joined with its design row, into ``results.parquet``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out)
    design = pd.read_parquet(out / "design.parquet")
    path = out / RESULTS
    tmp = out / f".{RESULTS}.tmp-{os.getpid()}"
    writer = None
    schema = None
    buffer: list[pd.DataFrame] = []
    n_buffered = 0
    n_runs = 0

    def flush() -> None:
        nonlocal writer, schema, buffer, n_buffered
        if not buffer:
            return
        table = pa.Table.from_pandas(pd.concat(buffer, ignore_index=True), preserve_index=False)
        if writer is None:
            schema = table.schema
            writer = pq.ParquetWriter(tmp, schema)
        writer.write_table(table.cast(schema))
        buffer, n_buffered = [], 0

    try:
        for row in design.to_dict(orient="records"):
            rdir = run_dir(out, row["run_id"])
            if not is_complete(rdir):
                continue
            metrics = pd.read_parquet(rdir / METRICS)
            for col in ("level", "region", "metric", "period"):
                metrics[col] = metrics[col].astype(str)
            head = pd.DataFrame({k: [v] * len(metrics) for k, v in row.items()})
            buffer.append(pd.concat([head, metrics], axis=1))
            n_buffered += len(metrics)
            n_runs += 1
            if n_buffered >= rows_per_group:
                flush()
        flush()
    finally:
        if writer is not None:
            writer.close()
    if n_runs == 0:
        tmp.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        return None
    os.replace(tmp, path)
    return path


def read_results(out: Path, filters: list | None = None) -> pd.DataFrame:
    """The sweep's results table (optionally filtered, e.g. ``[("level", "==", "national")]``)."""
    df = pd.read_parquet(Path(out) / RESULTS, filters=filters)
    for col in ("period", "level", "region", "metric"):
        df[col] = df[col].astype("category")
    return df


def describe_sweep(sweep: Sweep, out: Path) -> str:
    design, _ = build_design(sweep)
    return describe(sweep, design) + f" -> {out}"
