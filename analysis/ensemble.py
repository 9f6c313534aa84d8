"""Ensembles: one scenario run with R seeds (seed, seed+1, ...), summarised by mean and 5-95% bands.

The results folder is the same as a single run's, except that ``series.parquet`` has a ``run`` column
(the seed), and ``bands.parquet`` holds, per month, level, region and metric, the mean, median and
5%/95% quantiles over the runs (national, tier and province levels). Each run's series is streamed
to the Parquet file as soon as it finishes, so memory holds one full series at a time plus the
aggregate levels of all runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import outputs, plots

BAND_LEVELS = ("national", "tier", "province")


def seeds_for(seed: int, replications: int) -> list[int]:
    return [seed + i for i in range(replications)]


def bands(series: pd.DataFrame, low: float = 0.05, high: float = 0.95) -> pd.DataFrame:
    """Per month, date, level, region and metric: mean, median, p05 and p95 over the ``run`` column."""
    keys = ["month", "date", "level", "region", "metric"]
    g = series.groupby(keys, observed=True, sort=True)["value"]
    out = pd.DataFrame({"mean": g.mean(), "p05": g.quantile(low), "median": g.median(), "p95": g.quantile(high),
                        "runs": g.count()})
    return out.reset_index()


def run_ensemble(scenario, replications: int, out_dir: Path, on_month: Callable[[int], None] | None = None,
                 extra: dict | None = None, data_dir: Path | None = None) -> tuple[Path, pd.DataFrame]:
    """Run ``scenario`` with ``replications`` consecutive seeds and write the ensemble folder atomically.

    ``on_month(k)`` is called with the number of months done over all runs. Returns the folder and the
    national end-of-period summary (metric, mean, p05, p95).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sim.inputs import load_history
    from sim.runner import manifest, run_scenario

    seeds = seeds_for(scenario.seed, replications)
    started = time.perf_counter()
    held: dict[str, pd.DataFrame] = {}

    def fill(tmp: Path) -> None:
        writer = None
        kept: list[pd.DataFrame] = []
        runs: list[dict] = []
        first = None
        try:
            for i, seed in enumerate(seeds):
                sc = scenario.model_copy(update={"seed": seed})
                done = i * sc.months
                result = run_scenario(sc, data_dir=data_dir,
                                      on_month=None if on_month is None else (lambda m, d=done: on_month(d + m)))
                series = result.series
                series.insert(0, "run", np.int64(seed))
                table = pa.Table.from_pandas(series, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp / "series.parquet", table.schema)
                    first = result
                writer.write_table(table.cast(writer.schema))
                kept.append(series[series["level"].isin(BAND_LEVELS)])
                runs.append({"seed": seed, "init_seconds": round(result.init_seconds, 3),
                             "step_seconds": round(result.step_seconds, 3)})
                del result, series, table
        finally:
            if writer is not None:
                writer.close()
        agg = pd.concat(kept, ignore_index=True)
        for col in ("level", "region", "metric"):
            agg[col] = agg[col].astype("category")
        b = bands(agg)
        b.to_parquet(tmp / "bands.parquet", index=False)
        fig = plots.plot_urbanization(agg, load_history(data_dir), title=(
            f"Urbanization rates, China - scenario '{scenario.name}', {replications} runs (median, 5-95%)"))
        plots.save(fig, tmp / "urbanization.png")
        meta = manifest(first, {**(extra or {}), "replications": replications, "seeds": seeds, "runs": runs,
                                "wall_seconds": round(time.perf_counter() - started, 3)})
        meta["seed"] = seeds[0]
        outputs.write_json(tmp / "manifest.json", meta)
        held["bands"] = b

    path = outputs.write_atomically(Path(out_dir), fill)
    b = held["bands"]
    last = b[(b["level"] == "national") & (b["month"] == b["month"].max())]
    return path, last.set_index("metric")[["mean", "p05", "p95"]]
