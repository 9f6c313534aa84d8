"""Residence-based services: months of residence, residence permits, social insurance, schooling.

Residence permits (居住证) are issued after a qualifying stay: automatically where the permit is linked
to the identity card (二.(二).2 推进居住证与身份证功能衔接), else with a monthly take-up probability.
Employed migrants accrue employee social-insurance months with the probability that their job
contributes (raised when hukou limits on enrolment are removed, 二.(二).6).

Children aged 3-15 are at school where their hukou is, left behind, or accompanying their parents
in a public or private school. Public places for migrant children are a per-city capacity (seats for
compulsory ages 6-15 and for preschool 3-5, 二.(二).4): :func:`allocate_school_seats` checks seats
serially in row order, so that children in public schools never exceed the seats and the result does
not depend on the thread count. Each month it

1. lets migrant families bring a left-behind child, with a probability that rises with the chance of a
   public seat in their city (the family's bring-or-leave decision);
2. keeps incumbents in their public seats while the seats last (seats can fall behind demand after
   the January ageing, and then the last in row order move to private schools);
3. admits applicants - children new in the city, and in September those in private schools - whose
   parents meet the residence condition (years of residence with a permit, 二.(二).2) with the
   admission share (lower for renters without equal rights, 二.(二).5), while seats last. A new child
   without a seat is sent back to the origin (left behind) with ``leave_prob``, else goes private.
"""

import numpy as np
from numba import njit, prange, uint8, uint16

from sim.kernels import CHUNK, sum_chunks
from sim.kernels.labour import is_migrant
from sim.kernels.migration import HOME, RENTED, go_home
from sim.kernels.select import row_mask, rows_where
from sim.population import ROLE_CHILD, ROLE_HEAD
from sim.rng import uniform

SCHOOL_NONE, SCHOOL_HOME, SCHOOL_LEFT_BEHIND, SCHOOL_PUBLIC, SCHOOL_PRIVATE = 0, 1, 2, 3, 4
SCHOOL_AGE_MIN, SCHOOL_AGE_MAX = 3, 15
COMPULSORY_AGE_MIN = 6
COMPULSORY, PRESCHOOL = 0, 1  # seat levels (rows of the seats array)
MAX_MONTHS = 65535


@njit(inline="always", cache=True)
def _head_away(i, h, city, urban):
    return h >= 0 and h != i and (city[h] != city[i] or urban[h] != urban[i])


@njit(inline="always", cache=True)
def services_row(key, i, alive, age, role, household, head_of, hukou_urban, urban, city, with_head, employed,
                 months_in_city, permit, insured_months, school, housing, permit_months, permit_prob, insurance_prob):
    """Advance row ``i``'s residence, permit, insurance and school status outside the seat allocation; a
    child whose head is back where it is lives with it again (and takes its housing)."""
    if alive[i] == 0:
        return
    migrant = is_migrant(i, alive, urban, hukou_urban)
    if migrant:
        if months_in_city[i] < MAX_MONTHS:
            months_in_city[i] += 1
        # The draws' outcomes are added, not branched on: they are coin flips a branch would mispredict.
        if permit[i] == 0 and months_in_city[i] >= permit_months:
            permit[i] = uint8(uniform(key, i, 0) < permit_prob)
        if employed[i] == 1 and insured_months[i] < MAX_MONTHS:
            insured_months[i] += uint16(uniform(key, i, 1) < insurance_prob)
    a = age[i]
    school_age = a >= SCHOOL_AGE_MIN and a <= SCHOOL_AGE_MAX
    may_rejoin = with_head[i] == 0 and role[i] == ROLE_CHILD and a < 18
    if not (school_age or may_rejoin):  # most adults: no head lookup, no write
        if school[i] != SCHOOL_NONE:
            school[i] = SCHOOL_NONE
        return
    h = head_of[household[i]]
    away = _head_away(i, h, city, urban)
    if may_rejoin and h >= 0 and not away:
        with_head[i] = 1  # the family is together again (e.g. the head came home)
        housing[i] = housing[h]
    if school_age and away:
        school[i] = SCHOOL_LEFT_BEHIND
    elif not (school_age and migrant):
        school[i] = home_school_status(a)
    elif school[i] != SCHOOL_PUBLIC and school[i] != SCHOOL_PRIVATE:
        school[i] = SCHOOL_NONE  # accompanying, not yet placed: allocate_school_seats decides


