"""Household rules of the kernels on hand-made rows (cases too rare to count on in a simulated month),
and the row selection they run on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kernels import CHUNK, migration, n_chunks
from sim.kernels.demography import deaths_mothers_and_families
from sim.kernels.housing import AFFORDABLE, RENTED, allocate_affordable
from sim.kernels.select import nonzero_rows, row_mask, rows_where
from sim.population import ROLE_CHILD, ROLE_HEAD, ROLE_SPOUSE, People
from sim.rng import stream_key

SCHOOL_AGES = (3, 15)


def _people(households: list[list[tuple[int, int]]]) -> People:
    """Households of (role, age) rows, head first, as after a compaction; everyone alive, in city 0."""
    rows = [(h, role, age) for h, members in enumerate(households) for role, age in members]
    p = People.empty(len(rows))
    p.n = len(rows)
    v = p.view()
    v["household"][:] = [h for h, _, _ in rows]
    v["role"][:] = [role for _, role, _ in rows]
    v["age"][:] = [age for _, _, age in rows]
    v["alive"][:] = 1
    v["with_head"][:] = 1
    p.rebuild_heads()
    return p


def test_the_deaths_pass_marks_deaths_mothers_and_families_outside_quiet_tiles():
    """Certain deaths (men of 80) and births (women of 30), four tiles of 16 households of four rows,
    the first tile quiet: the dead and the mothers are found in every tile, the family flag (a child of
    3-15) only outside the quiet tile, where no rural head reads it."""
    households = [[(ROLE_HEAD, 80), (ROLE_SPOUSE, 30), (ROLE_CHILD, 8), (ROLE_CHILD, 20)]] * 64
    p = _people(households)
    v = p.view()
    v["sex"][:] = np.tile([0, 1, 1, 0], 64)  # the heads are men, the spouses and first children women
    v["city"][:] = np.repeat([0, 1], 128)
    death_prob = np.zeros((2, 101))
    death_prob[0, 80] = 1.0
    birth_prob = np.zeros(101)
    birth_prob[30] = 1.0
    quiet = np.array([1, 0, 0, 0], np.uint8)
    family = np.zeros(64, np.uint8)
    died, mothers = deaths_mothers_and_families(
        quiet, stream_key(1, 1, 1), stream_key(1, 1, 2), v["alive"], v["age"], v["sex"], v["city"], v["role"],
        v["household"], death_prob, birth_prob, *SCHOOL_AGES, family, p.n, n_chunks(p.n), 2)
    assert list(died) == [32, 32]
    assert list(v["alive"]) == [0, 1, 1, 1] * 64
    np.testing.assert_array_equal(mothers, np.arange(1, 256, 4))
    assert list(family) == [0] * 16 + [1] * 48


def test_monthly_demography_keeps_the_yearly_rates_of_the_table():
    """Twelve months of births give the table's births per woman in a year (a birth can come again, so the
    monthly chance is a twelfth of it), and twelve months of survival the table's yearly survival (a death
    comes once)."""
    import pandas as pd

    from sim.geography import DATA_DIR
    from sim.inputs import Demography

    table = pd.read_csv(DATA_DIR / "demography.csv").sort_values("age")
    d = Demography.load()
    np.testing.assert_allclose(12 * d.birth_prob, table["fertility"], rtol=1e-12)
    assert table["fertility"].max() > 0.05  # where the survival form would have given 2.6% more a year
    np.testing.assert_allclose(1 - (1 - d.death_prob_female) ** 12, table["mortality_female"], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(1 - (1 - d.death_prob_male) ** 12, table["mortality_male"], rtol=1e-9, atol=1e-15)


def test_a_promoted_school_age_child_leaves_the_family_flag_only_if_it_was_the_last():
    """The head dies; the next member, a 10-year-old, becomes head. Its household keeps the flag of
    households with school-age children only if another such child lives in it."""
    p = _people([[(ROLE_HEAD, 40), (ROLE_CHILD, 10), (ROLE_CHILD, 8)],
                 [(ROLE_HEAD, 40), (ROLE_CHILD, 10), (ROLE_CHILD, 20)],
                 [(ROLE_HEAD, 40), (ROLE_SPOUSE, 38), (ROLE_CHILD, 9)]])
    v = p.view()
    v["alive"][[0, 3, 6]] = 0  # every head dies
    family = np.ones(3, np.uint8)  # as the deaths pass leaves them: each has a living child aged 3-15
    p.promote_heads(family, *SCHOOL_AGES)
    assert list(p.head_of) == [1, 4, 7]
    assert v["role"][1] == v["role"][4] == v["role"][7] == ROLE_HEAD
    assert list(family) == [1, 0, 1]  # another child of 8 / only a 20-year-old left / the spouse was promoted


def test_promotion_skips_rows_split_off_since_the_last_compaction():
    p = _people([[(ROLE_HEAD, 50), (ROLE_CHILD, 22), (ROLE_CHILD, 17)]])
    p.split_leavers(np.array([1]))  # the 22-year-old left home: its own household, id 1
    v = p.view()
    v["role"][1] = ROLE_HEAD
    v["alive"][0] = 0
    family = np.zeros(2, np.uint8)
    p.promote_heads(family, *SCHOOL_AGES)
    assert p.head_of[0] == 2 and p.head_of[1] == 1


def test_compaction_heads_a_household_whose_block_died_out_with_its_first_newborn():
    """Household 0's block died during the year, leaving two babies born since (rows 3 and 4, in
    different cities); the compaction makes the first one head and flags the household, so that January's
    sparse following visits it (sim.kernels.passes.follow_and_find_leavers)."""
    p = _people([[(ROLE_HEAD, 30), (ROLE_SPOUSE, 29)], [(ROLE_HEAD, 50)], [(ROLE_CHILD, 0), (ROLE_CHILD, 0)]])
    v = p.view()
    v["household"][3:] = 0
    p.head_of = p.head_of[:2].copy()
    p.block_rows = 3
    v["alive"][:2] = 0
    p.head_of[0] = -1  # as promote_heads leaves a household with no living row in its block
    v["city"][3:] = [7, 8]
    headed = p.compact()
    assert list(headed) == [1, 0]
    assert list(p.head_of) == [0, 2] and list(p.view()["city"]) == [7, 8, 0]
    assert p.view()["role"][0] == ROLE_HEAD


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), death_rate=st.sampled_from([0.0, 0.1, 0.5]))
def test_compaction_sorts_the_living_rows_by_household_over_many_chunks(seed, death_rate):
    """Blocks of households over several chunks, with deaths, adult children split off inside the blocks and
    newborns after them: the compaction keeps each living row once, grouped by household id, head first,
    then in row order (an order any parallel rewrite of the sort must keep at every chunk edge)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, CHUNK)  # about 3.5 chunks of rows
    n_old, block_rows = len(sizes), int(sizes.sum())
    household = np.repeat(np.arange(n_old), sizes).astype(np.int32)
    first = np.r_[0, np.cumsum(sizes)[:-1]]
    role = np.full(block_rows, ROLE_CHILD, np.uint8)
    role[first] = ROLE_HEAD
    leavers = np.flatnonzero((role != ROLE_HEAD) & (rng.random(block_rows) < 0.05))
    household[leavers] = n_old + np.arange(len(leavers))
    role[leavers] = ROLE_HEAD
    newborn_of = rng.integers(0, n_old + len(leavers), int(rng.integers(0, 2000)))
    rows = block_rows + len(newborn_of)
    p = People.empty(rows + 10)
    p.n, p.block_rows, p.split_base = rows, block_rows, n_old
    v = p.view()
    v["household"][:] = np.r_[household, newborn_of]
    v["role"][:] = np.r_[role, np.full(len(newborn_of), ROLE_CHILD)]
    v["alive"][:] = rng.random(rows) >= death_rate
    v["alive"][leavers] = 1
    v["age"][:] = rng.integers(0, 100, rows)  # a row's fingerprint, with the city
    v["city"][:] = rng.integers(0, 362, rows)
    head_of = np.full(n_old + len(leavers), -1, np.int32)
    head_of[household[leavers]] = leavers
    for h in range(n_old):  # the head is the first living row of the block, as promote_heads keeps it
        living = [i for i in range(first[h], first[h] + sizes[h]) if v["alive"][i] and v["household"][i] == h]
        head_of[h] = living[0] if living else -1
        if living:
            v["role"][living[0]] = ROLE_HEAD
    p.head_of = head_of
    before = {name: col.copy() for name, col in v.items()}
    p.compact()
    living = np.flatnonzero(before["alive"] == 1)
    expected = living[np.lexsort((living, before["role"][living] != ROLE_HEAD, before["household"][living]))]
    after = p.view()
    for name in ("household", "age", "city", "alive"):
        assert (after[name] == before[name][expected]).all(), name
    starts = np.flatnonzero(np.r_[True, np.diff(after["household"]) > 0])
    assert (p.head_of[after["household"][starts]] == starts).all()


