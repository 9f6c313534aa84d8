"""Demography: ageing (each January), deaths and births by single year of age.

Births take two steps: the pass that draws deaths also finds the mothers (ascending rows), and the
newborns are then written to new rows in the mothers' order, so the rows newborns get do not depend
on the thread count.

The per-agent tests are written without data-dependent branches (a draw for every row, combined
with masks): hashing is cheap and vectorises, mispredicted branches on random-looking columns
(sex, age) are not. Only the rare event itself branches.
"""

import numpy as np
from numba import njit, prange

from sim.kernels import CHUNK, sum_chunks
from sim.kernels.select import row_mask, rows_where
from sim.rng import uniform


@njit(parallel=True, cache=True)
def age_one_year(alive, age, n):
    """Everyone alive gets one year older (capped at 100)."""
    for i in prange(n):
        age[i] += alive[i] & (age[i] < 100)


@njit(inline="always", cache=True)
def _gives_birth(key, i, alive, age, sex, birth_prob):
    """Whether row ``i`` gives birth this month (``birth_prob`` is zero outside women's fertile ages)."""
    return alive[i] & sex[i] & (uniform(key, i, 0) < birth_prob[age[i]])


@njit(parallel=True, cache=True)
def deaths_mothers_and_families(death_key, birth_key, alive, age, sex, city, role, household, death_prob, birth_prob,
                                family_age_min, family_age_max, family, n, n_chunks, n_cities):
    """Each agent dies with its monthly probability ``death_prob[sex, age]``; then, in the same pass over
    the rows, the survivors who give birth are found and ``family[household]`` is set to 1 for households
    with a living child (role 2) aged ``family_age_min``..``family_age_max`` (the family dimension of the
    destination choice; threads may set a flag at once, but only ever to 1).

    Returns (deaths per city, the rows of this month's mothers in ascending order).
    """
    died = np.zeros((n_chunks, 1, n_cities), np.int64)
    mother = row_mask(n)
    for c in prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i] & (uniform(death_key, i, 0) < death_prob[sex[i], age[i]]):
                alive[i] = 0
                died[c, 0, city[i]] += 1
            mother[i] = _gives_birth(birth_key, i, alive, age, sex, birth_prob)
            if alive[i] & (role[i] == 2) & (age[i] >= family_age_min) & (age[i] <= family_age_max):
                family[household[i]] = 1
    return sum_chunks(died)[0], rows_where(mother, 1, n, n_chunks)


@njit(parallel=True, cache=True)
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