@njit(inline="always", cache=True)
def home_school_status(age_i):
    """School status of a child who is not a migrant and lives with its head (and of anyone out of school
    age): at school where the hukou is from 3 to 15, else none."""
    return SCHOOL_HOME if SCHOOL_AGE_MIN <= age_i <= SCHOOL_AGE_MAX else SCHOOL_NONE


@njit(inline="always", cache=True)
def settled_at_home(i, age, role, urban, hukou_urban, with_head, school):
    """1 for a member (not of the head role) that is no migrant, lives with its head and holds the school
    status of its age at home (:func:`home_school_status`): neither :func:`services_row` nor the seat
    allocation changes it, as a member living with its head is where its head is once members have followed
    their heads (the month's follow pass), so it is not left behind. (A row of the head role may be a leaver
    still in its parents' household, which follows no one.) Branch-free (uint8), for vectorised marking."""
    migrant = urban[i] & (hukou_urban[i] ^ uint8(1))
    return (migrant ^ uint8(1)) & with_head[i] & uint8(role[i] != ROLE_HEAD) & \
        uint8(school[i] == home_school_status(age[i]))


@njit(inline="always", cache=True)
def _level(age_i):
    return COMPULSORY if age_i >= COMPULSORY_AGE_MIN else PRESCHOOL


