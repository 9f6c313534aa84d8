"""The month's fused passes: one parallel loop over the agent rows runs the row rules of several processes.

At 14 million agents every pass over the person columns costs tens of milliseconds. So where
consecutive steps of the month only read and write the row at hand (and rows that the step itself never
writes, such as the head's), they share one loop, each row running the rules in the schedule's order.
The rules live in their process's module (``labour_row``, ``migrate_row``, ``services_row``, ...); this
module only composes them, so the month's order of operations is exactly that of
``CitizenizationModel.step`` and of the pure-Mesa reference. Following the head is the exception: it
visits only the households whose head moved, changed housing or was replaced this month
(:func:`follow_and_find_leavers`).

The rules branch on the row's state, and branches on scattered columns cost a scalar loop about ten
nanoseconds a row. So the labour/migration and the services passes first mark the rows their rules may
change, with a branch-free test (a superset of those rows) in a loop that the compiler vectorises, and
run the rules on the marked rows alone, found eight at a time from the mask's 64-bit words. The
services pass marks no row in the tiles that :mod:`sim.kernels.quiet` found quiet; the labour/migration
pass marks rural-hukou rows only, which quiet tiles do not hold.

Tallies are kept per block of chunks (:func:`sim.kernels.block_span`) and summed afterwards, draws are
keyed by row: results do not depend on the number of threads. A block's tally is sliced once, outside
the row loop: every slice of an array touches its reference count atomically, and a slice per row made
the two threads fight over that count.
"""

import numpy as np
from numba import njit, prange, uint8

from sim.kernels import CHUNK, ROWS_PER_TASK, block_span, n_blocks, n_tasks, sum_chunks
from sim.kernels.housing import AFFORDABLE, RENTED, share_head_housing
from sim.kernels.labour import WORK_AGE_MIN, labour_row
from sim.kernels.migration import (
    HOME,
    LEAVE_AGE_MAX,
    N_FLOWS,
    P_LEAVE_HOME,
    P_MIGRATE,
    ROLE_CHILD,
    ROLE_HEAD,
    migrate_row,
    skill_return_factors,
)
from sim.kernels.quiet import TILE, TILES_PER_CHUNK, in_quiet_tile, is_quiet, n_tiles
from sim.kernels.select import (
    HOUSEHOLD_CANDIDATE,
    SCHOOL_CANDIDATE,
    bit_in_every_byte,
    is_household_candidate,
    is_school_candidate,
    pop_row,
    row_mask,
    rows_where,
)
from sim.kernels.services import (
    SCHOOL_AGE_MAX,
    SCHOOL_AGE_MIN,
    SCHOOL_NONE,
    SCHOOL_PRIVATE,
    SCHOOL_PUBLIC,
    services_row,
    settled_at_home,
)
from sim.kernels.settlement import reclassify_row, settle_open_relaxed
from sim.kernels.tally import RESIDENTS, STOCKS, URBAN, URBAN_HUKOU, count_row
from sim.population import follow_head, household_rows, is_leaver
from sim.rng import uniform

CHANGED = 2  # bit of work_move_and_settle's row mask


@njit(inline="always", cache=True)
def _may_work_or_move(key, i, alive, age, role, hukou_urban, urban, housing, leave_max):
    """Whether row ``i`` is one that labour, migration or open/relaxed settlement may change this month: a
    living rural-hukou row in a town or not at home (a migrant), or one at home who is a head or an adult
    child aged 16-``LEAVE_AGE_MAX`` whose move draw is below ``leave_max``, the highest hazard of leaving
    home. Every other row is passed over by all three rules: not a migrant (labour), not a settlement
    candidate (in no town), and at home without leaving (migration's draw ``uniform(key, i, 0)`` against
    a hazard of at most ``leave_max``). Branch-free, so that its loop vectorises."""
    a = age[i]
    r = role[i]
    hs = housing[i]
    leaves = uint8(uniform(key, i, 0) < leave_max) & uint8(a >= WORK_AGE_MIN) & uint8(a <= LEAVE_AGE_MAX) & \
        (uint8(r == ROLE_HEAD) | uint8(r == ROLE_CHILD))
    return alive[i] & (hukou_urban[i] ^ uint8(1)) & (urban[i] | uint8(hs != HOME) | leaves)


