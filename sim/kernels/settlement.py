"""Settlement (hukou transfer) by city tier, and in-situ reclassification of rural areas.

Tier 0 cities (open) and tier 1 cities (relaxed conditions) admit every eligible household that
applies. Tier 2 cities (points) rank applicants once a year by points and admit households in
points order while the annual quota (in persons) lasts, unless the quota is abolished. A settling
head takes every member living with it along (whole-family settlement), marked per household.
"""

import numpy as np
from numba import njit, prange

from sim.kernels import CHUNK
from sim.rng import uniform

TIER_OPEN, TIER_RELAXED, TIER_POINTS = 0, 1, 2


@njit(inline="always", cache=True)
def _is_candidate(i, alive, role, hukou_urban, urban):
    return alive[i] == 1 and role[i] == 0 and hukou_urban[i] == 0 and urban[i] == 1


@njit(parallel=True, cache=True)
def settle_open_relaxed(key, alive, role, hukou_urban, hukou_city, urban, city, household, months_in_city,
                        insured_months, tier, takeup_prob, open_months, relaxed_months, relaxed_insured,
                        settled_household, n, n_chunks):
    """Heads in tier 0/1 cities who meet the conditions settle with probability ``takeup_prob``."""
    for c in prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not _is_candidate(i, alive, role, hukou_urban, urban):
                continue
            t = tier[city[i]]
            if t == TIER_OPEN:
                ok = months_in_city[i] >= open_months
            elif t == TIER_RELAXED:
                ok = months_in_city[i] >= relaxed_months and insured_months[i] >= relaxed_insured
            else:
                continue
            if ok and uniform(key, i, 0) < takeup_prob:
                hukou_urban[i] = 1
                hukou_city[i] = city[i]
                settled_household[household[i]] = 1


@njit(parallel=True, cache=True)
def points_applicants(key, alive, role, hukou_urban, urban, city, months_in_city, insured_months, skill,
                      tier, apply_prob, min_insured, n, n_chunks):
    """Heads in points cities who apply this year; returns (rows, points) of applicants in row order."""
    flags = np.zeros(n, np.uint8)
    for c in prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not _is_candidate(i, alive, role, hukou_urban, urban) or tier[city[i]] != TIER_POINTS:
                continue
            if insured_months[i] >= min_insured and uniform(key, i, 0) < apply_prob:
                flags[i] = 1
    rows = np.flatnonzero(flags)
    points = np.empty(len(rows), np.float64)
    for k in range(len(rows)):
        i = rows[k]
        # Insurance and residence years carry most weight (确保社会保险缴纳年限和居住年限分数占主要比例).
        points[k] = insured_months[i] / 12.0 + 0.5 * months_in_city[i] / 12.0 + 2.0 * skill[i]
    return rows, points


@njit(cache=True)
def admit_by_points(rows, order, city, household, family_size, quota_left, unlimited, hukou_urban,
                    hukou_city, settled_household):
    """Admit applicants in ``order`` (best points first) while their city's quota covers the family.

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
        settled_household[household[i]] = 1
    return admitted


@njit(cache=True)
def family_sizes(alive, with_head, household, city, head_of, n, n_households):
    """Members living with their head (head included) per household: the persons a settlement moves."""
    size = np.zeros(n_households, np.int64)
    for i in range(n):
        if alive[i] == 0:
            continue
        h = head_of[household[i]]
        if h == i or (with_head[i] == 1 and city[i] == city[h]):
            size[household[i]] += 1
    return size


@njit(parallel=True, cache=True)
def settle_members(alive, role, with_head, household, head_of, hukou_urban, hukou_city, city,
                   settled_household, n, n_chunks, n_cities):
    """Members living with a head who settled this month settle too; returns settlers per chunk x city."""
    tally = np.zeros((n_chunks, n_cities), np.int64)
    for c in prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i] == 0 or settled_household[household[i]] == 0:
                continue
            h = head_of[household[i]]
            if h == i:
                tally[c, city[i]] += 1
            elif with_head[i] == 1 and city[i] == city[h] and hukou_urban[i] == 0:
                hukou_urban[i] = 1
                hukou_city[i] = city[i]
                tally[c, city[i]] += 1
    return tally


@njit(parallel=True, cache=True)
def reclassify(key, alive, urban, hukou_urban, hukou_city, city, household, rate, hukou_share, n, n_chunks,
               n_cities):
    """In-situ urbanization: a household's rural area becomes urban (one draw per household).

    Returns (newly urban residents, hukou conversions) per chunk x city.
    """
    tally = np.zeros((n_chunks, 2, n_cities), np.int64)
    for c in prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i] == 0 or urban[i] == 1:
                continue
            h = household[i]
            if uniform(key, h, 0) < rate:
                urban[i] = 1
                tally[c, 0, city[i]] += 1
                if hukou_urban[i] == 0 and uniform(key, h, 1) < hukou_share:
                    hukou_urban[i] = 1
                    hukou_city[i] = city[i]
                    tally[c, 1, city[i]] += 1
    return tally
