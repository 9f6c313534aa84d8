"""Statistical agreement between the numba engine and the pure-Mesa reference model of the same rules.

Setup. The plan scenario (``scenarios/plan-2024.yaml``) at 1 agent = 100,000 persons (about 14,000
agents), 12 months, seeds 0-4. The points quota per million residents is multiplied by scale/1000, so
each points city keeps the quota per agent of the default 1:1000 run (otherwise it would be below one
agent and the points route would be closed at this scale). For each seed the engine
(:class:`sim.model.CitizenizationModel`) is built, the reference
(:class:`benchmarks.reference_model.ReferenceModel`) is built from the engine's initial population
(identical at month 0), and both run 12 months with their own random numbers (counter-based draws
in the engine, ``model.rng`` in the reference).

Statistic. For each national rate r (resident rate = urban residents / residents, hukou rate = urban
hukou / residents) and each run, take the change d = r(month 12) - r(month 0). Across the 5 engine runs
and the 5 reference runs, with means m_e, m_r and between-seed sample standard deviations s_e, s_r:

    z = (m_e - m_r) / sqrt(s_e^2 / 5 + s_r^2 / 5)        (Welch's two-sample statistic)

The engine and the reference agree when, for both rates, |z| <= 4 AND |m_e - m_r| <= 0.004 (0.4
percentage points over the 12 months; the between-seed sd of a change is about 0.0018 for the resident
rate and 0.0011 for the hukou rate at this size, the mean changes about 0.005 and 0.008). As both
models start from the same population per seed, the changes carry no initial-sampling noise.
A wider net: the same z, with |z| <= 5, for the 12-month change of every other national stock as a
share of residents (migrants, migrant workers, insured, permit holders, children at school and left
behind, ...). The two rates alone would miss rule errors that shift a small group (the left-behind
children of commit a447a89's follow-the-head kernel are 0.3% of residents); these shares do not.

Power. The same statistic must flag a deliberately wrong reference: settlement take-up x3 (passed as
``settle_takeup_factor=3``) more than doubles the hukou rate's 12-month change (about +0.02 instead of
+0.008), which gives |z| of about 10-15 and a mean difference of about 0.012.

Everything is seeded (the engine's draws do not depend on the thread count), so the test is
deterministic; it takes about 15-25 s on a 2-core machine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.reference_model import ReferenceModel
from sim.kernels.tally import STOCKS
from sim.model import CitizenizationModel
from sim.scenario_io import load_scenario

from .conftest import SCENARIOS

SCALE = 100_000
MONTHS = 12
SEEDS = range(5)
Z_MAX = 4.0
CHANGE_BOUND = 0.004
Z_MAX_PANEL = 5.0


def scenario(seed: int):
    sc = load_scenario(SCENARIOS / "plan-2024.yaml", scale=SCALE, months=MONTHS, seed=seed)
    hukou = sc.policy.hukou
    hukou = hukou.model_copy(update={"points_quota_per_million": hukou.points_quota_per_million * SCALE / 1000})
    return sc.model_copy(update={"policy": sc.policy.model_copy(update={"hukou": hukou})})


SHARES = tuple(name for name in STOCKS if name != "residents")  # national stocks / residents
RATE_INDEX = {"resident_rate": SHARES.index("urban_residents"), "hukou_rate": SHARES.index("urban_hukou")}


def engine_shares(model: CitizenizationModel) -> np.ndarray:
    residents = model.national("residents")
    return np.array([model.national(name) / residents for name in SHARES])


def reference_shares(model: ReferenceModel) -> np.ndarray:
    return np.array([model.stocks[name] / model.stocks["residents"] for name in SHARES])


def welch(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Welch's z (per column) and the difference of the column means of samples ``a`` and ``b``."""
    diff = a.mean(axis=0) - b.mean(axis=0)
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(diff == 0, 0.0, np.inf))
    return z, diff


