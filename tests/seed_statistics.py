"""Multi-seed statistical baseline (Covasim's pattern): the mean and spread over seeds of a few national
outcomes of the plan, stored in ``seed_statistics.json``.

The exact baseline (:mod:`tests.baseline`) fails on any change of a single draw. A change meant to keep the
model's behaviour but not its draws (another order of draws, a kernel that samples differently) regenerates
that file only; ``tests/test_seed_statistics.py`` then says whether the outcomes moved beyond seed noise.
A change of behaviour (a fix, new data, a refit) regenerates both, saying why in the commit::

    python -m tests.seed_statistics
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from sim.policy import Scenario
from sim.runner import run_scenario
from sim.scenario_io import load_scenario
from tests.conftest import SCENARIOS, SMALL_SCALE

STATISTICS = Path(__file__).with_name("seed_statistics.json")
SEEDS = tuple(range(1, 9))
MONTHS = 14
#: national outcomes: rates at the last month, flows summed over the run (persons)
RATES = ("resident_rate", "hukou_rate", "migrant_insured_share", "migrant_children_public_share")
FLOWS = ("settlements", "arrivals", "returns", "home_leavers", "births", "deaths")
#: two means differ when they are this many standard errors apart (a false alarm about once in 16,000
#: outcomes when nothing changed)
Z_LIMIT = 4.0


def plan() -> Scenario:
    return load_scenario(SCENARIOS / "plan-2024.yaml", scale=SMALL_SCALE, months=MONTHS)


def outcomes(scenario: Scenario) -> pd.DataFrame:
    """One row per seed of :data:`SEEDS`, one column per outcome."""
    rows = []
    for seed in SEEDS:
        series = run_scenario(scenario.model_copy(update={"seed": seed})).series
        national = series[series["level"] == "national"].pivot(index="month", columns="metric", values="value")
        rows.append({**national.iloc[-1][list(RATES)].to_dict(), **national[list(FLOWS)].iloc[1:].sum().to_dict()})
    return pd.DataFrame(rows, index=list(SEEDS))


def summary(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Outcome -> mean, standard deviation (over seeds) and the number of seeds."""
    return {k: {"mean": float(table[k].mean()), "sd": float(table[k].std(ddof=1)), "n": len(table)}
            for k in table.columns}


def shifted(stored: dict, now: dict, z_limit: float = Z_LIMIT) -> list[str]:
    """Outcomes whose mean moved more than ``z_limit`` standard errors (Welch), with the size of the move."""
    out = []
    for name, old in stored.items():
        new = now[name]
        se = np.sqrt(old["sd"] ** 2 / old["n"] + new["sd"] ** 2 / new["n"])
        z = (new["mean"] - old["mean"]) / se if se > 0 else (0.0 if new["mean"] == old["mean"] else np.inf)
        if abs(z) > z_limit:
            out.append(f"{name}: mean {old['mean']:.6g} -> {new['mean']:.6g} ({z:+.1f} standard errors)")
    return out


def main() -> None:
    STATISTICS.write_text(json.dumps({"scale": SMALL_SCALE, "months": MONTHS, "seeds": list(SEEDS),
                                      "outcomes": summary(outcomes(plan()))}, indent=1, sort_keys=True) + "\n")
    print(f"wrote {STATISTICS}")


if __name__ == "__main__":
    main()
