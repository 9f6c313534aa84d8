"""Statistical agreement between the numba engine and the pure-Mesa reference model of the same rules.

Setup. Two scenarios, between which every rule of the engine runs: the plan (``scenarios/plan-2024.yaml``:
habitual-residence registration, whole-family settling, protected rural rights, ID-linked permits, ...)
and the status quo (``scenarios/status-quo.yaml``: permits required to settle, per-member settling,
permit take-up, renters' lower school admission, ...), both with the calibrated behaviour that
``load_scenario`` merges in. 1 agent = 100,000 persons (about 14,000 agents), 12 months, seeds 0-7. The
points quota per million residents is multiplied by scale/1000, so each points city keeps the quota per
agent of the default 1:1000 run (otherwise it would be below one agent and the points route would be
closed at this scale). For each scenario and seed the engine (:class:`sim.model.CitizenizationModel`) is
built, the reference (:class:`benchmarks.reference_model.ReferenceModel`) is built from the engine's
initial population and city state (identical at month 0), and both run 12 months with their own random
numbers (counter-based draws in the engine, ``model.rng`` in the reference).

Statistic. For each national rate r (resident rate = urban residents / residents, hukou rate = urban
hukou / residents) and each run, take the change d = r(month 12) - r(month 0). Across the 5 engine runs
and the 5 reference runs, with means m_e, m_r and between-seed sample standard deviations s_e, s_r:

    z = (m_e - m_r) / sqrt(s_e^2 / 5 + s_r^2 / 5)        (Welch's two-sample statistic)

The engine and the reference agree when, for both rates, |z| <= 4 AND |m_e - m_r| <= 0.004 (0.4
percentage points over the 12 months). As both models start from the same population per seed, the
changes carry no initial-sampling noise.
A wider net: the same z, with |z| <= 5, for the 12-month change of every other national stock as a share
of residents (``sim.kernels.tally.STOCKS``: migrants, migrant workers, insured, working-age and skilled
migrants, permit holders, children at school and left behind, migrants in affordable housing; and
``sim.cities.CITY_STOCKS``: school seats, affordable and urban-village places) and for every national flow
of ``sim.model.FLOWS`` summed over the 12 months, per resident (births, deaths, arrivals, returns, injury
returns, settlements, points settlements, family joiners, training, children brought and sent back,
affordable allocations, metro and potential-region arrivals, reclassification, ...). The two rates
alone would miss rule errors that shift a small group (the left-behind children of commit a447a89's
follow-the-head kernel are 0.3% of residents); these do not.

Power. The same statistic must flag a deliberately wrong reference: settlement take-up x3 (passed as
``settle_takeup_factor=3``, plan scenario) roughly doubles the hukou rate's 12-month change, which gives
a |z| far above 4 and a mean difference far above 0.004 (see ``benchmarks/README.md`` for the values).

Everything is seeded (the engine's draws do not depend on the thread count), so the test is
deterministic; it takes about 30-70 s on a 2-core machine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.reference_model import ReferenceModel
from sim.cities import CITY_STOCKS
from sim.kernels.tally import STOCKS
from sim.model import FLOWS, CitizenizationModel
from sim.scenario_io import load_scenario

from .conftest import SCENARIOS

SCALE = 100_000
MONTHS = 12
SEEDS = range(8)
Z_MAX = 4.0
CHANGE_BOUND = 0.004
Z_MAX_PANEL = 5.0
SCENARIO_NAMES = ("plan-2024", "status-quo")  # between them, every rule the engine has runs
WRONG_RULE_SCENARIO = "plan-2024"


def scenario(seed: int, name: str = "plan-2024"):
    sc = load_scenario(SCENARIOS / f"{name}.yaml", scale=SCALE, months=MONTHS, seed=seed)
    hukou = sc.policy.hukou
    hukou = hukou.model_copy(update={"points_quota_per_million": hukou.points_quota_per_million * SCALE / 1000})
    return sc.model_copy(update={"policy": sc.policy.model_copy(update={"hukou": hukou})})


SHARES = tuple(name for name in STOCKS if name != "residents") + CITY_STOCKS  # national stocks / residents
RATE_INDEX = {"resident_rate": SHARES.index("urban_residents"), "hukou_rate": SHARES.index("urban_hukou")}
#: Every national flow summed over the 12 months, per resident at month 0 (a panel of its own).
PANEL = SHARES + tuple(f"flow:{name}" for name in FLOWS)


def engine_shares(model: CitizenizationModel) -> np.ndarray:
    stocks = model.records[-1][0]  # tally.STOCKS rows, then the city stocks (floats)
    residents = stocks[STOCKS.index("residents")].sum()
    return np.array([stocks[(STOCKS + CITY_STOCKS).index(name)].sum() / residents for name in SHARES])


def reference_shares(model: ReferenceModel) -> np.ndarray:
    both = {**model.stocks, **model.city_stocks}
    return np.array([both[name] / model.stocks["residents"] for name in SHARES])


def engine_flows(model: CitizenizationModel) -> np.ndarray:
    return np.array([flows.sum(axis=1) for _, flows, _ in model.records[1:]], np.float64).sum(axis=0)


def reference_flows(model: ReferenceModel) -> np.ndarray:
    return np.array([[month[name] for name in FLOWS] for month in model.history[1:]], np.float64).sum(axis=0)


def welch(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Welch's z (per column) and the difference of the column means of samples ``a`` and ``b``."""
    diff = a.mean(axis=0) - b.mean(axis=0)
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(diff == 0, 0.0, np.inf))
    return z, diff


