"""Affordable rental housing (保障性租赁住房) for migrant households, 二.(二).5 and 五.(二).2.

Each city has a capacity of affordable rental places (persons) open to migrants, which grows with
the plan's supply, fiscal rewards, land quotas and urban-village renovation (:mod:`sim.cities`).
:func:`allocate_affordable` admits applicants serially in row order each month, so that occupants
never exceed places and results do not depend on the thread count:

1. tenants leave for the market with the turnover hazard (and do not apply again that month); the
   others keep their places;
2. eligible renting migrant heads (months of residence and of insurance, 将稳定就业生活的农业转移人口纳入
   住房保障) apply with ``apply_prob`` and get places for their co-resident family while places last;
3. co-resident members take the head's housing status (:func:`share_head_housing`: here for the
   candidate households, and for everyone in the follow pass of :mod:`sim.kernels.passes`).
"""

import numpy as np
from numba import njit, prange

from sim.kernels import CHUNK, sum_chunks
from sim.kernels.labour import is_migrant
from sim.kernels.migration import AFFORDABLE, RENTED
from sim.kernels.select import row_mask, rows_where
from sim.population import ROLE_HEAD, household_rows
from sim.rng import uniform

APPLIES, LEFT = 1, 2  # bits of the applicants' mask: applies for a place; the head left its place


@njit(inline="always", cache=True)
def _lives_with_head(i, h, with_head, city):
    """The head itself, or a member living with it in its city (the family a place houses)."""
    return h == i or (h >= 0 and with_head[i] == 1 and city[i] == city[h])


@njit(parallel=True, cache=True)
def allocate_affordable(key, rows, alive, household, role, head_of, hukou_urban, urban, city, with_head, months_in_city,
                        insured_months, housing, places, elig_months, elig_insured, apply_prob, turnover,
                        split_base, block_rows, n, n_cities):
    """Returns ``(used, allocated)`` per city: persons in affordable places, persons newly housed.

    ``rows`` are the renting heads and the rows in affordable places, ascending (marked by
    :func:`sim.kernels.passes.services_and_candidates`, with the left-behind pupils whom the seat
    allocation may have brought to such a head since); no other row can apply or occupy a place. Only
    the capacity check runs serially, over the applicants in row order: the tenants' stay-or-leave draws,
    the occupied places and the applications are order-free. Members living with their head hold its
    housing on entry, so only the households whose head left or got a place here need their members
    updated (visited through :func:`sim.population.household_rows`).
    """
    n_rows = len(rows)
    n_chunks = max(1, (n_rows + CHUNK - 1) // CHUNK)
    # 1. tenants' stay-or-leave (one draw per head, which every member can evaluate), occupied places,
    #    and the heads who apply: renting (possibly since a moment ago) eligible migrants.
    occupied = np.zeros((n_chunks, 1, n_cities), np.int64)  # (chunk, 1, city) as sum_chunks takes it
    applies = row_mask(n_rows)
    for c in prange(n_chunks):
        for j in range(c * CHUNK, min(n_rows, (c + 1) * CHUNK)):
            i = rows[j]
            if housing[i] == RENTED and role[i] != ROLE_HEAD:
                continue  # a member renting (with its head, which rents too) neither holds a place nor applies
            h = head_of[household[i]]
            if not _lives_with_head(i, h, with_head, city):
                continue
            left = False  # a tenant family leaving this month does not apply again before next month
            if housing[h] == AFFORDABLE:  # a member may see its head already gone: then it would have left too
                if uniform(key, h, 0) < turnover:
                    left = True
                    if h == i:
                        housing[i] = RENTED
                        applies[j] = LEFT
                else:
                    occupied[c, 0, city[i]] += 1
            if h == i and not left and housing[i] == RENTED and is_migrant(i, alive, urban, hukou_urban) \
                    and months_in_city[i] >= elig_months and insured_months[i] >= elig_insured \
                    and uniform(key, i, 1) < apply_prob:
                applies[j] = APPLIES
    used = sum_chunks(occupied)[0]
    applicants = rows[rows_where(applies, APPLIES, n_rows, n_chunks)]
    changed = np.zeros(len(head_of), np.uint8)  # households whose head's housing changes here
    for i in rows[rows_where(applies, LEFT, n_rows, n_chunks)]:
        changed[household[i]] = 1
    # 2. the family each applicant needs housed: the living rows of its household that live with it
    #    (the head, its block, newborns since the last compaction).
    applying = np.zeros(len(head_of), np.uint8)
    for i in applicants:
        applying[household[i]] = 1
    need = np.zeros(len(applicants), np.int64)
    for k in household_rows(applying, head_of, household, split_base, block_rows, n):
        h = head_of[household[k]]
        if alive[k] == 1 and _lives_with_head(k, h, with_head, city):
            need[np.searchsorted(applicants, h)] += 1
    # 3. places, serially in row order, while they last.
    allocated = np.zeros(n_cities, np.int64)
    for a in range(len(applicants)):
        i = applicants[a]
        k = city[i]
        if used[k] + need[a] <= places[k]:
            housing[i] = AFFORDABLE
            used[k] += need[a]
            allocated[k] += need[a]
            changed[household[i]] = 1
    # 4. members living with their head take its (new) housing.
    for i in household_rows(changed, head_of, household, split_base, block_rows, n):
        share_head_housing(i, head_of[household[i]], alive, with_head, city, housing)
    return used, allocated


@njit(inline="always", cache=True)
def share_head_housing(i, h, alive, with_head, city, housing):
    """Row ``i``, if it lives with its head ``h`` (same city), takes the head's housing status (order-free:
    heads never change here)."""
    if alive[i] == 1 and with_head[i] == 1 and h >= 0 and h != i and city[i] == city[h] and housing[i] != housing[h]:
        housing[i] = housing[h]  # written only when it changes: most months nothing does
