"""Stock counts per city: the raw material of every reported metric.

:func:`count_row` adds one row; the month's last pass (:func:`sim.kernels.passes.reclassify_and_count`)
runs it for every row. Counts are integers kept per block of rows and summed afterwards, so they are exact and
identical for any thread count. Rates (urbanization, coverage, shares) are formed from them in :mod:`sim.metrics`.
"""

from numba import njit

from sim.kernels.labour import WORK_AGE_MAX, WORK_AGE_MIN, is_migrant
from sim.kernels.migration import AFFORDABLE, HOME
from sim.kernels.services import SCHOOL_LEFT_BEHIND, SCHOOL_PRIVATE, SCHOOL_PUBLIC

STOCKS = (
    "residents",
    "urban_residents",
    "urban_hukou",
    "migrants",
    "cross_city_migrants",
    "interprovincial_migrants",
    "migrant_workers",
    "insured_migrant_workers",
    "permit_holders",
    "children_public_school",
    "children_private_school",
    "children_left_behind",
    "working_age_migrants",
    "skilled_migrant_workers",
    "migrants_affordable_housing",
    "in_situ_residents",
)
(RESIDENTS, URBAN, URBAN_HUKOU, MIGRANTS, CROSS_CITY, INTERPROV, WORKERS, INSURED, PERMITS,
 CHILD_PUBLIC, CHILD_PRIVATE, CHILD_LEFT_BEHIND, WORKING_AGE, SKILLED, AFFORDABLE_HOUSED, IN_SITU) = range(len(STOCKS))
SKILLED_MIN_LEVEL = 2  # vocational certificate or more
INSURED_MIN_MONTHS = 12


@njit(inline="always", cache=True)
def count_row(t, i, alive, urban, hukou_urban, hukou_city, city, employed, insured_months, permit, school,
              province, age, skill, housing):
    """Add row ``i`` to the stocks ``t`` (n_stocks x n_cities)."""
    if alive[i] == 0:
        return
    k = city[i]
    t[RESIDENTS, k] += 1
    t[URBAN, k] += urban[i]
    t[URBAN_HUKOU, k] += hukou_urban[i]
    if school[i] == SCHOOL_LEFT_BEHIND:
        t[CHILD_LEFT_BEHIND, hukou_city[i]] += 1
    if not is_migrant(i, alive, urban, hukou_urban):
        return
    t[MIGRANTS, k] += 1
    if k != hukou_city[i]:
        t[CROSS_CITY, k] += 1
        if province[k] != province[hukou_city[i]]:
            t[INTERPROV, k] += 1
    if WORK_AGE_MIN <= age[i] <= WORK_AGE_MAX:
        t[WORKING_AGE, k] += 1
    if housing[i] == AFFORDABLE:
        t[AFFORDABLE_HOUSED, k] += 1
    elif housing[i] == HOME:  # in their own home: in-situ townspeople and reclassified villagers
        t[IN_SITU, k] += 1
    if employed[i]:
        t[WORKERS, k] += 1
        if insured_months[i] >= INSURED_MIN_MONTHS:
            t[INSURED, k] += 1
        if skill[i] >= SKILLED_MIN_LEVEL:
            t[SKILLED, k] += 1
    t[PERMITS, k] += permit[i]
    if school[i] == SCHOOL_PUBLIC:
        t[CHILD_PUBLIC, k] += 1
    elif school[i] == SCHOOL_PRIVATE:
        t[CHILD_PRIVATE, k] += 1