@njit(parallel=True, cache=True)
def work_move_and_settle(labour_key, move_key, static_key, settle_key, alive, age, role, hukou_urban, hukou_city,
                         household, head_of, origin_city, city, urban, skill, employed, months_in_city, permit,
                         housing, insured_months, find_prob, separation_prob, skill_find, train_prob, cdf, n_skill,
                         n_family, family, province, metro, amenity, service_months, service_weights, prm, land, tier,
                         takeup_land, takeup_noland, habitual, open_months, relaxed_months, relaxed_insured,
                         settled_household, n, n_chunks, n_cities):
    """Labour (:func:`sim.kernels.labour.labour_row`), migration (:func:`sim.kernels.migration.migrate_row`)
    and the settlement of heads in open and relaxed cities
    (:func:`sim.kernels.settlement.settle_open_relaxed`), row by row.

    A head's settlement reads and writes its own row only, and no other row's labour or move reads it, so
    settling right after its own move is settling after everyone's. The rows that any of the three may
    change are marked first in one branch-free loop (:func:`_may_work_or_move`, vectorised); the rules
    then run on the marked rows only, found eight rows at a time as in
    :func:`sim.kernels.select.rows_where` (the quiet tiles and most rural rows at home are unmarked).
    Returns labour counts (employed migrant workers, persons trained; 2 x city), migration flows
    (``N_FLOWS`` x city) and the rows whose place, housing or role changed (heads who moved, adult
    children who left home), ascending, for :func:`follow_and_find_leavers`.
    """
    blocks = n_blocks(n_chunks)
    work = np.zeros((blocks, 2, n_cities), np.int64)
    moves = np.zeros((blocks, N_FLOWS, n_cities), np.int64)
    mask = row_mask(n)  # bit 1: may work or move; bit 2: changed
    leave_max = max(prm[P_MIGRATE], prm[P_LEAVE_HOME])
    skill_return = skill_return_factors(prm, n_skill)
    for i in prange(n):
        mask[i] = _may_work_or_move(move_key, i, alive, age, role, hukou_urban, urban, housing, leave_max)
    words = mask.view(np.uint64)
    per_chunk = CHUNK // 8
    may_change = bit_in_every_byte(1)
    for b in prange(blocks):
        work_b, moves_b = work[b], moves[b]  # sliced once per block: a slice per row costs two atomic refcounts
        first, last = block_span(b, n_chunks)
        for w in range(first * per_chunk, min(len(words), last * per_chunk)):
            marked = words[w] & may_change  # read before the rows of the word mark their changes
            while marked:
                i, marked = pop_row(w, marked)
                labour_row(labour_key, i, work_b, alive, age, urban, hukou_urban, city, employed, skill, find_prob,
                           separation_prob, skill_find, train_prob)
                if migrate_row(move_key, static_key, i, moves_b, cdf, n_skill, n_family, family, alive, age, role,
                               hukou_urban, household, origin_city, city, urban, skill, employed, months_in_city,
                               permit, housing, insured_months, find_prob, province, metro, amenity, service_months,
                               service_weights, prm, skill_return):
                    mask[i] |= CHANGED
                settle_open_relaxed(settle_key, i, alive, role, hukou_urban, hukou_city, urban, city, household,
                                    head_of, months_in_city, insured_months, permit, land, tier, takeup_land,
                                    takeup_noland, habitual, open_months, relaxed_months, relaxed_insured,
                                    settled_household)
    return sum_chunks(work), sum_chunks(moves), rows_where(mask, CHANGED, n, n_chunks)


