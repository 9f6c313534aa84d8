"""Affordable rental housing (保障性租赁住房) for migrant households, 二.(二).5 and 五.(二).2.

Each city has a capacity of affordable rental places (persons) open to migrants, which grows with
the plan's supply, fiscal rewards, land quotas and urban-village renovation (:mod:`sim.cities`).
:func:`allocate_affordable` runs serially in row order each month, so that occupants never exceed
places and results do not depend on the thread count:

1. tenants leave for the market with the turnover hazard; the others keep their places;
2. eligible renting migrant heads (months of residence and of insurance, 将稳定就业生活的农业转移人口纳入
   住房保障) apply with ``apply_prob`` and get places for their co-resident family while places last;
3. co-resident members take the head's housing status (:func:`share_head_housing`, in parallel).
"""

import numpy as np
from numba import njit, prange

from sim.kernels.labour import is_migrant
from sim.kernels.migration import AFFORDABLE, RENTED
from sim.rng import uniform


@njit(cache=True)
def allocate_affordable(key, rows, alive, household, head_of, hukou_urban, urban, city, with_head, months_in_city,
                        insured_months, housing, places, elig_months, elig_insured, apply_prob, turnover,
                        n_cities):
    """Returns ``(used, allocated)`` per city: persons in affordable places, persons newly housed.

    ``rows`` are the rows of households whose head rents or holds an affordable place, ascending
    (:func:`sim.kernels.select.household_candidates`); no other household can apply or occupy a place.
    """
    # 1. sizes of co-resident families, tenants' stay-or-leave draws, and occupied places. A head's
    #    turnover draw is a pure function of its row, so every member can evaluate it in one pass.
    size = np.zeros(len(head_of), np.int64)
    used = np.zeros(n_cities, np.int64)
    allocated = np.zeros(n_cities, np.int64)
    for i in rows:
        h = head_of[household[i]]
        if not (h == i or (h >= 0 and with_head[i] == 1 and city[i] == city[h])):
            continue
        size[household[i]] += 1
        if housing[h] == AFFORDABLE:
            if uniform(key, h, 0) < turnover:
                if h == i:
                    housing[i] = RENTED
            else:
                used[city[i]] += 1
    for i in rows:  # 2. applicants
        if alive[i] == 0 or housing[i] != RENTED or head_of[household[i]] != i:
            continue
        if not is_migrant(i, alive, urban, hukou_urban):
            continue
        if months_in_city[i] < elig_months or insured_months[i] < elig_insured:
            continue
        k = city[i]
        need = size[household[i]]
        if uniform(key, i, 1) < apply_prob and used[k] + need <= places[k]:
            housing[i] = AFFORDABLE
            used[k] += need
            allocated[k] += need
    return used, allocated


@njit(parallel=True, cache=True)
def share_head_housing(alive, household, head_of, with_head, city, housing, n):
    """Members living with their head (same city) take the head's housing status (order-free)."""
    for i in prange(n):
        if alive[i] == 0 or with_head[i] == 0:
            continue
        h = head_of[household[i]]
        if h >= 0 and h != i and city[i] == city[h] and housing[i] != housing[h]:
            housing[i] = housing[h]  # written only when it changes: most months nothing does
