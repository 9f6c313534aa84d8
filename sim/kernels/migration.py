"""Migration and return: household heads leave the countryside, return, or move on.

Destination choice is a multinomial logit. Utilities are computed once per month per agent *type*
(origin prefecture x skill x family with school-age children or not) by :mod:`sim.choice`, turned into
one cumulative distribution per type, and each moving head samples its destination from its type's
row with one uniform draw and a binary search. Members who live with the head follow it
(:func:`sim.population.follow_head`).

Adult children (16-``LEAVE_AGE_MAX``) at their rural home may also leave on their own, with ``leave_home`` a month:
the young people who leave their parents' household are most new migrant workers (新生代农民工).
A leaver chooses like a head without school-age children, is marked with the head role here and gets
a household of its own from :meth:`sim.population.People.split_leavers`.

The monthly return hazard of a migrant head is the behavioural base rate times the plan-dependent
factors (docs/levers.md):

* unemployment and age 50+ (behaviour);
* skill: ``exp(-beta_wage * skill_wage_premium * (skill - 1))`` - a trained migrant earns more (二.(二).3);
* residence-based services: ``1 - services_retention * access``, where ``access`` is the permit
  holder's coverage-weighted share of the service items its months of residence unlock (二.(二).2);
* affordable rental housing (二.(二).5) and renovation amenity of the city (五);
* uninsured gig workers add an injury-and-return hazard (二.(二).6 职业伤害保障).

A move to a new city keeps the social-insurance record with probability ``portability`` (二.(二).6).
"""

import numpy as np
from numba import njit

from sim.kernels.labour import WORK_AGE_MIN
from sim.rng import uniform

HOME, RENTED, AFFORDABLE, OWNED = 0, 1, 2, 3  # housing codes (sim.population.FIELDS)
ARRIVALS, RETURNS, ONWARD, INTERPROVINCIAL, METRO_INTERNAL, INJURY_RETURNS, LEFT_HOME = range(7)
N_FLOWS = 7
ROLE_HEAD, ROLE_CHILD = 0, 2  # sim.population role codes

# Indices into the float parameter vector ``prm`` of :func:`migrate` (built by sim.model).
(P_MIGRATE, P_RETURN, P_RETURN_UNEMPLOYED, P_RETURN_AGE50, P_ONWARD, P_SKILL_FIND, P_PORTABILITY,
 P_COVERAGE, P_SERVICES_RETENTION, P_SKILL_RETURN, P_AFFORDABLE_RETURN, P_RENEWAL_RETENTION, P_GIG_SHARE,
 P_GIG_COVER, P_GIG_INJURY, P_LEAVE_HOME, P_LEAVE_PEAK_AGE, P_LEAVE_AGE_DECAY) = range(18)
N_PARAMS = 18
LEAVE_AGE_MAX = 59  # the oldest who leave home to work (once in town, migrants work up to WORK_AGE_MAX)


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


@njit(cache=True)
def _arrive(key, i, dest, city, urban, employed, skill, months_in_city, permit, housing, insured_months, find_prob,
            prm):
    """Agent ``i`` starts over in ``dest``: renting, no permit, a job found with the destination's job-finding
    probability this month (as an unemployed migrant there, :mod:`sim.kernels.labour`), the insurance record
    kept with the portability probability."""
    city[i] = dest
    urban[i] = 1
    months_in_city[i] = 0
    permit[i] = 0
    housing[i] = RENTED
    employed[i] = 1 if uniform(key, i, 2) < find_prob[dest] * (1.0 + prm[P_SKILL_FIND] * (skill[i] - 1.0)) else 0
    if uniform(key, i, 3) >= prm[P_PORTABILITY]:
        insured_months[i] = 0


@njit(cache=True)
def _leave_home(key, i, row, cdf, tally, role, origin_city, city, urban, employed, skill, months_in_city, permit,
                housing, insured_months, find_prob, province, metro, prm):
    """Agent ``i`` leaves its rural home for a destination drawn from type ``row``; an adult child who
    leaves becomes the head of a household of its own (``role`` marked here)."""
    dest = sample_row(cdf, row, uniform(key, i, 1))
    _arrive(key, i, dest, city, urban, employed, skill, months_in_city, permit, housing, insured_months, find_prob,
            prm)
    tally[ARRIVALS, dest] += 1
    if role[i] != ROLE_HEAD:
        role[i] = ROLE_HEAD
        tally[LEFT_HOME, dest] += 1
    home = origin_city[i]
    if province[dest] != province[home]:
        tally[INTERPROVINCIAL, dest] += 1
    if metro[home] >= 0 and metro[home] == metro[dest]:
        tally[METRO_INTERNAL, dest] += 1


@njit(cache=True)
def go_home(i, origin_city, city, urban, months_in_city, permit, housing):
    """Agent ``i`` goes back to its rural home: residence record and housing start again."""
    city[i] = origin_city[i]
    urban[i] = 0
    months_in_city[i] = 0
    permit[i] = 0
    housing[i] = HOME


@njit(inline="always", cache=True)
def service_access(i, permit, months_in_city, service_months, service_weights, coverage):
    """Coverage-weighted share of the residence-based service items open to agent ``i`` (0..1)."""
    if permit[i] == 0:
        return 0.0
    a = 0.0
    for k in range(len(service_months)):
        if months_in_city[i] >= service_months[k]:
            a += service_weights[k]
    return coverage * a