def _start_differences(engine: CitizenizationModel, reference: ReferenceModel, seed: int) -> list[str]:
    """National stocks (agents) and city stocks (floats, up to rounding) that differ at month 0."""
    out = [f"{name} (seed {seed}: engine {engine.national(name)}, reference {reference.stocks[name]})"
           for name in STOCKS if engine.national(name) != reference.stocks[name]]
    stocks = engine.records[-1][0]
    for k, name in enumerate(CITY_STOCKS):
        e, r = float(stocks[len(STOCKS) + k].sum()), reference.city_stocks[name]
        if not math.isclose(e, r, rel_tol=1e-9, abs_tol=1e-9):
            out.append(f"{name} (seed {seed}: engine {e}, reference {r})")
    return out


@pytest.fixture(scope="module")
def changes() -> dict[str, dict]:
    """Per scenario: 12-month changes of every national share (``SHARES``) followed by the 12-month flows
    per resident (``PANEL``), per seed: engine, reference, and (plan only) the reference with 3x
    settlement take-up; and the national stocks that differ at month 0, per seed."""
    out: dict[str, dict] = {}
    for name in SCENARIO_NAMES:
        runs: dict[str, list] = {"engine": [], "reference": [], "start_differences": []}
        if name == WRONG_RULE_SCENARIO:
            runs["takeup_x3"] = []
        for seed in SEEDS:
            engine = CitizenizationModel(scenario(seed, name))
            models = {"engine": engine, "reference": ReferenceModel(engine)}
            if "takeup_x3" in runs:
                models["takeup_x3"] = ReferenceModel(engine, settle_takeup_factor=3.0)
            runs["start_differences"].append(_start_differences(engine, models["reference"], seed))
            start = engine_shares(engine)
            residents = engine.national("residents")
            for model in models.values():
                while model.running:
                    model.step()
            runs["engine"].append(np.concatenate([engine_shares(engine) - start, engine_flows(engine) / residents]))
            for key in ("reference", "takeup_x3"):
                if key in models:
                    m = models[key]
                    runs[key].append(np.concatenate([reference_shares(m) - start, reference_flows(m) / residents]))
        out[name] = {k: (v if k == "start_differences" else np.array(v)) for k, v in runs.items()}
    return out


def _report(runs, other: str, names) -> str:
    z, _ = welch(runs["engine"], runs[other])
    e, r = runs["engine"].mean(axis=0), runs[other].mean(axis=0)
    return "; ".join(f"{name}: engine {e[k]:+.5f} {other} {r[k]:+.5f} z {z[k]:+.2f}" for name, k in names)


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_reference_starts_from_the_engine_population(changes, name):
    """Every national stock (and so every share and both rates) and every city stock is identical at month 0."""
    differences = [d for seed in changes[name]["start_differences"] for d in seed]
    first = {}
    for d in differences:
        first.setdefault(d.split(" (")[0], d)
    assert not differences, (
        f"{name}: reference and engine differ at month 0 (a new person state or stock in the engine must be "
        "mirrored in benchmarks/reference_model.py): " + "; ".join(first.values()))


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_engine_agrees_with_reference_on_urbanization_rates(changes, name):
    """|z| <= 4 and |difference of mean 12-month changes| <= 0.004, for the resident and the hukou rate."""
    runs = changes[name]
    z, diff = welch(runs["engine"], runs["reference"])
    report = f"{name}: " + _report(runs, "reference", RATE_INDEX.items())
    for k in RATE_INDEX.values():
        assert abs(z[k]) <= Z_MAX, report
        assert abs(diff[k]) <= CHANGE_BOUND, report
        assert runs["engine"][:, k].mean() > 0, report  # both rates rise over the year


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_engine_agrees_with_reference_on_other_national_shares_and_flows(changes, name):
    """A wider net for rule mismatches: the 12-month change of every other national stock as a share of
    residents (migrants, cross-city and inter-provincial migrants, migrant workers, insured, working-age
    and skilled migrants, permit holders, children in public and private schools, left-behind children,
    migrants in affordable housing; public-school and preschool seats, affordable and urban-village places)
    and every national flow summed over the 12 months per resident (births, deaths, moves, settlements,
    training, children brought and sent back, family joiners, affordable allocations, ...) has |z| <= 5 (a
    higher threshold than for the two rates because many quantities are tested at once)."""
    runs = changes[name]
    z, _ = welch(runs["engine"], runs["reference"])
    others = [(label, k) for k, label in enumerate(PANEL) if k not in RATE_INDEX.values()]
    bad = [(label, k) for label, k in others if abs(z[k]) > Z_MAX_PANEL]
    assert not bad, f"{name}: " + _report(runs, "reference", bad)


def test_agreement_statistic_detects_a_wrong_rule(changes):
    """The rates' statistic fails for a reference with 3x the settlement take-up: for the hukou rate
    both of its conditions fail on their own."""
    runs = changes[WRONG_RULE_SCENARIO]
    z, diff = welch(runs["engine"], runs["takeup_x3"])
    k = RATE_INDEX["hukou_rate"]
    report = _report(runs, "takeup_x3", RATE_INDEX.items())
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
