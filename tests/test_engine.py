"""Engine invariants: conservation, rate bounds, determinism across thread counts, Mesa integration."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref

import mesa
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.kernels.tally import STOCKS
from sim.model import FLOWS, CitizenizationModel
from sim.population import People
from sim.runner import run_scenario

from .conftest import ROOT, SMALL_SCALE


def test_bytes_per_agent_within_target():
    assert People.bytes_per_agent() <= 64


def test_population_conserved_each_month(small_scenario):
    """Residents(t) = residents(t-1) + births(t) - deaths(t), nationally, every month."""
    model = CitizenizationModel(small_scenario)
    while model.running:
        model.step()
    res = [int(s[STOCKS.index("residents")].sum()) for s, _, _ in model.records]
    births = [int(f[FLOWS.index("births")].sum()) for _, f, _ in model.records]
    deaths = [int(f[FLOWS.index("deaths")].sum()) for _, f, _ in model.records]
    assert sum(births[1:]) > 0 and sum(deaths[1:]) > 0
    for t in range(1, len(res)):
        assert res[t] == res[t - 1] + births[t] - deaths[t]
    assert res[-1] == model.people.n_alive


def test_compaction_drops_the_dead_and_keeps_households_contiguous(small_scenario):
    model = CitizenizationModel(small_scenario.model_copy(update={"months": 12}))
    while model.running:
        model.step()
    people = model.people
    assert (people.view()["alive"] == 0).any()  # deaths and births during the year
    assert people.block_rows < people.n and people.split_base < len(people.head_of)  # newborns, leavers
    before = _snapshot(model)
    n_before = people.n
    # the expected order: living rows by household id, the head first, then in row order
    rows = np.flatnonzero(before["alive"] == 1)
    not_head = people.head_of[before["household"][rows]] != rows
    expected = rows[np.lexsort((rows, not_head, before["household"][rows]))]
    people.compact()
    v = people.view()
    for name, col in v.items():
        assert (col == before[name][expected]).all(), name
        assert (people.columns[name][people.n:n_before] == 0).all(), name  # the rows let go read as zero
    assert (v["alive"] == 1).all()
    household = v["household"]
    assert (np.diff(household) >= 0).all()  # one contiguous block per household
    starts = np.flatnonzero(np.r_[True, np.diff(household) > 0])
    assert (v["role"][starts] == 0).all()  # head first
    assert (people.head_of[household[starts]] == starts).all()


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    migrate=st.floats(0.0, 0.05),
    ret=st.floats(0.0, 0.05),
    takeup=st.floats(0.0, 0.2),
    seed=st.integers(0, 1000),
)
def test_rates_are_shares(small_scenario, migrate, ret, takeup, seed):
    """Every rate in the series lies in [0, 1] whatever the behaviour parameters."""
    b = small_scenario.behaviour.model_copy(update={"migrate_hazard": migrate, "return_hazard": ret,
                                                    "settle_takeup": takeup})
    sc = small_scenario.model_copy(update={"behaviour": b, "seed": seed, "months": 6, "scale": 50_000})
    series = run_scenario(sc).series
    rates = series[series["metric"].str.endswith(("_rate", "_share"))]["value"].dropna()
    assert len(rates) > 0
    assert ((rates >= 0) & (rates <= 1)).all()


def _run_cli(tmp_path, threads: int) -> pd.DataFrame:
    out = tmp_path / f"t{threads}"
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
    subprocess.run([sys.executable, "-m", "sim", "run", str(ROOT / "scenarios" / "plan-2024.yaml"),
                    "--scale", str(SMALL_SCALE), "--months", "14", "--out", str(out)],
                   check=True, env=env, capture_output=True)
    return pd.read_parquet(out / "series.parquet")


def test_identical_series_for_one_and_two_threads(tmp_path):
    one, two = _run_cli(tmp_path, 1), _run_cli(tmp_path, 2)
    pd.testing.assert_frame_equal(one, two)


def test_the_model_is_importable_from_the_package():
    import sim

    assert sim.CitizenizationModel is CitizenizationModel and "CitizenizationModel" in sim.__all__
    with pytest.raises(AttributeError, match="no attribute 'Model'"):
        sim.Model  # noqa: B018


def test_mesa_batch_run_works():
    results = mesa.batch_run(CitizenizationModel, parameters={"scale": 100_000, "months": 3, "seed": [1, 2]},
                             iterations=1, max_steps=10, number_processes=1, display_progress=False)
    assert len(results) == 2
    assert all(0 < r["resident_rate"] < 1 and 0 < r["hukou_rate"] < 1 for r in results)
    assert {r["seed"] for r in results} == {1, 2}


def test_a_model_no_longer_referred_to_is_freed(small_scenario):
    """Mesa 3.3 keeps every model in ``Agent._ids`` (mesa#3179); the cities' base class must not, or a
    calibration that builds hundreds of models runs out of memory."""
    model = CitizenizationModel(small_scenario)
    model.step()
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


def test_cities_are_mesa_agents(small_scenario):
    model = CitizenizationModel(small_scenario)
    assert len(model.cities) == model.geo.n_cities
    tiers = {c.tier for c in model.cities}
    assert tiers == {"open", "relaxed", "points"}
    big = max(model.cities, key=lambda c: c.district_pop)
    assert big.tier == "points"


def test_same_seed_same_result_and_different_seed_differs(small_scenario):
    a = run_scenario(small_scenario.model_copy(update={"months": 3})).series
    b = run_scenario(small_scenario.model_copy(update={"months": 3})).series
    c = run_scenario(small_scenario.model_copy(update={"months": 3, "seed": 99})).series
    pd.testing.assert_frame_equal(a, b)
    assert not np.array_equal(a["value"].to_numpy(), c["value"].to_numpy())


def test_skipping_quiet_rows_changes_nothing(small_scenario, monkeypatch):
    """The middle passes skip the tiles of settled urban households (sim.kernels.quiet): the same 14
    months (two Januaries with ageing and compaction, a December points round) with no tile skipped give
    the same series, and the skip is not vacuous (a fifth of the tiles at this scale, half at 1:1000 and
    1:100)."""
    from sim.kernels import quiet

    scenario = small_scenario.model_copy(update={"months": 14})
    model = CitizenizationModel(scenario)
    model.step()
    assert model._quiet.mean() > 0.15
    skipped = run_scenario(scenario).series
    monkeypatch.setattr(quiet, "quiet_tiles", lambda *args: quiet.no_quiet_tiles())
    pd.testing.assert_frame_equal(run_scenario(scenario).series, skipped)


def test_following_only_the_households_concerned_changes_nothing(small_scenario, monkeypatch):
    """Members follow their head only where the head moved, changed housing or was replaced this month
    (sim.kernels.passes.follow_and_find_leavers): 14 months with every row followed every month give the
    same series."""
    from sim.kernels import passes

    scenario = small_scenario.model_copy(update={"months": 14})
    sparse = run_scenario(scenario).series
    sparse_follow = passes.follow_and_find_leavers

    def every_row_first(changed, promoted, first_newborn, head_of, household, with_head, alive, role, city, urban,
                        months_in_city, permit, housing, split_base, block_rows, n):
        _follow_every_row(head_of, household, with_head, alive, role, city, urban, months_in_city, permit, housing, n)
        return sparse_follow(changed, promoted, first_newborn, head_of, household, with_head, alive, role, city,
                             urban, months_in_city, permit, housing, split_base, block_rows, n)

    monkeypatch.setattr(passes, "follow_and_find_leavers", every_row_first)
    pd.testing.assert_frame_equal(run_scenario(scenario).series, sparse)


def _follow_every_row(head_of, household, with_head, alive, role, city, urban, months_in_city, permit, housing, n):
    """The long way round: each of the first ``n`` rows follows its head and takes its housing."""
    from sim.kernels import passes

    for i in range(n):
        passes._follow_and_share(i, head_of[household[i]], with_head, alive, role, city, urban, months_in_city,
                                 permit, housing)


def test_the_synthesized_start_needs_no_following(small_scenario):
    """Every member living with its head starts where its head is, in its housing: the invariant that lets
    the first month follow only the households concerned."""
    model = CitizenizationModel(small_scenario)
    p = model.people
    v = _snapshot(model)
    _follow_every_row(p.head_of, v["household"], v["with_head"], v["alive"], v["role"], v["city"], v["urban"],
                      v["months_in_city"], v["permit"], v["housing"], p.n)
    for name, col in p.view().items():
        assert (col == v[name]).all(), name


def _snapshot(model: CitizenizationModel) -> dict[str, np.ndarray]:
    return {name: col.copy() for name, col in model.people.view().items()}


def test_adult_children_who_leave_home_head_households_of_their_own(small_scenario):
    """A leaver was a rural adult child at home; it now heads a one-person household in a town or city,
    every other household keeps its head, and the leavers are counted as arrivals. (A hazard well above
    the calibrated one, so that every month of a small population has leavers.)"""
    b = small_scenario.behaviour.model_copy(update={"leave_home_hazard": 0.05})
    model = CitizenizationModel(small_scenario.model_copy(update={"behaviour": b, "months": 3}))
    for _ in range(3):
        before = _snapshot(model)
        n_households = len(model.people.head_of)
        model.step()
        v, head_of = model.people.view(), model.people.head_of
        n = len(before["alive"])
        new = np.flatnonzero(v["household"][:n] >= n_households)
        flows = model.records[-1][1]
        assert len(new) == int(flows[FLOWS.index("home_leavers")].sum()) > 0
        assert len(head_of) == n_households + len(new)
        assert (head_of[n_households:] == new).all()  # issued in row order
        assert (before["role"][new] == 2).all() and (before["housing"][new] == 0).all()
        assert (before["hukou_urban"][new] == 0).all() and (before["age"][new] >= 16).all()
        assert (v["role"][new] == 0).all() and (v["urban"][new] == 1).all() and (v["with_head"][new] == 1).all()
        assert flows[FLOWS.index("arrivals")].sum() >= len(new)
        alive = v["alive"] == 1
        members = np.bincount(v["household"][alive], minlength=len(head_of))
        assert (members[n_households:] == 1).all()  # nobody follows a leaver
        heads = head_of[head_of >= 0]
        assert (v["role"][heads] == 0).all() and (v["household"][heads] == np.flatnonzero(head_of >= 0)).all()


def test_no_leaving_home_without_the_hazard(small_scenario):
    b = small_scenario.behaviour.model_copy(update={"leave_home_hazard": 0.0})
    model = CitizenizationModel(small_scenario.model_copy(update={"behaviour": b, "months": 3}))
    n_households = len(model.people.head_of)
    while model.running:
        model.step()
    assert len(model.people.head_of) == n_households
    assert all(f[FLOWS.index("home_leavers")].sum() == 0 for _, f, _ in model.records)


def test_a_mobility_shock_scales_departures_in_its_year_only(small_scenario):
    """A factor of 0 in the first year stops every departure from home and onward move, but not returns;
    the second year, without a shock, has departures again."""
    year = small_scenario.start_year
    sc = small_scenario.model_copy(update={"months": 14, "mobility_shocks": {year: 0.0}})
    model = CitizenizationModel(sc)
    while model.running:
        model.step()
    flows = np.array([f.sum(axis=1) for _, f, _ in model.records[1:]])
    first, second = flows[:12], flows[12:]
    for name in ("arrivals", "home_leavers", "onward_moves"):
        assert first[:, FLOWS.index(name)].sum() == 0
        assert second[:, FLOWS.index(name)].sum() > 0
    assert first[:, FLOWS.index("returns")].sum() > 0


def test_arrivals_find_jobs_with_the_destinations_job_finding(small_scenario):
    """With no chance of finding a job anywhere nobody who left home this month has one; with certainty
    everybody does (the destination's probability, not a national one)."""
    def arrivals_employed(find_prob: float) -> np.ndarray:
        b = small_scenario.behaviour.model_copy(update={"skill_job_finding": 0.0})
        model = CitizenizationModel(small_scenario.model_copy(update={"behaviour": b, "months": 1}))
        model.city_state.find_prob[:] = find_prob
        before = _snapshot(model)
        model.step()
        v = model.people.view()
        n = len(before["alive"])
        new = (v["alive"][:n] == 1) & (v["role"][:n] == 0) & (v["housing"][:n] == 1) & (before["housing"] == 0)
        assert new.sum() > 0  # heads and adult children who left home this month
        return v["employed"][:n][new]

    assert (arrivals_employed(0.0) == 0).all()
    assert (arrivals_employed(1.0) == 1).all()


def test_numba_cache_is_keyed_by_every_source(tmp_path, monkeypatch):
    """Kernels inline helpers from other files, which numba's own per-file check misses: the package's
    numba cache lives in a folder named after a hash of all its sources."""
    import numba

    import sim

    assert numba.config.CACHE_DIR.endswith(sim._sources_digest())
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert sim._kernel_cache_dir() == tmp_path / sim._sources_digest()
    package = tmp_path / "copy"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(sim, "_PACKAGE", package)
    before = sim._sources_digest()
    (package / "a.py").write_text("x = 2\n")
    assert sim._sources_digest() != before
