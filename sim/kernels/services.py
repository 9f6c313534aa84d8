"""Residence-based services: months of residence, residence permits, social insurance, schooling.

Residence permits (居住证) are issued after a qualifying stay; employed migrants accrue employee
social-insurance months with the probability that their job contributes; children aged 3-15 are
at school where their hukou is, left behind, or accompanying their parents in a public or private
school, the public share being the city's share of migrant children admitted to public schools.
"""

from numba import njit, prange

from sim.kernels import CHUNK
from sim.kernels.labour import is_migrant
from sim.rng import uniform

SCHOOL_NONE, SCHOOL_HOME, SCHOOL_LEFT_BEHIND, SCHOOL_PUBLIC, SCHOOL_PRIVATE = 0, 1, 2, 3, 4
SCHOOL_AGE_MIN, SCHOOL_AGE_MAX = 3, 15
MAX_MONTHS = 65535


@njit(parallel=True, cache=True)
def services_step(key, alive, age, household, head_of, hukou_urban, urban, city, employed,
                  months_in_city, permit, insured_months, school, permit_months, permit_prob,
                  insurance_prob, public_school_share, n, n_chunks):
    """Advance residence, permits, insurance and school status by one month."""
    for c in prange(n_chunks):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i] == 0:
                continue
            migrant = is_migrant(i, alive, urban, hukou_urban)
            if migrant:
                if months_in_city[i] < MAX_MONTHS:
                    months_in_city[i] += 1
                if permit[i] == 0 and months_in_city[i] >= permit_months and uniform(key, i, 0) < permit_prob:
                    permit[i] = 1
                if employed[i] == 1 and insured_months[i] < MAX_MONTHS and uniform(key, i, 1) < insurance_prob:
                    insured_months[i] += 1
            if age[i] < SCHOOL_AGE_MIN or age[i] > SCHOOL_AGE_MAX:
                school[i] = SCHOOL_NONE
                continue
            h = head_of[household[i]]
            head_away = h >= 0 and h != i and (city[h] != city[i] or urban[h] != urban[i])
            if head_away:
                school[i] = SCHOOL_LEFT_BEHIND
            elif not migrant:
                school[i] = SCHOOL_HOME
            elif school[i] != SCHOOL_PUBLIC and school[i] != SCHOOL_PRIVATE:
                # A child newly in the city gets a public place with the city's admission share.
                school[i] = SCHOOL_PUBLIC if uniform(key, i, 2) < public_school_share[city[i]] else SCHOOL_PRIVATE
