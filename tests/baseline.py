"""Exact regression baseline: the national series of two short, small runs, stored in ``baseline.json``.

Any change to the engine, the data or the defaults that moves a single draw changes these numbers, so
``tests/test_baseline.py`` catches results that change by accident. When a change of results is intended
(a fix, new data, a refit), regenerate the file and say why in the commit message::

    python -m tests.baseline

The runs cover both demography tables, January's compaction, September's school round and December's
points round: the plan from end-2024 and the backtest from end-2020, 14 months each at the test scale.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from sim.runner import run_scenario
from sim.scenario_io import load_scenario
from tests.conftest import SCENARIOS, SMALL_SCALE

BASELINE = Path(__file__).with_name("baseline.json")
RUNS = {"plan-2024": ("plan-2024.yaml", 0), "backtest-2020": ("backtest-2020.yaml", 0)}
MONTHS = 14


def national_series(name: str) -> dict[str, list[float]]:
    """Metric -> its national values for months 0..MONTHS of run ``name`` (see :data:`RUNS`)."""
    path, seed = RUNS[name]
    scenario = load_scenario(SCENARIOS / path, scale=SMALL_SCALE, months=MONTHS, seed=seed)
    series = run_scenario(scenario).series
    national = series[series["level"] == "national"].sort_values(["metric", "month"])
    return {metric: [float(v) for v in group["value"]] for metric, group in national.groupby("metric")}


def compute() -> dict:
    """The baseline as stored: the runs' settings and their national series."""
    return {"scale": SMALL_SCALE, "months": MONTHS,
            "runs": {name: {"scenario": path, "seed": seed, "national": national_series(name)}
                     for name, (path, seed) in RUNS.items()}}


def differences(stored: dict, now: dict, limit: int = 10) -> list[str]:
    """Up to ``limit`` lines naming the run, metric and month where ``now`` differs from ``stored``."""
    out = []
    for name, run in stored["runs"].items():
        current = now["runs"].get(name, {}).get("national", {})
        for metric in sorted(set(run["national"]) | set(current)):
            old, new = run["national"].get(metric), current.get(metric)
            if old is None or new is None or len(old) != len(new):
                out.append(f"{name} {metric}: {'added' if old is None else 'removed' if new is None else 'months'}")
                continue
            for month, (a, b) in enumerate(zip(old, new, strict=True)):
                if not (a == b or (math.isnan(a) and math.isnan(b))):
                    out.append(f"{name} {metric} month {month}: {a!r} -> {b!r}")
                    break
    return out[:limit]


def main() -> None:
    BASELINE.write_text(json.dumps(compute(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {BASELINE}")


if __name__ == "__main__":
    main()
