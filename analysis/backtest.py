"""Backtest (``citizensim backtest``): the end-2020 state run to end-2024 and compared with the NBS history.

For each year 2021-2024 the table gives, for resident urbanization, hukou urbanization, migrant
workers living in towns (进城农民工; the model's migrant workers, :func:`sim.synthesis.migrant_worker_mask`)
and how much older the migrant workers are than at end-2020 (the survey's average age), the simulated
value, the official value and the error (percentage points for the rates, percent for migrant workers,
years for the ageing). 2021-2022 are the calibration years; 2023-2024 are out-of-sample (marked in the
table). Targets: resident urbanization within 0.3 pp each year, migrant workers within 3%.

Several seeds give the mean over them (judged against the targets) and the range of a single seed's error.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import outputs  # noqa: E402
from analysis.calibrate import (  # noqa: E402
    BASE_YEAR,
    FIT_YEARS,
    METRICS,
    OUT_OF_SAMPLE_YEARS,
    official_value,
    simulate_years,
)
from sim.inputs import load_history  # noqa: E402
from sim.policy import Scenario  # noqa: E402

YEARS = (2021, 2022, 2023, 2024)
TARGET = {"resident_rate": ("pp", 0.3), "migrant_workers": ("%", 3.0)}
LABEL = {"resident_rate": "resident urbanization (%)", "hukou_rate": "hukou urbanization (%)",
         "migrant_workers": "migrant workers in towns (万)",
         "migrant_ageing": f"migrant workers' ageing since {BASE_YEAR} (years)"}
UNIT = {"resident_rate": "pp", "hukou_rate": "pp", "migrant_workers": "%", "migrant_ageing": "y"}


def backtest_table(simulated: pd.DataFrame, history: pd.DataFrame, years=YEARS) -> pd.DataFrame:
    """Year x metric rows: simulated, official, error, unit, sample ('fit' / 'out-of-sample'), within target.

    ``simulated`` may hold several runs (a ``seed`` column): ``simulated`` and ``error`` are then those of the
    mean over the seeds, which is judged against the target, and ``error_min``/``error_max`` the range of a
    single seed's error.
    """
    runs = simulated if "seed" in simulated else simulated.assign(seed=0)
    rows = []
    for year in years:
        for metric in METRICS:
            sims = runs.loc[(runs["year"] == year) & (runs["metric"] == metric), "simulated"].to_numpy(float)
            sim = float(sims.mean()) if len(sims) else math.nan
            off = official_value(history, year, metric)
            unit = UNIT[metric]
            err = _error(unit, sim, off)
            each = [_error(unit, float(v), off) for v in sims]
            target = TARGET.get(metric)
            ok = None if target is None or not math.isfinite(err) else abs(err) <= target[1]
            rows.append({"year": year, "metric": metric, "simulated": sim, "official": off, "error": err,
                         "error_min": min(each, default=math.nan), "error_max": max(each, default=math.nan),
                         "seeds": len(sims), "unit": unit,
                         "sample": "out-of-sample" if year in OUT_OF_SAMPLE_YEARS else "fit", "within_target": ok})
    return pd.DataFrame(rows)


def _error(unit: str, simulated: float, official: float) -> float:
    """Simulated minus official: in percent of the official value, in percentage points, or in years."""
    return {"%": 100 * (simulated / official - 1), "pp": 100 * (simulated - official), "y": simulated - official}[unit]


def _fmt(metric: str, value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if metric == "migrant_ageing":
        return f"{value:+.2f}"
    return f"{value / 1e4:,.0f}" if metric == "migrant_workers" else f"{100 * value:.2f}"


def format_table(table: pd.DataFrame) -> str:
    """The table as Markdown: one row per year, simulated / official / error per metric (over several seeds:
    the mean's, then the range of a single seed's error in brackets)."""
    head = "| year | sample | " + " | ".join(f"{LABEL[m]}: sim / official / error" for m in METRICS) + " |"
    lines = [head, "|" + "---|" * (2 + len(METRICS))]
    for year, g in table.groupby("year", sort=True):
        cells = []
        for metric in METRICS:
            r = g.loc[g["metric"] == metric].iloc[0]
            err = f"{r.error:+.2f} {r.unit}" if math.isfinite(r.error) else "n/a"
            if r.seeds > 1 and math.isfinite(r.error):
                err += f" ({r.error_min:+.2f} to {r.error_max:+.2f})"
            mark = "" if r.within_target is None or not math.isfinite(r.error) else (" ✓" if r.within_target else " ✗")
            cells.append(f"{_fmt(metric, r.simulated)} / {_fmt(metric, r.official)} / {err}{mark}")
        sample = "out-of-sample" if year in OUT_OF_SAMPLE_YEARS else "fit"
        lines.append(f"| {year} | {sample} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_backtest(simulated: pd.DataFrame, history: pd.DataFrame, title: str = ""):
    """Simulated vs official history 2016-2024, one panel per metric of the table.

    The band around the simulated line is the backtest target (±0.3 pp for the resident rate, ±3% for
    migrant workers); the out-of-sample years are shaded. Over several seeds (a ``seed`` column) the line is
    their mean and each seed is drawn thin.
    """
    runs = simulated if "seed" in simulated else simulated.assign(seed=0)
    simulated = runs.groupby(["year", "metric"], as_index=False)["simulated"].mean()
    n_seeds = runs["seed"].nunique()
    fig, axes = plt.subplots(1, len(METRICS), figsize=(16, 4.2), dpi=120)
    years = [int(y) for y in history["year"] if y >= 2016]
    start = int(simulated["year"].min())
    spec = {"resident_rate": ("tab:blue", 100.0, "% of residents", "Resident urbanization"),
            "hukou_rate": ("tab:orange", 100.0, "% of residents", "Hukou urbanization"),
            "migrant_workers": ("tab:green", 1e-6, "million persons", "Migrant workers living in towns"),
            "migrant_ageing": ("tab:purple", 1.0, f"years older than at end-{BASE_YEAR}",
                               "Migrant workers' average age")}
    for ax, metric in zip(axes, METRICS, strict=True):
        color, k, unit, name = spec[metric]
        s = simulated[simulated["metric"] == metric].sort_values("year")
        y = s["simulated"] * k
        ax.plot(s["year"], y, "-", color=color, lw=2,
                label="simulated" if n_seeds == 1 else f"simulated (mean of {n_seeds} seeds)")
        if n_seeds > 1:
            for _, one in runs[runs["metric"] == metric].sort_values("year").groupby("seed"):
                ax.plot(one["year"], one["simulated"] * k, "-", color=color, lw=0.6, alpha=0.5)
        if metric in TARGET:
            tol = TARGET[metric][1]
            half = tol if TARGET[metric][0] == "pp" else y * tol / 100
            ax.fill_between(s["year"], y - half, y + half, color=color, alpha=0.15, linewidth=0,
                            label=f"target band (±{tol:g} {TARGET[metric][0]})")
        off = pd.Series([official_value(history, yr, metric) for yr in years], index=years).dropna() * k
        ax.plot(off.index, off.to_numpy(), "o", color="black", ms=5, mfc="none", label="official (NBS / MPS)")
        ax.axvspan(min(OUT_OF_SAMPLE_YEARS) - 0.5, max(OUT_OF_SAMPLE_YEARS) + 0.5, color="grey", alpha=0.12,
                   label="out-of-sample")
        ax.axvline(start, color="grey", lw=0.8, ls=":")  # the synthesized start state (end-2020)
        ax.set_title(name, fontsize=10)
        ax.set_ylabel(unit)
        ax.set_xlabel("year end")
        ax.set_xticks(range(min(years), max(OUT_OF_SAMPLE_YEARS) + 1))
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title or "Backtest from the end-2020 state: simulated vs official", fontsize=11)
    fig.text(0.01, 0.01, "Official: NBS communiqués, MPS (hukou), NBS migrant-worker monitoring survey (migrant "
             "workers living in towns, average age; sim/data/national_history.csv, migrant_profile.csv). Fit "
             "years: " + ", ".join(map(str, FIT_YEARS)) + "; shaded: out-of-sample.", fontsize=6, color="grey")
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    return fig


def backtest_months(scenario: Scenario) -> int:
    """Months from the scenario's start to the end of the last backtest year."""
    return 12 * (max(YEARS) - scenario.start_year + 1)


