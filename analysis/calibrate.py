"""Calibration of the behavioural parameters to the official history (``citizensim calibrate``).

Method (documented in ``sim/data/PROVENANCE.md``, section "calibrated.yaml"):

* **Start**: the backtest scenario (``scenarios/backtest-2020.yaml``): the end-2020 state synthesized from
  the 2020 census and the NBS year-end figures, stepped month by month under the pre-2024 settlement rules.
* **Targets** (:func:`sim.inputs.load_history`), fitting years 2021-2022 only: resident urbanization
  (2021, 2022), hukou urbanization (2021; 2022 is not published in the file), migrant workers living in
  towns (进城农民工, 2021, 2022), compared with the model's migrant workers
  (:func:`sim.synthesis.migrant_worker_mask`), and how much older the migrant workers are than at the start
  (the survey's average age less its end-2020 value, 2021 and 2022; the model's migrant workers are 16-64
  and in towns, so their level differs, but a flood of young leavers would show as ageing too slowly).
  2023 and 2024 are out-of-sample: :func:`fit_targets` refuses them, so they can never enter the objective.
* **Parameters** (``FITTED``): the monthly hazards of leaving home (rural heads with their family, adult
  children on their own), the return hazard, the settlement take-up, the reclassification rate of rural
  areas and the 2022 mobility shock (the COVID-19 movement restrictions, a multiplier on the hazards of
  leaving home and of onward moves in 2022 only), searched in log space within bounds.
* **Objective**: residuals scaled by the tolerance we aim at (``SCALE``: 0.1 pp of resident
  urbanization, 0.2 pp of hukou urbanization, 1% of migrant workers, 0.2 years of ageing), averaged over a
  few seeds with common random numbers (each evaluation reuses the same seeds, so parameter changes are not masked by
  noise), at a coarse scale (default 1 agent = 10,000 persons).
* **Optimiser**: ``scipy.optimize.least_squares`` (trust-region reflective, forward differences with
  a step of 0.15 in every log-parameter, ``DIFF_STEP``, a 16% change: large enough to move whole agents at a
  coarse scale; :func:`forward_jacobian`), stopped after
  ``max_evals`` evaluations of the objective (finite differences included); the best one is kept.

The fitted values go to ``sim/data/calibrated.yaml`` with the method, the objective before and after,
and the targets, and become the default behaviour of every scenario (:func:`sim.scenario_io.load_scenario`).
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.inputs import load_history
from sim.policy import Behaviour, Scenario
from sim.scenario_io import CALIBRATED, calibrated_defaults, load_scenario

ROOT = Path(__file__).resolve().parents[1]
BACKTEST_SCENARIO = ROOT / "scenarios" / "backtest-2020.yaml"
FIT_YEARS = (2021, 2022)
OUT_OF_SAMPLE_YEARS = (2023, 2024)
#: the year whose end is the backtest's start state (ageing is measured from it)
BASE_YEAR = 2020
METRICS = ("resident_rate", "hukou_rate", "migrant_workers", "migrant_ageing")
#: model metric -> column of :func:`sim.inputs.load_history` it is compared with (ageing: the change since
#: ``BASE_YEAR`` of the average age)
HISTORY_COLUMN = {"resident_rate": "resident_rate", "hukou_rate": "hukou_rate", "migrant_workers": "migrant_in_towns",
                  "migrant_ageing": "migrant_avg_age"}
#: residual scale: absolute for rates and ageing (years), relative for migrant workers
SCALE = {"resident_rate": 0.001, "hukou_rate": 0.002, "migrant_workers": 0.01, "migrant_ageing": 0.2}
#: forward-difference step in log space: wide enough to span many whole agents at a coarse scale, so
#: that the Jacobian sees the trend rather than the graininess of a finite population
DIFF_STEP = 0.15
SHOCK_PREFIX = "mobility_shocks."
#: fitted parameters -> (lower, upper) bounds: Behaviour fields, and ``mobility_shocks.<year>`` factors
FITTED: dict[str, tuple[float, float]] = {
    "migrate_hazard": (5e-4, 0.05),
    "leave_home_hazard": (5e-4, 0.05),
    "return_hazard": (2e-4, 0.03),
    "settle_takeup": (1e-3, 0.2),
    "reclassify_rate": (5e-5, 0.005),
    f"{SHOCK_PREFIX}2022": (0.05, 1.5),
}


def default_value(name: str) -> float:
    """The uncalibrated value of a fitted parameter: the Behaviour default, or no shock (1)."""
    return 1.0 if name.startswith(SHOCK_PREFIX) else float(Behaviour.model_fields[name].default)


def calibrated_values(path: Path = CALIBRATED) -> dict[str, float]:
    """The fitted parameters as they stand in ``calibrated.yaml`` (only those present)."""
    defaults = calibrated_defaults(path)
    flat = {**defaults.get("behaviour", {}),
            **{f"{SHOCK_PREFIX}{year}": v for year, v in defaults.get("mobility_shocks", {}).items()}}
    return {name: float(flat[name]) for name in FITTED if name in flat}


def split_values(values: dict[str, float]) -> tuple[dict[str, float], dict[int, float]]:
    """Fitted parameters as (Behaviour fields, mobility shock factors by year)."""
    behaviour = {k: v for k, v in values.items() if not k.startswith(SHOCK_PREFIX)}
    shocks = {int(k[len(SHOCK_PREFIX):]): v for k, v in values.items() if k.startswith(SHOCK_PREFIX)}
    return behaviour, shocks


def with_values(scenario: Scenario, values: dict[str, float]) -> Scenario:
    """``scenario`` with fitted parameters set: Behaviour fields and ``mobility_shocks.<year>`` factors."""
    behaviour, shocks = split_values(values)
    return scenario.model_copy(update={"behaviour": scenario.behaviour.model_copy(update=behaviour),
                                       "mobility_shocks": {**scenario.mobility_shocks, **shocks}})


def fit_targets(history: pd.DataFrame, years: Sequence[int] = FIT_YEARS) -> pd.DataFrame:
    """Official values the calibration fits: one row per (year, metric) with a published value.

    Raises ValueError for any out-of-sample year: 2023 and 2024 must never enter the objective.
    """
    bad = sorted(set(years) & set(OUT_OF_SAMPLE_YEARS))
    if bad:
        raise ValueError(f"years {bad} are out-of-sample and cannot be used for calibration")
    rows = [{"year": int(year), "metric": metric, "official": official_value(history, year, metric)}
            for year in years for metric in METRICS]
    out = pd.DataFrame(rows).dropna(subset=["official"]).reset_index(drop=True)
    assert not out["year"].isin(OUT_OF_SAMPLE_YEARS).any()
    return out


def official_value(history: pd.DataFrame, year: int, metric: str) -> float:
    """The published value of ``metric`` at the end of ``year`` (NaN where unpublished); for ``migrant_ageing``
    the average age then less that at the end of ``BASE_YEAR``."""
    def at(y: int) -> float:
        row = history.loc[history["year"] == y, HISTORY_COLUMN[metric]]
        return float(row.iloc[0]) if len(row) else math.nan

    return at(year) - at(BASE_YEAR) if metric == "migrant_ageing" else at(year)


def year_end_metrics(model) -> dict[str, float]:
    """National resident and hukou urbanization, migrant workers (persons) and their mean age (years, as
    ``migrant_ageing``: :func:`simulate_years` turns it into the change since the start) of the model now."""
    from sim.synthesis import migrant_worker_mask

    residents = model.national("residents")
    workers = migrant_worker_mask(model.people)
    return {
        "resident_rate": model.national("urban_residents") / residents,
        "hukou_rate": model.national("urban_hukou") / residents,
        "migrant_workers": float(workers.sum()) * model.scale,
        "migrant_ageing": float(model.people.view()["age"][workers].mean()),
    }


def simulate_years(scenario: Scenario, years: Sequence[int],
                   on_month: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Run ``scenario`` to the end of the last of ``years`` and return the year-end metrics (long table; the
    ageing relative to the start state)."""
    from sim.model import CitizenizationModel

    last = max(years)
    months = 12 * (last - scenario.start_year + 1)
    if months > scenario.months:
        scenario = scenario.model_copy(update={"months": months})
    model = CitizenizationModel(scenario)
    rows = [{"year": scenario.start_year - 1, "metric": k, "simulated": v} for k, v in year_end_metrics(model).items()]
    while model.running and model.steps < months:
        model.step()
        if on_month is not None:
            on_month(model.steps)
        if model.steps % 12 == 0:
            year = scenario.start_year + model.steps // 12 - 1
            rows += [{"year": year, "metric": k, "simulated": v} for k, v in year_end_metrics(model).items()]
    del model
    gc.collect()  # the model's agents refer back to it: free its arrays now, not whenever the collector runs
    out = pd.DataFrame(rows)
    ageing = out["metric"] == "migrant_ageing"
    out.loc[ageing, "simulated"] -= out.loc[ageing, "simulated"].iloc[0]
    return out