@pytest.fixture(scope="module")
def changes() -> dict[str, np.ndarray]:
    """12-month changes of every national share (``SHARES``) per seed: engine, reference, and the
    reference with 3x settlement take-up; and the national stocks that differ at month 0, per seed."""
    out: dict[str, list] = {"engine": [], "reference": [], "takeup_x3": [], "start_differences": []}
    for seed in SEEDS:
        engine = CitizenizationModel(scenario(seed))
        reference = ReferenceModel(engine)
        wrong = ReferenceModel(engine, settle_takeup_factor=3.0)
        start = engine_shares(engine)
        out["start_differences"].append(
            [f"{name} (seed {seed}: engine {engine.national(name)}, reference {reference.stocks[name]})"
             for name in STOCKS if engine.national(name) != reference.stocks[name]])
        for model in (engine, reference, wrong):
            while model.running:
                model.step()
        out["engine"].append(engine_shares(engine) - start)
        out["reference"].append(reference_shares(reference) - start)
        out["takeup_x3"].append(reference_shares(wrong) - start)
    return {k: (v if k == "start_differences" else np.array(v)) for k, v in out.items()}


def _report(changes, other: str, names) -> str:
    z, _ = welch(changes["engine"], changes[other])
    e, r = changes["engine"].mean(axis=0), changes[other].mean(axis=0)
    return "; ".join(f"{name}: engine {e[k]:+.5f} {other} {r[k]:+.5f} z {z[k]:+.2f}" for name, k in names)


def test_reference_starts_from_the_engine_population(changes):
    """Every national stock (and so every share and both rates) is identical at month 0."""
    differences = [d for seed in changes["start_differences"] for d in seed]
    first = {}
    for d in differences:
        first.setdefault(d.split(" (")[0], d)
    assert not differences, (
        "reference and engine differ at month 0 (a new person state or stock in the engine must be mirrored in "
        "benchmarks/reference_model.py): " + "; ".join(first.values()))


def test_engine_agrees_with_reference_on_urbanization_rates(changes):
    """|z| <= 4 and |difference of mean 12-month changes| <= 0.004, for the resident and the hukou rate."""
    z, diff = welch(changes["engine"], changes["reference"])
    report = _report(changes, "reference", RATE_INDEX.items())
    for k in RATE_INDEX.values():
        assert abs(z[k]) <= Z_MAX, report
        assert abs(diff[k]) <= CHANGE_BOUND, report
        assert changes["engine"][:, k].mean() > 0, report  # both rates rise over the year


def test_engine_agrees_with_reference_on_other_national_shares(changes):
    """A wider net for rule mismatches: the 12-month change of every other national stock as a share of
    residents (migrants, cross-city and inter-provincial migrants, migrant workers, insured workers,
    permit holders, children in public and private schools, left-behind children) has |z| <= 5 (a
    higher threshold than for the two rates because nine shares are tested at once)."""
    z, _ = welch(changes["engine"], changes["reference"])
    others = [(name, k) for k, name in enumerate(SHARES) if k not in RATE_INDEX.values()]
    bad = [(name, k) for name, k in others if abs(z[k]) > Z_MAX_PANEL]
    assert not bad, _report(changes, "reference", bad)


def test_agreement_statistic_detects_a_wrong_rule(changes):
    """The rates' statistic fails for a reference with 3x the settlement take-up: for the hukou rate
    both of its conditions fail on their own."""
    z, diff = welch(changes["engine"], changes["takeup_x3"])
    k = RATE_INDEX["hukou_rate"]
    report = _report(changes, "takeup_x3", RATE_INDEX.items())
    assert abs(z[k]) > Z_MAX, report
    assert abs(diff[k]) > CHANGE_BOUND, report


def test_welch_statistic():
    a = np.array([[1.0], [2.0], [3.0]])
    b = np.array([[0.0], [0.0], [3.0]])
    z, diff = welch(a, b)
    assert diff[0] == pytest.approx(1.0)
    assert z[0] == pytest.approx(1.0 / math.sqrt(1.0 / 3 + 3.0 / 3))
    z, _ = welch(np.zeros((3, 2)), np.array([[0.0, 1.0]] * 3))  # no spread: equal -> 0, unequal -> inf
    assert z[0] == 0 and np.isinf(z[1])
