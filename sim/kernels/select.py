"""Candidate rows for the serial (row-order) allocation kernels and for household splitting.

Seat and housing allocation must run serially in row order so that capacities are never exceeded
and results do not depend on threads. They only ever touch a small subset of rows (children,
renting migrant households); the parallel passes of :mod:`sim.kernels.passes` mark that subset in a
bit mask with the predicates below, and :func:`rows_where` lists the marked rows in ascending order,
so the serial loops run over them instead of over every agent, with identical results.
"""

import numpy as np
from numba import njit, prange

from sim.kernels import CHUNK

SCHOOL_CANDIDATE, HOUSEHOLD_CANDIDATE = 1, 2  # bits of the candidate mask


@njit(parallel=True, cache=True)
def rows_where(mask, bit, n, n_chunks):
    """Rows ``i < n`` with ``mask[i] & bit``, ascending (chunked count, prefix sum, fill)."""
    counts = np.zeros(n_chunks, np.int64)
    for c in prange(n_chunks):
        k = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            k += (mask[i] & bit) != 0
        counts[c] = k
    offsets = np.zeros(n_chunks + 1, np.int64)
    for c in range(n_chunks):
        offsets[c + 1] = offsets[c] + counts[c]
    rows = np.empty(offsets[n_chunks], np.int64)
    for c in prange(n_chunks):
        j = offsets[c]
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if mask[i] & bit:
                rows[j] = i
                j += 1
    return rows


@njit(inline="always", cache=True)
def is_school_candidate(i, alive, age, school, age_min, age_max, in_school_a, in_school_b):
    """Living row of school age or holding a school place (``in_school_a``/``in_school_b`` codes)."""
    a = age[i]
    s = school[i]
    return alive[i] & (((a >= age_min) & (a <= age_max)) | (s == in_school_a) | (s == in_school_b))


@njit(inline="always", cache=True)
def is_household_candidate(i, head, alive, housing, code_a, code_b):
    """Living row whose household head (row ``head``, -1 for none) has housing ``code_a`` or ``code_b``."""
    hs = housing[max(head, 0)]
    return alive[i] & (head >= 0) & ((hs == code_a) | (hs == code_b))


@njit(cache=True)
def school_candidates(alive, age, school, age_min, age_max, in_school_a, in_school_b, n):
    """Rows of :func:`is_school_candidate`, ascending (the month's passes mark them as they go; this is
    for the initial placement, once)."""
    rows = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        if is_school_candidate(i, alive, age, school, age_min, age_max, in_school_a, in_school_b):
            rows[k] = i
            k += 1
    return rows[:k].copy()
