"""Settlement (hukou transfer) by city tier, and in-situ reclassification of rural areas.

Tier 0 cities (open) and tier 1 cities (relaxed conditions) admit every eligible household that
applies. Tier 2 cities (points) rank applicants once a year by points and admit households in
points order while the annual quota (in persons) lasts, unless the quota is abolished.

Levers (二.(二).1, 二.(三).2; docs/levers.md):

* without registration at the place of habitual residence (``habitual`` False) a head must also
  hold a residence permit (proof of legal stable residence); points cities always require one;
* a landholding head applies with ``takeup_land`` (deterred by the fear of losing land rights unless
  they are protected), a landless head with ``takeup_noland``;
* the household is marked in ``settled_household`` (1 open/relaxed, 2 points) and
  :func:`settle_members` moves the family: with whole-family settling every co-resident member settles
  and a left-behind spouse and children join the head and settle; otherwise each co-resident member
  settles with ``member_share``.
"""

import numpy as np
from numba import njit, prange

from sim.kernels import ROWS_PER_TASK, n_tasks, sum_chunks
from sim.kernels.quiet import TILE, is_quiet, n_tiles
from sim.kernels.select import row_mask, rows_where
from sim.population import household_rows
from sim.rng import uniform

TIER_OPEN, TIER_RELAXED, TIER_POINTS = 0, 1, 2


@njit(inline="always", cache=True)
def _is_candidate(i, alive, role, hukou_urban, urban):
    return alive[i] == 1 and role[i] == 0 and hukou_urban[i] == 0 and urban[i] == 1


@njit(inline="always", cache=True)
def settle_open_relaxed(key, i, alive, role, hukou_urban, hukou_city, urban, city, household, head_of,
                        months_in_city, insured_months, permit, land, tier, takeup_land, takeup_noland, habitual,
                        open_months, relaxed_months, relaxed_insured, settled_household):
    """Row ``i``, a household head in a tier 0/1 city who meets the conditions, settles with its take-up
    probability (run for every row by :func:`sim.kernels.passes.work_move_and_settle`; an adult child who
    left home this month settles once it heads a household of its own, :func:`settle_open_relaxed_rows`)."""
    if not _is_candidate(i, alive, role, hukou_urban, urban) or head_of[household[i]] != i:
        return
    t = tier[city[i]]
    if t == TIER_OPEN:
        ok = months_in_city[i] >= open_months
    elif t == TIER_RELAXED:
        ok = months_in_city[i] >= relaxed_months and insured_months[i] >= relaxed_insured
    else:
        return
    if not habitual and permit[i] == 0:
        ok = False
    takeup = takeup_land if land[i] != 0 else takeup_noland
    if ok and uniform(key, i, 0) < takeup:
        hukou_urban[i] = 1
        hukou_city[i] = city[i]
        settled_household[household[i]] = 1


@njit(cache=True)
def settle_open_relaxed_rows(key, rows, alive, role, hukou_urban, hukou_city, urban, city, household, head_of,
                             months_in_city, insured_months, permit, land, tier, takeup_land, takeup_noland, habitual,
                             open_months, relaxed_months, relaxed_insured, settled_household):
    """:func:`settle_open_relaxed` for the given rows (this month's leavers, once they head households)."""
    for j in range(len(rows)):
        settle_open_relaxed(key, rows[j], alive, role, hukou_urban, hukou_city, urban, city, household, head_of,
                            months_in_city, insured_months, permit, land, tier, takeup_land, takeup_noland, habitual,
                            open_months, relaxed_months, relaxed_insured, settled_household)


@njit(parallel=True, cache=True)
def points_applicants(quiet, key, alive, role, hukou_urban, urban, city, months_in_city, insured_months, skill,
                      permit, land, tier, apply_land, apply_noland, min_insured, n, n_chunks):
    """Permit-holding heads in points cities who apply this year; returns (rows, points) in row order.
    Quiet tiles (:mod:`sim.kernels.quiet`: urban hukou only) hold no applicant and are skipped."""
    flags = row_mask(n)
    for t in prange(n_tiles(n)):
        if is_quiet(quiet, t):
            continue
        for i in range(t * TILE, min(n, (t + 1) * TILE)):
            if not _is_candidate(i, alive, role, hukou_urban, urban) or tier[city[i]] != TIER_POINTS:
                continue
            apply_prob = apply_land if land[i] != 0 else apply_noland
            if permit[i] == 1 and insured_months[i] >= min_insured and uniform(key, i, 0) < apply_prob:
                flags[i] = 1
    rows = rows_where(flags, 1, n, n_chunks)
    points = np.empty(len(rows), np.float64)
    for k in range(len(rows)):
        i = rows[k]
        # Insurance and residence years carry most weight (确保社会保险缴纳年限和居住年限分数占主要比例).
        points[k] = insured_months[i] / 12.0 + 0.5 * months_in_city[i] / 12.0 + 2.0 * skill[i]
    return rows, points


@njit(cache=True)
def admit_by_points(rows, order, city, household, family_size, quota_left, unlimited, hukou_urban,
                    hukou_city, settled_household):
    """Admit applicants in ``order`` (best points first) while their city's quota covers the family members who settle.

    Returns persons admitted per city. ``quota_left`` (agents, per city) is decreased in place.
    """
    admitted = np.zeros(len(quota_left), np.int64)
    for k in order:
        i = rows[k]
        c = city[i]
        size = family_size[household[i]]
        if not unlimited and size > quota_left[c]:
            continue
        if not unlimited:
            quota_left[c] -= size
        admitted[c] += size
        hukou_urban[i] = 1
        hukou_city[i] = c
        settled_household[household[i]] = 2
    return admitted


