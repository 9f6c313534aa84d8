"""Labour market: monthly job loss and job finding of migrants in towns and cities.

A city's job-finding probability scales with its labour-market tightness (jobs for migrants per
migrant worker), computed from the previous month's tallies by :mod:`sim.cities` (which also applies
public employment services, 二.(二).3, and metropolitan commuting, 四.(二).1). Skills training
(二.(二).3 制造业技能根基工程; 三.(二).3 in the potential regions) gives a working-age migrant a monthly
chance ``train_prob[city]`` to rise one skill level (to level 2 at most: a vocational certificate);
each skill level above 1 raises job finding by ``skill_find``.
"""

from numba import njit

from sim.rng import uniform

#: ages at which a migrant in town works: past 59 too, as the monitoring survey's migrant workers do
#: (31.6% were over 50 in 2024; many have no pension to retire on). Leaving home to work stops at
#: ``sim.kernels.migration.LEAVE_AGE_MAX``.
WORK_AGE_MIN, WORK_AGE_MAX = 16, 64
MAX_TRAINED_SKILL = 2  # training reaches a vocational certificate, not college


@njit(inline="always", cache=True)
def is_migrant(i, alive, urban, hukou_urban):
    """Lives in a town or city without an urban hukou (the citizenization target group)."""
    return alive[i] == 1 and urban[i] == 1 and hukou_urban[i] == 0


@njit(inline="always", cache=True)
def labour_row(key, i, tally, alive, age, urban, hukou_urban, city, employed, skill, find_prob, separation_prob,
               skill_find, train_prob):
    """Job loss/finding and skills training of row ``i`` if it is a working-age migrant.

    Counts into ``tally`` (2 x city): employed migrant workers, persons trained.
    """
    if not is_migrant(i, alive, urban, hukou_urban):
        return
    if age[i] < WORK_AGE_MIN or age[i] > WORK_AGE_MAX:
        employed[i] = 0
        return
    k = city[i]
    u = uniform(key, i, 0)
    if employed[i]:
        if u < separation_prob:
            employed[i] = 0
    else:
        p = find_prob[k] * (1.0 + skill_find * (skill[i] - 1.0))
        if u < p:
            employed[i] = 1
    if skill[i] < MAX_TRAINED_SKILL and uniform(key, i, 1) < train_prob[k]:
        skill[i] += 1
        tally[1, k] += 1
    if employed[i]:
        tally[0, k] += 1
