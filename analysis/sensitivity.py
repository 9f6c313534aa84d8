"""Global sensitivity of the final-year urbanization rates to a sweep's factors (SALib).

The estimator follows the sweep's design: a Sobol design gives first-order and total Sobol indices
(S1, ST, Saltelli's estimators), a Morris design gives elementary-effect screening (mu*, sigma), and
a Latin hypercube or grid gives the moment-independent delta index and a first-order S1 estimate
(Plischke's method, which accepts any sample). Outcomes are averaged over a point's seeds first:
with common random numbers that removes most of the simulation noise from the indices.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import outputs
from analysis.sweep import RESULTS, read_results

DEFAULT_OUTCOMES = ("resident_rate", "hukou_rate")
OUTCOME_LABELS = {
    "resident_rate": "resident urbanization rate",
    "hukou_rate": "hukou urbanization rate",
    "urbanization_gap": "resident-hukou gap",
    "settlements": "settlements (persons, whole period)",
}
MEASURES = {  # design method -> (main measure, its confidence column, second measure, its confidence)
    "sobol": ("ST", "ST_conf", "S1", "S1_conf"),
    "morris": ("mu_star", "mu_star_conf", "sigma", None),
    "lhs": ("delta", "delta_conf", "S1", "S1_conf"),
    "grid": ("delta", "delta_conf", "S1", "S1_conf"),
}


class SensitivityError(Exception):
    """The sweep folder cannot be analysed (missing, incomplete); one line."""


def _state(sweep_dir: Path) -> dict:
    path = Path(sweep_dir) / "sweep.json"
    if not path.is_file():
        raise SensitivityError(f"{sweep_dir}: not a sweep folder (no sweep.json); run `citizensim sweep` first")
    if not (Path(sweep_dir) / RESULTS).is_file():
        raise SensitivityError(f"{sweep_dir}: no {RESULTS} yet; finish the sweep with `citizensim sweep ... --resume`")
    return json.loads(path.read_text(encoding="utf-8"))


def point_outcomes(sweep_dir: Path, outcomes=DEFAULT_OUTCOMES) -> tuple[pd.DataFrame, int]:
    """Per design point (rows, in design order): each outcome's end-of-period national value, averaged
    over seeds; and the final year."""
    res = read_results(sweep_dir, filters=[("level", "==", "national"), ("period", "==", "end")])
    res = res[res["metric"].isin(list(outcomes))]
    missing = sorted(set(outcomes) - set(res["metric"].astype(str)))
    if missing:
        raise SensitivityError(f"{sweep_dir}: metric(s) not in the results: {', '.join(missing)}")
    year = int(res["year"].max())
    table = res.pivot_table(index="point", columns="metric", values="value", aggfunc="mean", observed=True)
    return table[list(outcomes)], year


def analyse(sweep_dir: Path, outcomes=DEFAULT_OUTCOMES, seed: int = 2024) -> pd.DataFrame:
    """A tidy table: outcome, year, factor, measure (S1, ST, mu_star, delta, ...), value, conf.

    ``seed`` seeds the bootstrap of the confidence intervals (SALib ignores a seed of 0)."""
    if not seed:
        raise ValueError("seed must be a positive integer (SALib treats 0 as no seed)")
    sweep_dir = Path(sweep_dir)
    state = _state(sweep_dir)
    problem = state["problem"]
    design = state["spec"]["design"]
    method = design["method"]
    sample = pd.read_parquet(sweep_dir / "sample.parquet").sort_values("point")
    y, year = point_outcomes(sweep_dir, outcomes)
    n_points = len(sample)
    have = y.index.to_numpy()
    if method in ("sobol", "morris") and len(have) < n_points:
        raise SensitivityError(f"{sweep_dir}: {n_points - len(have)} of {n_points} design points have no "
                               f"finished run; a {method} analysis needs them all (rerun the sweep with --resume)")
    x = np.ascontiguousarray(sample.set_index("point").loc[have, problem["names"]].to_numpy(np.float64))
    rows = []
    with _single_threaded_blas():
        for outcome in outcomes:
            rows += _indices(problem, design, method, x, y[outcome], year, outcome, seed)
    return pd.DataFrame(rows)


def _single_threaded_blas():
    """SALib's delta estimator makes thousands of tiny BLAS calls; threaded BLAS only adds wake-up latency
    (badly so on a loaded machine). Limit it to one thread when threadpoolctl is installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _indices(problem: dict, design: dict, method: str, x: np.ndarray, y: pd.Series, year: int, outcome: str,
             seed: int) -> list[dict]:
    """The rows of one outcome's indices, with the estimator that matches the design."""
    from SALib.analyze import delta, morris, sobol

    values = y.to_numpy(np.float64)
    if not np.isfinite(values).all():
        raise SensitivityError(f"outcome {outcome} has missing values at points {list(y.index[~np.isfinite(values)])}")
    if np.ptp(values) == 0:  # a constant outcome: no variance to apportion
        res = {m: np.zeros(problem["num_vars"]) for m in ("S1", "ST", "S1_conf", "ST_conf", "mu_star",
                                                          "mu_star_conf", "sigma", "delta", "delta_conf")}
    elif method == "sobol":
        res = sobol.analyze(problem, values, calc_second_order=design["second_order"], seed=seed)
    elif method == "morris":
        res = morris.analyze(problem, x, values, num_levels=design["levels"], seed=seed)
    else:
        # SALib notes when it merges a factor's sparse bins (small designs): the estimate stays valid, and the
        # uncertainty small designs bring shows in the intervals (wide_intervals). delta.analyze resets the
        # warning filters itself, so its warnings are recorded here and all but those notes passed on.
        with warnings.catch_warnings(record=True) as caught:
            res = dict(delta.analyze(problem, x, values, seed=seed))
        for w in caught:
            if "Bin Merge Notice" not in str(w.message):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if "delta" not in res:  # SALib >= 1.6 names the plain estimator delta_raw
            res["delta"], res["delta_conf"] = res["delta_raw"], res["delta_raw_conf"]
    main, main_conf, second, second_conf = MEASURES[method]
    rows = []
    for i, factor in enumerate(problem["names"]):
        for measure, conf in ((main, main_conf), (second, second_conf)):
            rows.append({"outcome": outcome, "year": year, "method": method, "factor": factor,
                         "measure": measure, "value": float(np.asarray(res[measure])[i]),
                         "conf": float(np.asarray(res[conf])[i]) if conf else np.nan})
    return rows