def test_a_family_leaving_affordable_housing_does_not_apply_again_that_month():
    """With certain turnover and certain application, the tenant family leaves and stays out this month,
    while an eligible renting family gets the place."""
    p = _people([[(ROLE_HEAD, 35), (ROLE_SPOUSE, 33)], [(ROLE_HEAD, 30)]])
    v = p.view()
    v["urban"][:] = 1  # migrants: rural hukou, living in town
    v["months_in_city"][:] = 60
    v["insured_months"][:] = 60
    v["housing"][:] = [AFFORDABLE, AFFORDABLE, RENTED]
    rows = np.arange(p.n)
    used, allocated = allocate_affordable(
        stream_key(1, 1, 15), rows, v["alive"], v["household"], v["role"], p.head_of, v["hukou_urban"], v["urban"],
        v["city"], v["with_head"], v["months_in_city"], v["insured_months"], v["housing"], np.array([10.0]), 0, 0,
        1.0, 1.0, p.split_base, p.block_rows, p.n, 1)
    assert list(v["housing"]) == [RENTED, RENTED, AFFORDABLE]
    assert used[0] == 1 and allocated[0] == 1


def test_an_affordable_place_houses_only_the_living_members_of_the_family():
    """Head, spouse and two babies born since the last compaction, one of whom died: three places are
    enough for the family (a dead newborn needs no place)."""
    p = _people([[(ROLE_HEAD, 30), (ROLE_SPOUSE, 28), (ROLE_CHILD, 0), (ROLE_CHILD, 0)]])
    p.block_rows = 2  # rows 2 and 3 are newborns since the last compaction
    v = p.view()
    v["alive"][3] = 0
    v["urban"][:] = 1
    v["months_in_city"][:] = 60
    v["insured_months"][:] = 60
    v["housing"][:] = RENTED
    used, allocated = allocate_affordable(
        stream_key(1, 1, 15), np.arange(p.n), v["alive"], v["household"], v["role"], p.head_of, v["hukou_urban"],
        v["urban"], v["city"], v["with_head"], v["months_in_city"], v["insured_months"], v["housing"], np.array([3.0]),
        0, 0, 1.0, 0.0, p.split_base, p.block_rows, p.n, 1)
    assert allocated[0] == 3 and used[0] == 3
    assert list(v["housing"][:3]) == [AFFORDABLE] * 3


