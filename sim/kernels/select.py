"""Candidate rows for the serial (row-order) allocation kernels and for household splitting.

Seat and housing allocation must run serially in row order so that capacities are never exceeded
and results do not depend on threads. They only ever touch a small subset of rows (children,
renting migrant households); the parallel passes of :mod:`sim.kernels.passes` mark that subset in a
bit mask with the predicates below, and :func:`rows_where` lists the marked rows in ascending order,
so the serial loops run over them instead of over every agent, with identical results.
"""

import numpy as np
from numba import njit, prange, uint64
from numba.cpython.unsafe.numbers import trailing_zeros

from sim.kernels import CHUNK

SCHOOL_CANDIDATE, HOUSEHOLD_CANDIDATE = 1, 2  # bits of the candidate mask
_ONE_PER_BYTE = uint64(0x0101010101010101)


@njit(inline="always", cache=True)
def row_mask(n):
    """A zeroed candidate mask for ``n`` rows, padded to whole 8-byte words for :func:`rows_where`."""
    return np.zeros((n + 7) // 8 * 8, np.uint8)


@njit(inline="always", cache=True)
def rows_where(mask, bits, n, n_chunks):
    """Rows ``i < n`` with ``mask[i] & bits`` nonzero, ascending (``mask`` from :func:`row_mask`).

    The mask is read eight rows at a time as 64-bit words: a chunked count (each byte folded to a 0/1 in
    its lowest bit, :func:`_marked_bytes`, and the bytes summed by one multiplication), a prefix sum, then
    a fill that jumps from one marked byte to the next by its trailing zeros. A byte-by-byte fill branches
    on every row, and the candidates are scattered, so it stalls on mispredictions: this is two to three
    times faster. Little-endian hosts only (x86-64, arm64): byte ``k`` of a word is row ``8 * word + k``.

    This wrapper is inlined and passes ``bits`` on as a plain int64: called from compiled code with a
    constant, a function is compiled anew for each constant (numba types it as that literal value), and
    :func:`_rows_where` is compiled once.
    """
    return _rows_where(mask, np.int64(bits), n, n_chunks)


@njit(parallel=True, cache=True)
def _rows_where(mask, bits, n, n_chunks):
    """The scan of :func:`rows_where`."""
    words = mask.view(np.uint64)
    n_words = (n + 7) // 8
    per_chunk = CHUNK // 8
    pattern = bit_in_every_byte(bits)
    counts = np.zeros(n_chunks, np.int64)
    for c in prange(n_chunks):
        k = 0
        for w in range(c * per_chunk, min(n_words, (c + 1) * per_chunk)):
            k += (_marked_bytes(words[w], pattern) * _ONE_PER_BYTE) >> uint64(56)
        counts[c] = k
    offsets = np.zeros(n_chunks + 1, np.int64)
    for c in range(n_chunks):
        offsets[c + 1] = offsets[c] + counts[c]
    rows = np.empty(offsets[n_chunks], np.int64)
    for c in prange(n_chunks):
        j = offsets[c]
        for w in range(c * per_chunk, min(n_words, (c + 1) * per_chunk)):
            m = _marked_bytes(words[w], pattern)
            while m:
                rows[j], m = pop_row(w, m)
                j += 1
    return rows


@njit(inline="always", cache=True)
def _marked_bytes(word, pattern):
    """1 in the lowest bit of each byte of ``word`` that has a bit of ``pattern`` set, 0 elsewhere."""
    x = word & pattern
    x |= x >> uint64(4)
    x |= x >> uint64(2)
    x |= x >> uint64(1)
    return x & _ONE_PER_BYTE


@njit(cache=True)
def nonzero_rows(flags):
    """Indices of the nonzero bytes of a uint8 array of any length, ascending (:func:`rows_where` over its
    whole words: four times faster than ``np.flatnonzero`` on the millions of household flags)."""
    whole = len(flags) // 8 * 8
    head = rows_where(flags[:whole], 0xFF, whole, max(1, (whole + CHUNK - 1) // CHUNK))
    # (loops, not np.concatenate or a slice assignment: their shape checks cost seconds of compilation)
    rows = np.empty(len(head) + len(flags) - whole, np.int64)  # room for every row of the tail
    for k in range(len(head)):
        rows[k] = head[k]
    k = len(head)
    for i in range(whole, len(flags)):
        if flags[i] != 0:
            rows[k] = i
            k += 1
    return rows[:k]


@njit(inline="always", cache=True)
def pop_row(w, marked):
    """The lowest row marked in ``marked`` (word ``w`` of a row mask, masked to one bit per byte), and the
    word without it."""
    return 8 * w + (trailing_zeros(marked) >> 3), marked & (marked - uint64(1))


@njit(inline="always", cache=True)
def bit_in_every_byte(bit):
    """A 64-bit word with ``bit`` set in each of its bytes: masks one bit of eight rows of a row mask."""
    return uint64(bit) * _ONE_PER_BYTE


@njit(inline="always", cache=True)
def is_school_candidate(i, alive, age, school, age_min, age_max, in_school_a, in_school_b):
    """Living row of school age or holding a school place (``in_school_a``/``in_school_b`` codes)."""
    a = age[i]
    s = school[i]
    return alive[i] & (((a >= age_min) & (a <= age_max)) | (s == in_school_a) | (s == in_school_b))


@njit(inline="always", cache=True)
def is_household_candidate(i, alive, role, housing, rented, affordable, head_role):
    """Living row in an affordable place (``affordable``), or renting (``rented``) with the head role: the
    rows the housing allocation acts on. Once members living with their head share its housing, these are
    the renting heads and the households in affordable places (and a few rows that live apart, which the
    allocation passes over); a renting member neither holds a place nor applies."""
    hs = housing[i]
    return alive[i] & ((hs == affordable) | ((hs == rented) & (role[i] == head_role)))


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