@njit(parallel=True, cache=True)
def follow_and_find_leavers(changed, promoted, first_newborn, head_of, household, with_head, alive, role, city, urban,
                            months_in_city, permit, housing, split_base, block_rows, n):
    """Members living with their head take its place (:func:`sim.population.follow_head`) and its housing
    (:func:`sim.kernels.housing.share_head_housing`); returns this month's leavers
    (:func:`sim.population.is_leaver`), ascending: they settle once they head their own households
    (:func:`sim.kernels.settlement.settle_open_relaxed_rows`).

    At the start of a month every member living with its head is where its head is, in its housing (each
    month ends so: here, and wherever a member's or a head's place or housing changes later in the month
    the member takes the head's at once: a child rejoining its head or brought to it, a joiner, a child
    sent home, the affordable-housing allocation sharing its places). A member can only be left behind by
    this month's events: its head moved or changed housing (a changed row that heads its household), its
    head died and a member elsewhere took over (``promoted``), or it was born this month (rows from
    ``first_newborn``, born in the mother's place with no housing of its own). So only those households
    and the newborns are visited (a few per cent of the rows; the households' rows in parallel, this month's
    newborns serially). The synthesized start holds the
    same invariant (a test checks it), so the first month needs no more; a household that January's
    compaction gives a head counts as ``promoted``.
    """
    selected = promoted.copy()
    for i in changed:
        if head_of[household[i]] == i:
            selected[household[i]] = 1
    rows = household_rows(selected, head_of, household, split_base, block_rows, n)
    # In parallel: a row takes its own head's state, and heads never follow (the rows lie scattered, and a
    # serial loop waits on memory).
    for c in prange(n_tasks(len(rows))):
        for j in range(c * ROWS_PER_TASK, min(len(rows), (c + 1) * ROWS_PER_TASK)):
            i = rows[j]
            _follow_and_share(i, head_of[household[i]], with_head, alive, role, city, urban, months_in_city,
                              permit, housing)
    for i in range(first_newborn, n):  # this month's newborns: a few thousand
        if selected[household[i]] == 0:  # else visited above
            _follow_and_share(i, head_of[household[i]], with_head, alive, role, city, urban, months_in_city,
                              permit, housing)
    leavers = np.empty(len(changed), np.int64)
    k = 0
    for i in changed:
        if is_leaver(i, head_of[household[i]], alive, role):
            leavers[k] = i
            k += 1
    return leavers[:k]


@njit(inline="always", cache=True)
def _follow_and_share(i, head, with_head, alive, role, city, urban, months_in_city, permit, housing):
    """Row ``i`` follows its head and takes its housing, unless it is a leaver awaiting its own household."""
    follow_head(i, head, with_head, alive, role, city, urban, months_in_city, permit)
    if not is_leaver(i, head, alive, role):
        share_head_housing(i, head, alive, with_head, city, housing)


@njit(inline="always", cache=True)
def _may_need_services(i, alive, age, role, urban, hukou_urban, with_head, school, housing):
    """Whether the services pass may change or mark row ``i``: a living migrant (months of residence), a
    child under 18 apart from its head (it may rejoin), one renting, or one of school age or holding a
    school status unless it is settled at home (:func:`sim.kernels.services.settled_at_home`). For every
    other row :func:`sim.kernels.services.services_row` writes nothing and it is no candidate.
    Branch-free, so that its loop vectorises."""
    a = age[i]
    hs = housing[i]
    migrant = urban[i] & (hukou_urban[i] ^ uint8(1))
    school_age = uint8(a >= SCHOOL_AGE_MIN) & uint8(a <= SCHOOL_AGE_MAX)
    apart = (with_head[i] ^ uint8(1)) & uint8(role[i] == ROLE_CHILD) & uint8(a < 18)
    at_home = settled_at_home(i, age, role, urban, hukou_urban, with_head, school)
    return alive[i] & (migrant | apart | uint8(hs == RENTED) | uint8(hs == AFFORDABLE) |
                       ((school_age | uint8(school[i] != SCHOOL_NONE)) & (at_home ^ uint8(1))))


