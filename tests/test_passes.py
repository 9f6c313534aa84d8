"""The fused passes run their rules on the rows they mark (sim.kernels.passes): on random row states, the
result is the same as running the rules on every row, so the marks are a superset of the rows the rules
change."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from sim.kernels import migration, n_chunks, passes
from sim.kernels.housing import AFFORDABLE, RENTED
from sim.kernels.labour import labour_row
from sim.kernels.migration import migrate_row, skill_return_factors
from sim.kernels.quiet import no_quiet_tiles
from sim.kernels.select import is_household_candidate, is_school_candidate
from sim.kernels.services import (
    SCHOOL_AGE_MAX,
    SCHOOL_AGE_MIN,
    SCHOOL_PRIVATE,
    SCHOOL_PUBLIC,
    services_row,
    settled_at_home,
)
from sim.kernels.settlement import settle_open_relaxed
from sim.population import FIELDS, ROLE_HEAD

N_CITIES, N_SKILL, N_FAMILY = 4, 4, 2
CODES = {"alive": 2, "age": 80, "sex": 2, "role": 4, "with_head": 2, "hukou_urban": 2, "urban": 2, "skill": 4,
         "employed": 2, "months_in_city": 60, "permit": 2, "insured_months": 60, "housing": 4, "school": 5,
         "land": 4, "origin_city": N_CITIES, "hukou_city": N_CITIES, "city": N_CITIES}


def _rows(seed: int, n: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``n`` rows in households of one to four, head first; every column drawn over its codes (alive rows
    mostly), so that odd states (a renting adult child, a rural row with an urban place) occur too."""
    rng = np.random.default_rng(seed)
    cols = {name: rng.integers(0, CODES[name], n).astype(dtype) for name, (dtype, _) in FIELDS.items()
            if name != "household"}
    cols["alive"] = (rng.random(n) < 0.9).astype(np.uint8)
    sizes = rng.integers(1, 5, n)
    household = np.repeat(np.arange(n), sizes)[:n].astype(np.int32)
    cols["household"] = household
    head_of = np.full(household[-1] + 1, -1, np.int32)
    starts = np.flatnonzero(np.r_[True, household[1:] != household[:-1]])
    head_of[household[starts]] = starts
    cols["role"][starts] = 0
    return cols, head_of


def _prm(rng: np.random.Generator) -> np.ndarray:
    prm = rng.random(migration.N_PARAMS)
    prm[migration.P_LEAVE_PEAK_AGE] = 24.0
    prm[migration.P_LEAVE_AGE_DECAY] = 5.0
    prm[migration.P_MIGRATE] *= 0.5  # hazards of either size, so that draws fall on both sides
    return prm


@njit(cache=True)
def _work_move_and_settle_every_row(labour_key, move_key, static_key, settle_key, alive, age, role, hukou_urban,
                                    hukou_city, household, head_of, origin_city, city, urban, skill, employed,
                                    months_in_city, permit, housing, insured_months, find_prob, separation_prob,
                                    skill_find, train_prob, cdf, family, province, metro, amenity, service_months,
                                    service_weights, prm, land, tier, settled_household, n):
    work = np.zeros((2, N_CITIES), np.int64)
    moves = np.zeros((migration.N_FLOWS, N_CITIES), np.int64)
    changed = []
    skill_return = skill_return_factors(prm, N_SKILL)
    for i in range(n):
        labour_row(labour_key, i, work, alive, age, urban, hukou_urban, city, employed, skill, find_prob,
                   separation_prob, skill_find, train_prob)
        if migrate_row(move_key, static_key, i, moves, cdf, N_SKILL, N_FAMILY, family, alive, age, role, hukou_urban,
                       household, origin_city, city, urban, skill, employed, months_in_city, permit, housing,
                       insured_months, find_prob, province, metro, amenity, service_months, service_weights, prm,
                       skill_return):
            changed.append(i)
        settle_open_relaxed(settle_key, i, alive, role, hukou_urban, hukou_city, urban, city, household, head_of,
                            months_in_city, insured_months, permit, land, tier, 0.3, 0.6, False, 6, 12, 6,
                            settled_household)
    return work, moves, np.array(changed, np.int64)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 700))