@njit(inline="always", cache=True)
def is_gig_worker(static_key, i, household, role, employed, gig_share):
    """Employed agent in gig work: a fixed per-person draw (household id, role), stable across months."""
    return employed[i] == 1 and uniform(static_key, household[i], 16 + role[i]) < gig_share


@njit(inline="always", cache=True)
def skill_return_factors(prm, n_skill):
    """Return-hazard factor of each skill level, ``exp(-P_SKILL_RETURN * (skill - 1))`` (a trained migrant
    earns more and returns less): computed once per pass rather than once per migrant head, where the
    exponential cost the labour/migration pass a tenth of its time."""
    factors = np.empty(n_skill)
    for s in range(n_skill):
        factors[s] = np.exp(-prm[P_SKILL_RETURN] * (s - 1.0))
    return factors


@njit(inline="always", cache=True)
def leave_home_hazard(age, prm):
    """Monthly hazard that an adult child at home of ``age`` leaves: full up to the peak age, then
    falling by a factor e every ``P_LEAVE_AGE_DECAY`` years (the stayers past their twenties mostly stay)."""
    past = age - prm[P_LEAVE_PEAK_AGE]
    if past <= 0.0:
        return prm[P_LEAVE_HOME]
    return prm[P_LEAVE_HOME] * np.exp(-past / prm[P_LEAVE_AGE_DECAY])


@njit(inline="always", cache=True)
def migrate_row(key, static_key, i, tally, cdf, n_skill, n_family, family, alive, age, role, hukou_urban, household,
                origin_city, city, urban, skill, employed, months_in_city, permit, housing, insured_months, find_prob,
                province, metro, amenity, service_months, service_weights, prm, skill_return):
    """This month's move of row ``i``, if any; counts into ``tally`` (flow x city).

    Heads at home (rural, or in a home area reclassified urban) may leave; heads renting in a town or
    city may return home or, when unemployed, move on; heads who bought an urban home stay; adult
    children at home may leave on their own. ``family[household]`` is 1 for households with children
    of school age (the choice type); ``skill_return`` holds :func:`skill_return_factors`. Returns whether
    the row moved or left home (its place, housing or role changed).
    """
    if alive[i] == 0 or hukou_urban[i] == 1 or age[i] < WORK_AGE_MIN:
        return False
    if role[i] != ROLE_HEAD:
        if role[i] != ROLE_CHILD or housing[i] != HOME or age[i] > LEAVE_AGE_MAX:
            return False
        if uniform(key, i, 0) < leave_home_hazard(age[i], prm):
            _leave_home(key, i, (origin_city[i] * n_skill + skill[i]) * n_family, cdf, tally, role, origin_city, city,
                        urban, employed, skill, months_in_city, permit, housing, insured_months, find_prob, province,
                        metro, prm)
            return True
        return False
    u = uniform(key, i, 0)
    row = (origin_city[i] * n_skill + skill[i]) * n_family + family[household[i]]
    if housing[i] == HOME:
        if age[i] <= LEAVE_AGE_MAX and u < prm[P_MIGRATE]:
            _leave_home(key, i, row, cdf, tally, role, origin_city, city, urban, employed, skill, months_in_city,
                        permit, housing, insured_months, find_prob, province, metro, prm)
            return True
        return False
    if housing[i] == OWNED:
        return False
    here = city[i]
    hazard = prm[P_RETURN]
    if employed[i] == 0:
        hazard *= prm[P_RETURN_UNEMPLOYED]
    if age[i] >= 50:
        hazard *= prm[P_RETURN_AGE50]
    hazard *= skill_return[skill[i]]
    access = service_access(i, permit, months_in_city, service_months, service_weights, prm[P_COVERAGE])
    hazard *= 1.0 - prm[P_SERVICES_RETENTION] * access
    if housing[i] == AFFORDABLE:
        hazard *= prm[P_AFFORDABLE_RETURN]
    hazard *= max(0.0, 1.0 - prm[P_RENEWAL_RETENTION] * amenity[here])
    injury = 0.0
    # The gig draws matter only where an injury could tip the return (u below hazard + injury hazard): most
    # heads are past it, and skip two hashes. Onward moves need no injury: gig workers are employed.
    if u < hazard + prm[P_GIG_INJURY] and \
            is_gig_worker(static_key, i, household, role, employed, prm[P_GIG_SHARE]) and \
            uniform(static_key, household[i], 32 + role[i]) >= prm[P_GIG_COVER]:
        injury = prm[P_GIG_INJURY]
    if u < hazard + injury:
        tally[RETURNS, here] += 1
        if u >= hazard:
            tally[INJURY_RETURNS, here] += 1
        employed[i] = 0
        go_home(i, origin_city, city, urban, months_in_city, permit, housing)
        return True
    if employed[i] == 0 and u < hazard + injury + prm[P_ONWARD]:
        dest = sample_row(cdf, row, uniform(key, i, 1))
        if dest != here:
            _arrive(key, i, dest, city, urban, employed, skill, months_in_city, permit, housing, insured_months,
                    find_prob, prm)
            tally[ONWARD, dest] += 1
            if metro[here] >= 0 and metro[here] == metro[dest]:
                tally[METRO_INTERNAL, dest] += 1
            return True
    return False