@njit(parallel=True, cache=True)
def allocate_school_seats(key, rows, alive, age, role, household, head_of, hukou_urban, urban, city, origin_city,
                          with_head, months_in_city, permit, housing, school, seats, seat_chance, bring_prob,
                          admission, renter_factor, school_months, leave_prob, reapply, require_permit,
                          n_cities):
    """Seat-constrained schooling of migrant children (see the module docstring).

    ``rows`` are the candidate rows in ascending order (every row of school age or holding a school
    place, marked by :func:`sim.kernels.passes.services_and_candidates`), so that the loops skip the
    other agents. The capacity checks run serially in row order, over the incumbents and the applicants
    only; bringing children and finding the incumbents and the applicants are order-free (a child's step
    reads its own state and its head's, which no step here changes) and run in parallel (each parallel loop
    costs about a second of compilation, so the light demand count stays serial).
    ``seats`` (2 x n_cities, agents) are the public seats open to migrant children by level;
    ``seat_chance`` (n_cities) is last month's chance of a public seat, which drives the bring decision.
    The initial placement (month 0) passes ``require_permit=False``, ``bring_prob=leave_prob=0``.
    Returns ``(flows, used, demand)``: flows (2 x n_cities: children brought, children sent back),
    public seats used and accompanying migrant children (2 x n_cities each).
    """
    n_rows = len(rows)
    n_chunks = max(1, (n_rows + CHUNK - 1) // CHUNK)
    moved = np.zeros((n_chunks, 2, n_cities), np.int64)
    marked = row_mask(n_rows)
    # 1. Families bring left-behind children of school age; incumbents (public school) are marked.
    for c in prange(n_chunks):
        for j in range(c * CHUNK, min(n_rows, (c + 1) * CHUNK)):
            i = rows[j]
            if _brought(key, i, alive, age, role, household, head_of, hukou_urban, urban, city, with_head,
                        months_in_city, permit, housing, school, seat_chance, bring_prob):
                moved[c, 0, city[i]] += 1
            marked[j] = school[i] == SCHOOL_PUBLIC and is_migrant(i, alive, urban, hukou_urban)
    # 2. Incumbents keep their seats while seats last.
    used = np.zeros((2, n_cities), np.int64)
    for i in rows[rows_where(marked, 1, n_rows, n_chunks)]:
        if months_in_city[i] <= 1:
            school[i] = SCHOOL_NONE  # moved this month: applies again in the new city
            continue
        lv, k = _level(age[i]), city[i]
        if used[lv, k] + 1 <= seats[lv, k]:
            used[lv, k] += 1
        else:
            school[i] = SCHOOL_PRIVATE
    # 3. Applicants: new in the city, or (in September) in a private school. Found in parallel (a row's own
    #    state after step 2), then admitted serially in row order.
    applying = row_mask(n_rows)
    for c in prange(n_chunks):
        for j in range(c * CHUNK, min(n_rows, (c + 1) * CHUNK)):
            applying[j] = _applies(rows[j], alive, age, urban, hukou_urban, months_in_city, school, reapply)
    for i in rows[rows_where(applying, 1, n_rows, n_chunks)]:
        s = school[i]
        new = s == SCHOOL_NONE or (s == SCHOOL_PRIVATE and months_in_city[i] <= 1)
        h = head_of[household[i]]
        if h < 0:
            h = i
        lv, k = _level(age[i]), city[i]
        p = admission * (renter_factor if housing[h] == RENTED else 1.0)
        eligible = (permit[h] == 1 or not require_permit) and months_in_city[h] >= school_months
        if eligible and used[lv, k] + 1 <= seats[lv, k] and uniform(key, i, 1) < p:
            school[i] = SCHOOL_PUBLIC
            used[lv, k] += 1
        elif new and h != i and uniform(key, i, 2) < leave_prob:
            moved[0, 1, k] += 1
            with_head[i] = 0
            go_home(i, origin_city, city, urban, months_in_city, permit, housing)
            school[i] = SCHOOL_LEFT_BEHIND
        else:
            school[i] = SCHOOL_PRIVATE
    # 4. Demand: accompanying migrant children by level.
    demand = np.zeros((2, n_cities), np.int64)
    for i in rows:
        if (school[i] == SCHOOL_PUBLIC or school[i] == SCHOOL_PRIVATE) and is_migrant(i, alive, urban, hukou_urban):
            demand[_level(age[i]), city[i]] += 1
    return sum_chunks(moved), used, demand


@njit(inline="always", cache=True)
def _brought(key, i, alive, age, role, household, head_of, hukou_urban, urban, city, with_head, months_in_city,
             permit, housing, school, seat_chance, bring_prob):
    """A left-behind child of school age whose family in a town or city brings it (the family decides with
    the chance of a public seat there); returns whether it was brought."""
    if alive[i] == 0 or role[i] != ROLE_CHILD or with_head[i] == 1 or hukou_urban[i] == 1:
        return False
    if age[i] < SCHOOL_AGE_MIN or age[i] > SCHOOL_AGE_MAX:
        return False
    h = head_of[household[i]]
    if h < 0 or urban[h] == 0 or housing[h] == HOME or not _head_away(i, h, city, urban):
        return False
    if uniform(key, i, 0) >= bring_prob * seat_chance[city[h]]:
        return False
    with_head[i] = 1
    city[i] = city[h]
    urban[i] = 1
    months_in_city[i] = months_in_city[h]
    permit[i] = permit[h]
    housing[i] = housing[h]
    school[i] = SCHOOL_NONE
    return True


@njit(inline="always", cache=True)
def _applies(i, alive, age, urban, hukou_urban, months_in_city, school, reapply):
    """A migrant child of school age new in the city (not placed yet, or moved with a private place), or
    in September one in a private school."""
    if alive[i] == 0 or age[i] < SCHOOL_AGE_MIN or age[i] > SCHOOL_AGE_MAX:
        return False
    if not is_migrant(i, alive, urban, hukou_urban):
        return False
    s = school[i]
    new = s == SCHOOL_NONE or (s == SCHOOL_PRIVATE and months_in_city[i] <= 1)
    return new or (reapply and s == SCHOOL_PRIVATE)