def test_labour_migration_and_settlement_on_marked_rows_equal_every_row(seed, n):
    rng = np.random.default_rng(seed + 1)
    cdf = np.cumsum(rng.random((N_CITIES * N_SKILL * N_FAMILY, N_CITIES)), axis=1)
    cdf /= cdf[:, -1:]
    prm = _prm(rng)
    city_args = (rng.random(N_CITIES), 0.02, 0.1, rng.random(N_CITIES) * 0.1, cdf)
    keys = [np.uint64(k) for k in rng.integers(0, 2**63, 4)]
    per_city = (np.array([0, 0, 1, 1]), np.array([0, -1, 0, 1]), rng.random(N_CITIES))
    services = (np.array([0, 12, 24, 36]), np.array([0.3, 0.3, 0.25, 0.15]), prm)
    tier = np.array([0, 1, 2, 0], np.int64)

    def run(marked):
        cols, head_of = _rows(seed, n)
        family = (np.arange(len(head_of)) % 3 == 0).astype(np.uint8)
        settled = np.zeros(len(head_of), np.uint8)
        c = cols
        row_cols = (c["alive"], c["age"], c["role"], c["hukou_urban"], c["hukou_city"], c["household"], head_of,
                    c["origin_city"], c["city"], c["urban"], c["skill"], c["employed"], c["months_in_city"],
                    c["permit"], c["housing"], c["insured_months"])
        if marked:
            out = passes.work_move_and_settle(
                *keys, *row_cols, *city_args, N_SKILL, N_FAMILY, family, *per_city, *services, c["land"], tier,
                0.3, 0.6, False, 6, 12, 6, settled, n, n_chunks(n), N_CITIES)
        else:
            out = _work_move_and_settle_every_row(*keys, *row_cols, *city_args, family, *per_city, *services,
                                                  c["land"], tier, settled, n)
        return (*out, settled), cols

    _assert_same(run)


@njit(cache=True)
def _services_every_row(key, alive, age, role, household, head_of, hukou_urban, urban, city, with_head, employed,
                        months_in_city, permit, insured_months, school, housing, n):
    schools = []
    households = []
    for i in range(n):
        services_row(key, i, alive, age, role, household, head_of, hukou_urban, urban, city, with_head, employed,
                     months_in_city, permit, insured_months, school, housing, 6, 0.5, 0.5)
        school_row = is_school_candidate(i, alive, age, school, SCHOOL_AGE_MIN, SCHOOL_AGE_MAX, SCHOOL_PUBLIC,
                                         SCHOOL_PRIVATE) & (1 - settled_at_home(i, age, role, urban,
                                                                                hukou_urban, with_head, school))
        if school_row:
            schools.append(i)
        left_behind_pupil = school_row & (1 - with_head[i])
        if is_household_candidate(i, alive, role, housing, RENTED, AFFORDABLE, ROLE_HEAD) | left_behind_pupil:
            households.append(i)
    return np.array(schools, np.int64), np.array(households, np.int64)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 700))
def test_services_on_marked_rows_equal_every_row(seed, n):
    key = np.uint64(seed)

    def run(marked):
        cols, head_of = _rows(seed, n)
        _members_where_their_heads_are(cols, head_of)
        c = cols
        row_cols = (c["alive"], c["age"], c["role"], c["household"], head_of, c["hukou_urban"], c["urban"], c["city"],
                    c["with_head"], c["employed"], c["months_in_city"], c["permit"], c["insured_months"], c["school"],
                    c["housing"])
        if marked:
            out = passes.services_and_candidates(no_quiet_tiles(), key, *row_cols, 6, 0.5, 0.5, n, n_chunks(n))
        else:
            out = _services_every_row(key, *row_cols, n)
        return out, cols

    _assert_same(run)


def _members_where_their_heads_are(cols: dict[str, np.ndarray], head_of: np.ndarray) -> None:
    """Members living with their head take its place, as every member does once the month's follow pass has
    run (the services pass comes after it)."""
    heads = head_of[cols["household"]]
    follows = (cols["with_head"] == 1) & (cols["role"] != ROLE_HEAD) & (heads >= 0)
    for name in ("city", "urban"):
        cols[name][follows] = cols[name][heads[follows]]


def _assert_same(run):
    """``run(marked)`` gives (outputs, columns) of the pass (``True``) or of the rules on every row."""
    (marked_out, marked_cols), (every_out, every_cols) = run(True), run(False)
    for a, b in zip(marked_out, every_out, strict=True):
        np.testing.assert_array_equal(a, b)
    for name in marked_cols:
        np.testing.assert_array_equal(marked_cols[name], every_cols[name], err_msg=name)