@njit(inline="always", cache=True)
def _joins_head(i, h, role, with_head, city, urban, age):
    """A left-behind spouse or child (under 18) who joins a head settling as a whole family."""
    return with_head[i] == 0 and (role[i] == 1 or (role[i] == 2 and age[i] < 18)) and \
        (city[i] != city[h] or urban[i] != urban[h])


STAYS, SETTLES, JOINS = 0, 1, 2  # what a head's settlement does to a member of its household


@njit(inline="always", cache=True)
def _member_outcome(key, i, h, role, age, with_head, hukou_urban, city, urban, whole_family, member_share):
    """What the settlement of head ``h`` does to row ``i`` of its household: the head and co-resident
    rural-hukou members settle (whole family: all, else each with ``member_share``: one draw, the same
    wherever it is asked this month); with whole-family settling a left-behind spouse or child joins."""
    if h == i:
        return SETTLES
    if with_head[i] == 1 and city[i] == city[h] and hukou_urban[i] == 0:
        return SETTLES if whole_family or uniform(key, i, 0) < member_share else STAYS
    if whole_family and hukou_urban[i] == 0 and _joins_head(i, h, role, with_head, city, urban, age):
        return JOINS
    return STAYS


@njit(cache=True)
def family_sizes(key, heads, alive, with_head, household, city, urban, role, age, hukou_urban, head_of, whole_family,
                 member_share, split_base, block_rows, n):
    """Persons a settlement of the households headed by ``heads`` (living heads) would give an urban hukou
    this month (what a points quota is charged), per household id (0 for the others): the head, the
    co-resident members who settle and the left-behind members who join."""
    size = np.zeros(len(head_of), np.int64)
    applicant = np.zeros(len(head_of), np.uint8)
    for h in heads:
        applicant[household[h]] = 1
    for i in household_rows(applicant, head_of, household, split_base, block_rows, n):
        if alive[i] == 1 and _member_outcome(key, i, head_of[household[i]], role, age, with_head, hukou_urban, city,
                                             urban, whole_family, member_share) != STAYS:
            size[household[i]] += 1
    return size


@njit(inline="always", cache=True)
def _settle_member(key, i, t, alive, role, age, with_head, household, head_of, hukou_urban, hukou_city, city, urban,
                   months_in_city, permit, housing, route, whole_family, member_share):
    """Row ``i`` of a household whose head settled this month by ``route`` follows the settlement rule;
    counts into ``t`` (all settlers, points settlers, joiners) x the head's city."""
    if alive[i] == 0:
        return
    h = head_of[household[i]]
    k = city[h]
    outcome = _member_outcome(key, i, h, role, age, with_head, hukou_urban, city, urban, whole_family, member_share)
    if outcome == STAYS:
        return
    if outcome == JOINS:
        with_head[i] = 1
        city[i] = k
        urban[i] = urban[h]
        months_in_city[i] = months_in_city[h]
        permit[i] = permit[h]
        housing[i] = housing[h]
        t[2, k] += 1
    hukou_urban[i] = 1
    hukou_city[i] = k
    t[0, k] += 1
    if route == 2:
        t[1, k] += 1


@njit(parallel=True, cache=True)
def settle_members(key, alive, role, age, with_head, household, head_of, hukou_urban, hukou_city, city, urban,
                   months_in_city, permit, housing, settled_household, whole_family, member_share, split_base,
                   block_rows, n, n_cities):
    """Members of households whose head settled this month follow the settlement rule.

    Only those households are visited (some 12,000 a month at 1:100): each settled head's block, then the
    newborns since the last compaction. The rows are scattered, so they run in parallel (a serial loop
    waits on memory): a row's outcome reads its own state and its head's place, which no row here
    changes. Returns (all settlers, points settlers, joiners) x city; every settler counts in the head's
    city.
    """
    rows = household_rows(settled_household, head_of, household, split_base, block_rows, n)
    tasks = n_tasks(len(rows))
    tally = np.zeros((tasks, 3, n_cities), np.int64)
    for c in prange(tasks):
        tally_c = tally[c]  # sliced once per task: a slice per row costs two atomic refcounts
        for j in range(c * ROWS_PER_TASK, min(len(rows), (c + 1) * ROWS_PER_TASK)):
            i = rows[j]
            _settle_member(key, i, tally_c, alive, role, age, with_head, household, head_of, hukou_urban, hukou_city,
                           city, urban, months_in_city, permit, housing, settled_household[household[i]],
                           whole_family, member_share)
    return sum_chunks(tally)


@njit(inline="always", cache=True)
def reclassify_row(key, i, tally, alive, urban, hukou_urban, hukou_city, city, household, rate, hukou_share):
    """In-situ urbanization: row ``i``'s rural area becomes urban (one draw per household).

    ``rate[city]`` is the monthly reclassification probability (higher in the potential regions'
    county towns under 三.(二).4). Counts into ``tally`` (2 x city): newly urban residents, hukou
    conversions.
    """
    if alive[i] == 0 or urban[i] == 1:
        return
    h = household[i]
    if uniform(key, h, 0) < rate[city[i]]:
        urban[i] = 1
        tally[0, city[i]] += 1
        if hukou_urban[i] == 0 and uniform(key, h, 1) < hukou_share:
            hukou_urban[i] = 1
            hukou_city[i] = city[i]
            tally[1, city[i]] += 1
