"""Migration and return: household heads leave the countryside, return, or move on.

Destination choice is a multinomial logit. Utilities are computed once per month per agent *type*
(origin prefecture x skill) by :mod:`sim.choice`, turned into one cumulative distribution per type,
and each moving head samples its destination from its type's row with one uniform draw and a
binary search. Members who live with the head follow it (:func:`sim.population.follow_heads`).
"""

import numpy as np
from numba import njit, prange

from sim.kernels import CHUNK
from sim.kernels.labour import WORK_AGE_MAX, WORK_AGE_MIN
from sim.rng import uniform

HOME, RENTED, AFFORDABLE, OWNED = 0, 1, 2, 3  # housing codes (sim.population.FIELDS)
ARRIVALS, RETURNS, ONWARD, INTERPROVINCIAL = 0, 1, 2, 3
N_FLOWS = 4


@njit(inline="always", cache=True)
def sample_row(cdf, row, u):
    """Index of the first column whose cumulative probability exceeds ``u`` (binary search)."""
    lo, hi = 0, cdf.shape[1] - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[row, mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def sample_many(cdf, rows, key):
    """Destinations for agents 0..len(rows)-1 of the given type rows (used by the logit test)."""
    out = np.empty(len(rows), np.int64)
    for i in range(len(rows)):
        out[i] = sample_row(cdf, rows[i], uniform(key, i, 0))
    return out


@njit(inline="always", cache=True)
def _arrive(i, dest, city, urban, employed, months_in_city, permit, housing, insured_months,
            keep_insurance, u_job, arrive_employed_prob):
    city[i] = dest
    urban[i] = 1
    months_in_city[i] = 0
    permit[i] = 0
    housing[i] = RENTED
    employed[i] = 1 if u_job < arrive_employed_prob else 0
    if not keep_insurance:
        insured_months[i] = 0


@njit(parallel=True, cache=True)
def migrate(key, cdf, n_skill, alive, age, role, hukou_urban, origin_city, city, urban, skill, employed,
            months_in_city, permit, housing, insured_months, province, migrate_hazard, return_hazard,
            return_unemployed_factor, return_age50_factor, onward_hazard, arrive_employed_prob,
            keep_insurance, n, n_chunks, n_cities):
    """One month of moves by rural-hukou household heads; returns flows per chunk x flow x city.

    Heads at home (rural, or in a home area reclassified urban) may leave; heads renting in a town or
    city may return home or, when unemployed, move on; heads who bought an urban home stay.
    """
    tally = np.zeros((n_chunks, N_FLOWS, n_cities), np.int64)
    for c in prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i] == 0 or role[i] != 0 or hukou_urban[i] == 1:
                continue
            if age[i] < WORK_AGE_MIN:
                continue
            u = uniform(key, i, 0)
            row = origin_city[i] * n_skill + skill[i]
            if housing[i] == HOME:
                if age[i] > WORK_AGE_MAX or u >= migrate_hazard:
                    continue
                dest = sample_row(cdf, row, uniform(key, i, 1))
                _arrive(i, dest, city, urban, employed, months_in_city, permit, housing, insured_months,
                        keep_insurance, uniform(key, i, 2), arrive_employed_prob)
                tally[c, ARRIVALS, dest] += 1
                if province[dest] != province[origin_city[i]]:
                    tally[c, INTERPROVINCIAL, dest] += 1
                continue
            if housing[i] == OWNED:
                continue
            hazard = return_hazard
            if employed[i] == 0:
                hazard *= return_unemployed_factor
            if age[i] >= 50:
                hazard *= return_age50_factor
            if u < hazard:
                tally[c, RETURNS, city[i]] += 1
                city[i] = origin_city[i]
                urban[i] = 0
                employed[i] = 0
                months_in_city[i] = 0
                permit[i] = 0
                housing[i] = HOME
            elif employed[i] == 0 and u < hazard + onward_hazard:
                dest = sample_row(cdf, row, uniform(key, i, 1))
                if dest != city[i]:
                    _arrive(i, dest, city, urban, employed, months_in_city, permit, housing, insured_months,
                            keep_insurance, uniform(key, i, 2), arrive_employed_prob)
                    tally[c, ONWARD, dest] += 1
    return tally