def _simulate_task(args) -> pd.DataFrame:
    return simulate_years(*args)


def _single_thread() -> None:
    """Worker initialiser: one numba thread per process (the processes share the cores)."""
    import numba

    numba.set_num_threads(1)


def seed_pool(workers: int):
    """A process pool (spawned, one numba thread each) that runs seeds side by side."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_single_thread)


def residuals(table: pd.DataFrame) -> np.ndarray:
    """Scaled residuals of a table with ``metric``, ``simulated`` and ``official`` columns."""
    sim, off = table["simulated"].to_numpy(float), table["official"].to_numpy(float)
    rel = table["metric"].eq("migrant_workers").to_numpy()
    diff = np.where(rel, sim / off - 1.0, sim - off)
    return diff / table["metric"].map(SCALE).to_numpy(float)


@dataclass
class Objective:
    """Scaled residuals of a parameter vector, averaged over seeds (common random numbers)."""

    base: Scenario
    targets: pd.DataFrame
    seeds: Sequence[int]
    scale: int
    names: Sequence[str] = tuple(FITTED)
    evaluations: list[dict] = field(default_factory=list)

    pool: object | None = None  # a concurrent.futures executor running one seed per task

    def scenario(self, values: dict[str, float], seed: int) -> Scenario:
        return with_values(self.base, values).model_copy(update={"seed": seed, "scale": self.scale})

    def table(self, values: dict[str, float]) -> pd.DataFrame:
        """Mean simulated value per target over the seeds (fitted parameters set to ``values``), joined
        with the official values."""
        years = sorted(self.targets["year"].unique())
        scenarios = [self.scenario(values, s) for s in self.seeds]
        if self.pool is not None:
            runs = list(self.pool.map(_simulate_task, [(sc, years) for sc in scenarios]))
        else:
            runs = [simulate_years(sc, years) for sc in scenarios]
        sim = pd.concat(runs).groupby(["year", "metric"], as_index=False)["simulated"].mean()
        return self.targets.merge(sim, on=["year", "metric"], how="left")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        values = dict(zip(self.names, np.exp(x).tolist(), strict=True))
        r = residuals(self.table(values))
        self.evaluations.append({**values, "loss": float(r @ r)})
        return r


class _BudgetSpent(Exception):
    """Raised inside the objective once ``max_evals`` evaluations (finite differences included) are done."""


@dataclass
class CalibrationResult:
    values: dict[str, float]
    start_values: dict[str, float]  # where the search started
    default_values: dict[str, float]  # the uncalibrated code defaults (loss_before, table_before)
    loss_before: float
    loss_after: float
    table_before: pd.DataFrame
    table_after: pd.DataFrame
    evaluations: list[dict]
    seconds: float
    scale: int
    seeds: list[int]


def calibrate(scale: int = 10_000, seeds: Sequence[int] = (1, 2), max_evals: int = 40,
              scenario_path: Path = BACKTEST_SCENARIO, start: dict[str, float] | None = None,
              workers: int = 2, log: Callable[[str], None] | None = None) -> CalibrationResult:
    """Fit ``FITTED`` to the fitting years from the backtest start; see the module docstring.

    The search starts from ``start`` (missing names: the code defaults); the fit before calibration
    (``loss_before``, ``table_before``) is always that of the code defaults.

    ``workers`` processes run the seeds of each evaluation side by side (1: in this process).
    """
    pool = seed_pool(min(workers, len(seeds))) if workers > 1 and len(seeds) > 1 else None
    try:
        return _calibrate(scale, seeds, max_evals, scenario_path, start, pool, log)
    finally:
        if pool is not None:
            pool.shutdown()


def _calibrate(scale, seeds, max_evals, scenario_path, start, pool, log) -> CalibrationResult:
    from scipy.optimize import least_squares

    t0 = time.perf_counter()
    base = load_scenario(scenario_path, calibrated=False)
    defaults = {k: default_value(k) for k in FITTED}
    start_values = {**defaults, **(start or {})}
    base = with_values(base, start_values)
    obj = Objective(base, fit_targets(load_history()), list(seeds), scale, pool=pool)
    lo = np.log([FITTED[k][0] for k in obj.names])
    hi = np.log([FITTED[k][1] for k in obj.names])
    x0 = np.clip(np.log([start_values[k] for k in obj.names]), lo + 1e-9, hi - 1e-9)

    seen: dict[bytes, np.ndarray] = {}  # residuals by point: the Jacobian's base point is always evaluated already

    def fun(x):
        key = np.asarray(x, float).tobytes()
        if key in seen:
            return seen[key]
        if len(obj.evaluations) >= max_evals:
            raise _BudgetSpent
        r = seen[key] = obj(x)
        if log is not None:
            e = obj.evaluations[-1]
            log(f"eval {len(obj.evaluations):3d}  loss {e['loss']:9.3f}  "
                + "  ".join(f"{k}={e[k]:.5g}" for k in obj.names))
        return r

    try:
        fit = least_squares(fun, x0, jac=lambda x: forward_jacobian(fun, x, lo, hi), bounds=(lo, hi), method="trf",
                            x_scale=1.0, xtol=1e-3, ftol=1e-4)
        message = fit.message
    except _BudgetSpent:
        message = f"evaluation budget ({max_evals}) spent"
    if log is not None:
        log(f"optimiser stopped: {message}")
    best = min(range(len(obj.evaluations)), key=lambda i: obj.evaluations[i]["loss"])
    values = {k: float(obj.evaluations[best][k]) for k in obj.names}
    before = obj.table(defaults)  # the uncalibrated fit, whatever the search started from
    r = residuals(before)
    after = obj.table(values)
    return CalibrationResult(values, start_values, defaults, float(r @ r), obj.evaluations[best]["loss"], before,
                             after, obj.evaluations, time.perf_counter() - t0, scale, list(seeds))


def forward_jacobian(fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     step: float = DIFF_STEP) -> np.ndarray:
    """Forward differences of ``fun`` at ``x`` with the same step ``step`` in every log-parameter (backward
    where a forward step would leave the bounds ``lo``..``hi``).

    scipy's own steps are relative to ``|x|``: in log space that made them wide for small hazards (x = -5.7,
    a factor 2.4) and vanishing for a factor of 1 (x = 0, a mobility shock starting at "no shock"), whose
    column then stayed zero and the parameter never moved.
    """
    r0 = fun(x)
    jac = np.empty((len(r0), len(x)))
    for k in range(len(x)):
        h = step if x[k] + step <= hi[k] else -step
        if x[k] + h < lo[k]:
            h = hi[k] - x[k]
        xk = x.copy()
        xk[k] += h
        jac[:, k] = (fun(xk) - r0) / h
    return jac


def objective_text() -> str:
    """The objective in words, with the residual scales of ``SCALE`` (for ``calibrated.yaml``)."""
    return (f"sum of squared residuals scaled by {100 * SCALE['resident_rate']:g} pp (resident rate), "
            f"{100 * SCALE['hukou_rate']:g} pp (hukou rate), {SCALE['migrant_workers']:.0%} (migrant workers in "
            f"towns), {SCALE['migrant_ageing']:g} years (migrant workers' ageing since end-{BASE_YEAR}), mean over "
            "seeds with common random numbers")


def write_calibrated(result: CalibrationResult, path: Path = CALIBRATED) -> Path:
    """Write ``calibrated.yaml``: the fitted behaviour plus how it was obtained."""

    def rows(table):
        return [{"year": int(r.year), "metric": r.metric, "official": round(float(r.official), 6),
                 "simulated": round(float(r.simulated), 6)} for r in table.itertuples()]

    behaviour, shocks = split_values(result.values)
    payload = {
        "behaviour": {k: float(f"{v:.6g}") for k, v in behaviour.items()},
        "mobility_shocks": {year: float(f"{v:.6g}") for year, v in shocks.items()},
        "method": {
            "command": "citizensim calibrate",
            "scenario": "scenarios/backtest-2020.yaml (start: end-2020 state)",
            "optimiser": f"scipy.optimize.least_squares (trf, log-parameters, forward differences of {DIFF_STEP:g} "
                         "in every log-parameter)",
            "objective": objective_text(),
            "fit_years": list(FIT_YEARS),
            "out_of_sample_years": list(OUT_OF_SAMPLE_YEARS),
            "scale": result.scale,
            "seeds": result.seeds,
            "evaluations": len(result.evaluations),
            "seconds": round(result.seconds, 1),
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "fit": {
            "loss_uncalibrated": round(result.loss_before, 4),
            "loss_calibrated": round(result.loss_after, 4),
            "uncalibrated_values": {k: float(f"{v:.6g}") for k, v in result.default_values.items()},
            "search_started_from": {k: float(f"{v:.6g}") for k, v in result.start_values.items()},
            "targets_uncalibrated": rows(result.table_before),
            "targets_calibrated": rows(result.table_after),
        },
    }
    header = ("# Behavioural parameters and historical mobility shocks fitted by `citizensim calibrate`\n"
              "# (analysis/calibrate.py); the defaults of every scenario (sim/scenario_io.py merges `behaviour:` and\n"
              "# `mobility_shocks:` under a scenario file's own values).\n"
              "# Fitted on 2021-2022 only; 2023-2024 are out-of-sample. See sim/data/PROVENANCE.md.\n")
    Path(path).write_text(header + yaml.safe_dump(payload, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return Path(path)