def simulate_backtest(scenario: Scenario, seeds: list[int],
                      on_month: Callable[[int], None] | None = None) -> pd.DataFrame:
    """The year-end metrics of the backtest years for each of ``seeds`` (a ``seed`` column); ``on_month``
    gets the months done over all seeds."""
    months = backtest_months(scenario)
    return pd.concat([
        simulate_years(scenario.model_copy(update={"seed": seed}), YEARS,
                       on_month=None if on_month is None else lambda m, k=k: on_month(k * months + m)).assign(seed=seed)
        for k, seed in enumerate(seeds)], ignore_index=True)


def run_backtest(scenario: Scenario, out_dir: Path, on_month: Callable[[int], None] | None = None,
                 extra: dict | None = None, seeds: list[int] | None = None) -> tuple[pd.DataFrame, Path]:
    """Simulate (the scenario's seed, or each of ``seeds``), tabulate and write ``backtest.csv``, ``backtest.md``,
    ``backtest.png``, ``simulated.csv`` (every seed's values) and ``manifest.json``. ``on_month`` gets the
    months done over all seeds."""
    t0 = time.perf_counter()
    seeds = seeds or [scenario.seed]
    simulated = simulate_backtest(scenario, seeds, on_month)
    history = load_history()
    table = backtest_table(simulated, history)
    seconds = time.perf_counter() - t0

    def fill(tmp: Path) -> None:
        table.to_csv(tmp / "backtest.csv", index=False)
        simulated.to_csv(tmp / "simulated.csv", index=False)
        (tmp / "backtest.md").write_text(format_table(table) + "\n", encoding="utf-8")
        fig = plot_backtest(simulated, history)
        fig.savefig(tmp / "backtest.png")
        plt.close(fig)
        outputs.write_json(tmp / "manifest.json", {
            "scenario": scenario.model_dump(mode="json"),
            "seeds": seeds,
            "scale": scenario.scale,
            "fit_years": list(FIT_YEARS),
            "out_of_sample_years": list(OUT_OF_SAMPLE_YEARS),
            "versions": outputs.package_versions(),
            "git_revision": outputs.git_revision(),
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(seconds, 2),
            **(extra or {}),
        })

    return table, outputs.write_atomically(out_dir, fill)
