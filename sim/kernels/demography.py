"""Demography: ageing (each January), deaths and births by single year of age.

Births take two steps: the pass that draws deaths also finds the mothers (ascending rows), and the
newborns are then written to new rows in the mothers' order, so the rows newborns get do not depend
on the thread count.

The per-agent tests are written without data-dependent branches (a draw for every row, combined
with masks): hashing is cheap and vectorises, mispredicted branches on random-looking columns
(sex, age) are not. The rare events themselves are marked in a row mask and handled afterwards.
"""

import numpy as np
from numba import njit, prange, uint8

from sim.kernels import CHUNK
from sim.kernels.quiet import in_quiet_tile
from sim.kernels.select import bit_in_every_byte, pop_row, row_mask, rows_where
from sim.rng import uniform


@njit(parallel=True, cache=True)
def age_one_year(alive, age, n):
    """Everyone alive gets one year older (capped at 100)."""
    for i in prange(n):
        age[i] += alive[i] & (age[i] < 100)


@njit(parallel=True, cache=True)
def deaths_mothers_and_families(quiet, death_key, birth_key, alive, age, sex, city, role, household, death_prob,
                                birth_prob, family_age_min, family_age_max, family, n, n_chunks, n_cities):
    """Each agent dies with its monthly probability ``death_prob[sex, age]``; the survivors who give birth
    are found (``birth_prob`` is zero outside women's fertile ages); and ``family[household]`` is set to 1
    for households with a living child (role 2) aged ``family_age_min``..``family_age_max`` (the family
    dimension of the destination choice).

    The draws run as one loop without branches or scattered writes, which the compiler vectorises: both
    events, and the children who count in the family flag, are marked in a row mask; the few rows marked
    are then listed (scalar, this loop was four times slower), and the flags are set from the mask's words
    (:func:`sim.kernels.select.pop_row`; an ``|=`` on every row chained each row's read of the flag to the
    write of the row before, of the same household, and took three times as long). The flag skips the
    quiet tiles (:mod:`sim.kernels.quiet`): their households hold urban hukous only, and the flag is read
    for rural heads only (migration's choice type). Returns (deaths per city, the rows of this month's
    mothers in ascending order).
    """
    events = row_mask(n)  # bit 1: died, bit 2: gave birth, bit 4: a child counted in the family flag
    for i in prange(n):
        was_alive = alive[i]
        dies = uint8(uniform(death_key, i, 0) < death_prob[sex[i], age[i]]) & was_alive
        survives = was_alive & (dies ^ uint8(1))
        gives_birth = uint8(uniform(birth_key, i, 0) < birth_prob[age[i]]) & survives & sex[i]
        a = age[i]
        counted = survives & uint8(role[i] == 2) & uint8(a >= family_age_min) & uint8(a <= family_age_max) & \
            (uint8(1) ^ in_quiet_tile(quiet, i))
        alive[i] = survives
        events[i] = dies | (gives_birth << uint8(1)) | (counted << uint8(2))
    words = events.view(np.uint64)
    per_chunk = CHUNK // 8
    child = bit_in_every_byte(4)
    for c in prange(n_chunks):
        for w in range(c * per_chunk, min(len(words), (c + 1) * per_chunk)):
            marked = words[w] & child
            while marked:
                i, marked = pop_row(w, marked)
                family[household[i]] = 1  # threads may set a flag at once, but only ever to 1
    died = np.zeros(n_cities, np.int64)
    for i in rows_where(events, 1, n, n_chunks):
        died[city[i]] += 1
    return died, rows_where(events, 2, n, n_chunks)


@njit(cache=True)
def write_births(sex_key, mothers, first_row, alive, age, sex, household, role, with_head, origin_city, hukou_city,
                 hukou_urban, city, urban, land):
    """Newborns (rows from ``first_row``, in the mothers' order) join the mother's household, place and hukou."""
    for b in prange(len(mothers)):
        i = mothers[b]
        j = first_row + b
        alive[j] = 1
        age[j] = 0
        sex[j] = 1 if uniform(sex_key, j, 0) < 0.4785 else 0  # sex ratio at birth ~109 (assumption)
        household[j] = household[i]
        role[j] = 2
        with_head[j] = with_head[i]
        origin_city[j] = origin_city[i]
        hukou_city[j] = hukou_city[i]
        hukou_urban[j] = hukou_urban[i]
        city[j] = city[i]
        urban[j] = urban[i]
        land[j] = land[i]
