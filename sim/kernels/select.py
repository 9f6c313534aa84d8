"""Candidate rows for the serial (row-order) allocation kernels.

Seat and housing allocation must run serially in row order so that capacities are never exceeded
and results do not depend on threads. They only ever touch a small subset of rows (children,
renting migrant households); these helpers find that subset in parallel, in ascending row order,
so the serial loop runs over it instead of over every agent, with identical results.
"""

import numpy as np
from numba import njit, prange

from sim.kernels import CHUNK


@njit(parallel=True, cache=True)
def rows_where(mask, n, n_chunks):
    """Rows ``i < n`` with ``mask[i] != 0``, ascending (chunked count, prefix sum, fill)."""
    counts = np.zeros(n_chunks, np.int64)
    for c in prange(n_chunks):
        k = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            k += mask[i] != 0
        counts[c] = k
    offsets = np.zeros(n_chunks + 1, np.int64)
    for c in range(n_chunks):
        offsets[c + 1] = offsets[c] + counts[c]
    rows = np.empty(offsets[n_chunks], np.int64)
    for c in prange(n_chunks):
        j = offsets[c]
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if mask[i] != 0:
                rows[j] = i
                j += 1
    return rows


@njit(parallel=True, cache=True)
def school_candidates(alive, age, school, age_min, age_max, in_school_a, in_school_b, n, n_chunks):
    """Living rows of school age or holding a school place (``in_school_a``/``in_school_b`` codes)."""
    mask = np.zeros(n, np.uint8)
    for i in prange(n):
        a = age[i]
        s = school[i]
        mask[i] = alive[i] & (((a >= age_min) & (a <= age_max)) | (s == in_school_a) | (s == in_school_b))
    return rows_where(mask, n, n_chunks)


@njit(parallel=True, cache=True)
def household_candidates(alive, household, head_of, housing, code_a, code_b, n, n_chunks):
    """Living rows whose household head's housing is ``code_a`` or ``code_b``."""
    mask = np.zeros(n, np.uint8)
    for i in prange(n):
        head = head_of[household[i]]
        hs = housing[max(head, 0)]
        mask[i] = alive[i] & (head >= 0) & ((hs == code_a) | (hs == code_b))
    return rows_where(mask, n, n_chunks)


@njit(parallel=True, cache=True)
def school_age_households(alive, role, age, household, age_min, age_max, n_households, n):
    """1 for each household with a living child (role 2) aged ``age_min``..``age_max``, else 0.

    Threads may write the same household's flag at once, but only ever the value 1: the result does
    not depend on the thread count.
    """
    family = np.zeros(n_households, np.uint8)
    for i in prange(n):
        if alive[i] & (role[i] == 2) & (age[i] >= age_min) & (age[i] <= age_max):
            family[household[i]] = 1
    return family