def test_leaving_home_gets_rarer_past_the_peak_age():
    prm = np.zeros(migration.N_PARAMS)
    prm[migration.P_LEAVE_HOME], prm[migration.P_LEAVE_PEAK_AGE], prm[migration.P_LEAVE_AGE_DECAY] = 0.01, 24, 5
    assert migration.leave_home_hazard(16, prm) == migration.leave_home_hazard(24, prm) == 0.01
    assert migration.leave_home_hazard(29, prm) == pytest.approx(0.01 / np.e)
    assert migration.leave_home_hazard(34, prm) == pytest.approx(0.01 / np.e**2)


def test_points_quota_is_charged_for_the_members_who_settle():
    """Head, a co-resident spouse who already holds an urban hukou, a co-resident child and a child left
    at home: the quota counts the head, the child (whole family, or when its draw says so) and, with
    whole-family settling, the left-behind child who joins - never the spouse."""
    from sim.kernels.settlement import family_sizes

    p = _people([[(ROLE_HEAD, 40), (ROLE_SPOUSE, 38), (ROLE_CHILD, 12), (ROLE_CHILD, 9)]])
    v = p.view()
    v["urban"][:3] = 1
    v["city"][3] = 1  # left at home in another prefecture
    v["with_head"][3] = 0
    v["hukou_urban"][1] = 1
    key = stream_key(1, 12, 12)

    def size(whole_family: bool, share: float) -> int:
        return int(family_sizes(key, p.head_of, v["alive"], v["with_head"], v["household"], v["city"], v["urban"],
                                v["role"], v["age"], v["hukou_urban"], p.head_of, whole_family, share, p.split_base,
                                p.block_rows, p.n)[0])

    assert size(True, 0.0) == 3  # head, child, left-behind child
    assert size(False, 1.0) == 2  # head, child
    assert size(False, 0.0) == 1  # the head alone


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 3 * CHUNK + 13), density=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1),
       bit=st.sampled_from([1, 2, 4, 128, 3, 0xFF]))
def test_rows_where_lists_the_marked_rows_in_order(n, density, seed, bit):
    """The word-at-a-time scan agrees with numpy on any mask: sizes across chunk and word edges, every
    density, the other bits of each byte set at random, one bit or several asked for."""
    rng = np.random.default_rng(seed)
    mask = row_mask(n)
    mask[:n] = rng.integers(0, 256, n).astype(np.uint8) & ~np.uint8(bit)
    mask[:n] |= np.where(rng.random(n) < density, bit, 0).astype(np.uint8)
    expected = np.flatnonzero(mask[:n] & bit)
    np.testing.assert_array_equal(rows_where(mask, bit, n, n_chunks(n)), expected)


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.integers(0, 255), max_size=200), zeros=st.integers(0, CHUNK + 9))
def test_nonzero_rows_agrees_with_numpy_on_flags_of_any_length(values, zeros):
    """Household flags are not padded to whole words: the tail past the last word counts too."""
    flags = np.concatenate((np.zeros(zeros, np.uint8), np.array(values, np.uint8)))
    np.testing.assert_array_equal(nonzero_rows(flags), np.flatnonzero(flags))
