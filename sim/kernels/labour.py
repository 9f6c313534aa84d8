"""Labour market: monthly job loss and job finding of migrants in towns and cities.

A city's job-finding probability scales with its labour-market tightness (jobs for migrants per
migrant worker), computed from the previous month's tallies by :mod:`sim.cities`.
"""

import numpy as np
from numba import njit, prange

from sim.kernels import CHUNK
from sim.rng import uniform

WORK_AGE_MIN, WORK_AGE_MAX = 16, 59


@njit(inline="always", cache=True)
def is_migrant(i, alive, urban, hukou_urban):
    """Lives in a town or city without an urban hukou (the citizenization target group)."""
    return alive[i] == 1 and urban[i] == 1 and hukou_urban[i] == 0


@njit(parallel=True, cache=True)
def labour_step(key, alive, age, urban, hukou_urban, city, employed, find_prob, separation_prob,
                n, n_chunks, n_cities):
    """Job loss/finding for working-age migrants; returns employed migrant workers per chunk x city."""
    workers = np.zeros((n_chunks, n_cities), np.int64)
    for c in prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not is_migrant(i, alive, urban, hukou_urban):
                continue
            if age[i] < WORK_AGE_MIN or age[i] > WORK_AGE_MAX:
                employed[i] = 0
                continue
            u = uniform(key, i, 0)
            if employed[i]:
                if u < separation_prob:
                    employed[i] = 0
            elif u < find_prob[city[i]]:
                employed[i] = 1
            if employed[i]:
                workers[c, city[i]] += 1
    return workers