def plot(table: pd.DataFrame, title: str | None = None):
    """Horizontal bars per factor, one panel per outcome: the main measure with its confidence
    interval, the second measure as a thinner bar."""
    import matplotlib.pyplot as plt

    from analysis.plots import save  # noqa: F401  (ensures the Agg backend)

    outcomes = list(dict.fromkeys(table["outcome"]))
    method = table["method"].iloc[0]
    main, _, second, _ = MEASURES[method]
    factors = list(dict.fromkeys(table["factor"]))
    fig, axes = plt.subplots(1, len(outcomes), figsize=(4.2 * len(outcomes) + 2.2, 0.55 * len(factors) + 1.8),
                             dpi=120, sharey=True, squeeze=False)
    ypos = np.arange(len(factors))
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        t = table[table["outcome"] == outcome].set_index(["measure", "factor"])
        m = t.loc[main].reindex(factors)
        s = t.loc[second].reindex(factors)
        ax.barh(ypos + 0.18, m["value"], height=0.36, xerr=m["conf"].fillna(0), color="tab:blue",
                label=_measure_label(main), capsize=2)
        ax.barh(ypos - 0.18, s["value"], height=0.36, xerr=s["conf"].fillna(0), color="tab:orange",
                label=_measure_label(second), capsize=2)
        year = int(t["year"].iloc[0])
        values = pd.concat([m["value"], s["value"]]).to_numpy(np.float64)
        lo, hi = float(np.nanmin(values, initial=0.0)), float(np.nanmax(values, initial=0.0))
        pad = 0.08 * max(hi - lo, 1e-9)
        ax.set_xlim(min(lo, 0.0) - pad, max(hi, 1.0 if method != "morris" else hi) + pad)  # wide CIs are clipped
        ax.set_title(f"{year} {OUTCOME_LABELS.get(outcome, outcome)}", fontsize=9)
        ax.set_xlabel(_axis_label(method))
        ax.axvline(0, color="black", lw=0.6)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(ypos, factors, fontsize=8)
    axes[0][0].invert_yaxis()
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title or f"Sensitivity of the final-year urbanization rates ({_method_label(method)})", fontsize=10)
    fig.text(0.01, 0.01, "Source: citizensim sweep; indices by SALib. Outcomes averaged over seeds per design "
             "point; whiskers: 95% bootstrap confidence intervals (clipped to the axes)"
             + (" - wide: use more design samples" if wide_intervals(table) else "") + ".", fontsize=6,
             color="grey")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def wide_intervals(table: pd.DataFrame, limit: float = 0.25) -> bool:
    """Whether the main indices' 95% intervals are too wide to rank factors (too few design points)."""
    main = table[table["measure"] == MEASURES[table["method"].iloc[0]][0]]
    if main["method"].iloc[0] == "morris" or main["conf"].isna().all():
        return False
    return bool(np.nanmedian(main["conf"]) > limit)


def _measure_label(measure: str) -> str:
    return {"ST": "total index ST", "S1": "first-order S1", "mu_star": "mu* (mean |effect|)",
            "sigma": "sigma (interactions)", "delta": "delta (moment-independent)"}.get(measure, measure)


def _axis_label(method: str) -> str:
    return "elementary effect (rate per unit of factor)" if method == "morris" else "share of output variance"


def _method_label(method: str) -> str:
    return {"sobol": "Sobol indices", "morris": "Morris screening", "lhs": "delta indices, Latin hypercube",
            "grid": "delta indices, grid"}[method]


def write(sweep_dir: Path, table: pd.DataFrame, out: Path | None = None) -> tuple[Path, Path]:
    """``sensitivity.csv`` and ``sensitivity.png`` in ``out`` (default: the sweep folder)."""
    from analysis.plots import save

    out = Path(out or sweep_dir)
    csv, png = out / "sensitivity.csv", out / "sensitivity.png"
    outputs.check_writable(csv)  # makes the folder; OutputError (one line) where it cannot be written
    tmp = out / ".sensitivity.csv.tmp"
    table.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(csv)
    save(plot(table), png)
    return csv, png


def wide(table: pd.DataFrame) -> pd.DataFrame:
    """One row per outcome and factor, one column per measure (for printing)."""
    w = table.pivot_table(index=["outcome", "factor"], columns="measure", values="value", sort=False)
    conf = table.dropna(subset=["conf"]).pivot_table(index=["outcome", "factor"], columns="measure",
                                                     values="conf", sort=False)
    for col in conf.columns:
        w[f"{col}_conf"] = conf[col]
    w.columns.name = None
    return w.reset_index()