@njit(parallel=True, cache=True)
def services_and_candidates(quiet, key, alive, age, role, household, head_of, hukou_urban, urban, city, with_head,
                            employed, months_in_city, permit, insured_months, school, housing, permit_months,
                            permit_prob, insurance_prob, n, n_chunks):
    """Residence, permits, insurance and school status (:func:`sim.kernels.services.services_row`); then the
    candidates of the serial seat and housing allocations are marked.

    The rows the pass may change are marked first, outside the quiet tiles, in a branch-free loop
    (:func:`_may_need_services`); the rules run on those alone, eight rows at a time as in
    :func:`sim.kernels.select.rows_where`. Returns (school candidate rows, household candidate rows),
    ascending. Neither allocation changes who is a candidate of the other: seats never change a head's
    housing. Members living with their head hold its housing here (shared in
    :func:`follow_and_find_leavers`, or on rejoining it in ``services_row``), so a row's own housing tells
    whether its household rents; the left-behind children of school age are candidates too, as the seat
    allocation may bring them to a renting head.
    """
    busy = row_mask(n)
    for i in prange(n):
        busy[i] = _may_need_services(i, alive, age, role, urban, hukou_urban, with_head, school, housing) & \
            (uint8(1) ^ in_quiet_tile(quiet, i))
    mask = row_mask(n)
    words = busy.view(np.uint64)
    per_chunk = CHUNK // 8
    for c in prange(n_chunks):
        for w in range(c * per_chunk, min(len(words), (c + 1) * per_chunk)):
            marked = words[w]
            while marked:
                i, marked = pop_row(w, marked)
                services_row(key, i, alive, age, role, household, head_of, hukou_urban, urban, city, with_head,
                             employed, months_in_city, permit, insured_months, school, housing, permit_months,
                             permit_prob, insurance_prob)
                # A child settled at home is none: the seat allocation acts on migrants and children apart.
                school_row = is_school_candidate(i, alive, age, school, SCHOOL_AGE_MIN, SCHOOL_AGE_MAX,
                                                 SCHOOL_PUBLIC, SCHOOL_PRIVATE) & \
                    (1 - settled_at_home(i, age, role, urban, hukou_urban, with_head, school))
                # A left-behind child of school age may be brought to a renting head by the seat allocation.
                left_behind_pupil = school_row & (1 - with_head[i])
                household_row = is_household_candidate(i, alive, role, housing, RENTED, AFFORDABLE, ROLE_HEAD) | \
                    left_behind_pupil
                mask[i] = school_row * SCHOOL_CANDIDATE + household_row * HOUSEHOLD_CANDIDATE
    return rows_where(mask, SCHOOL_CANDIDATE, n, n_chunks), rows_where(mask, HOUSEHOLD_CANDIDATE, n, n_chunks)


@njit(parallel=True, cache=True)
def reclassify_and_count(quiet, key, alive, household, hukou_urban, hukou_city, city, urban, employed,
                         insured_months, permit, school, housing, age, skill, province, reclassify_rate, hukou_share,
                         n, n_chunks, n_cities):
    """The month's last pass: rural areas are reclassified (:func:`sim.kernels.settlement.reclassify_row`)
    and every row is counted (:func:`sim.kernels.tally.count_row`).

    A quiet tile's living rows are urban residents with an urban hukou, not migrants, not left behind
    (:mod:`sim.kernels.quiet`): nothing to reclassify, and ``count_row`` would add each to the residents,
    urban residents and urban hukou of its city only, so they are counted once, per city, and added to
    those three. Returns (reclassified residents and hukou conversions, 2 x city; stocks, ``STOCKS`` x city).
    """
    blocks = n_blocks(n_chunks)
    reclassified = np.zeros((blocks, 2, n_cities), np.int64)
    stocks = np.zeros((blocks, len(STOCKS), n_cities), np.int64)
    settled = np.zeros((blocks, 1, n_cities), np.int64)  # the living rows of quiet tiles
    for b in prange(blocks):
        reclassified_b, stocks_b, settled_b = reclassified[b], stocks[b], settled[b, 0]
        first, last = block_span(b, n_chunks)
        for t in range(first * TILES_PER_CHUNK, min(n_tiles(n), last * TILES_PER_CHUNK)):
            if is_quiet(quiet, t):
                for i in range(t * TILE, (t + 1) * TILE):
                    settled_b[city[i]] += alive[i]
                continue
            for i in range(t * TILE, min(n, (t + 1) * TILE)):
                reclassify_row(key, i, reclassified_b, alive, urban, hukou_urban, hukou_city, city, household,
                               reclassify_rate, hukou_share)
                count_row(stocks_b, i, alive, urban, hukou_urban, hukou_city, city, employed, insured_months,
                          permit, school, province, age, skill, housing)
    totals = sum_chunks(stocks)
    quiet_residents = sum_chunks(settled)[0]
    for k in (RESIDENTS, URBAN, URBAN_HUKOU):
        for city_k in range(n_cities):  # (not an array +=: its shape checks cost seconds of compilation)
            totals[k, city_k] += quiet_residents[city_k]
    return sum_chunks(reclassified), totals
