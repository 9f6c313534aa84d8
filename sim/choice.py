"""Destination choice: multinomial-logit utilities per agent type, and their cumulative distributions.

A type is (origin prefecture, skill level, family with school-age children f). The systematic
utility of destination d for type (o, s, f) is

    V = b_wage * log(wage_d) - b_housing * log(housing_d) + services_d
        - b_distance * log(1 + km(o, d) / 100) + b_size * s * log(district_pop_d / 1M)
        + same_province * [prov(o) = prov(d)] + home_city * [o = d]
        + medical_bonus * [prov(o) != prov(d)] + f * school_d

where ``housing_d`` is the rent a newcomer expects (market rent index, less the affordable-rental
discount times its chance of a place, 二.(二).5), ``services_d`` the residence-based services open to a
non-hukou newcomer (二.(二).2, 四.(二).4 shared services, 五 renovation amenity), ``medical_bonus`` the
value of cross-region direct medical settlement (二.(二).6) and ``school_d`` the value of the chance of a
public-school seat for a family with children of school age (二.(二).4). The destination-only terms
matter for the choice only where they differ between cities.

and the choice probability is the logit share exp(V) / sum exp(V). Utilities are computed for all
types at once (a few hundred thousand numbers), never per agent.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sim.geography import Geography
from sim.policy import Behaviour

N_SKILL = 4
N_FAMILY = 2  # 0 no child aged 3-15, 1 with one


def type_row(origin: int, skill: int, family: int = 0) -> int:
    """Row of the utility matrix for an agent type."""
    return (origin * N_SKILL + skill) * N_FAMILY + family


def utilities(geo: Geography, wage: np.ndarray, housing_cost: np.ndarray, services: np.ndarray,
              district_pop: np.ndarray, b: Behaviour, school: np.ndarray | None = None,
              medical_bonus: float = 0.0) -> np.ndarray:
    """Utility matrix of shape (n_cities * N_SKILL * N_FAMILY, n_cities); rows as :func:`type_row`."""
    dest = b.beta_wage * np.log(wage) - b.beta_housing * np.log(housing_cost) + services
    same = geo.province[:, None] == geo.province[None, :]
    pair = -b.beta_distance * np.log1p(geo.distance_km.astype(np.float64) / 100.0)
    pair += b.same_province * same + medical_bonus * ~same
    pair += b.home_city * np.eye(geo.n_cities)
    size = np.log(np.maximum(district_pop, 1.0) / 1e6)
    skill = np.arange(N_SKILL, dtype=np.float64)
    v = (pair + dest[None, :])[:, None, :] + b.beta_size_by_skill * skill[None, :, None] * size[None, None, :]
    school = np.zeros(geo.n_cities) if school is None else school
    family = np.arange(N_FAMILY, dtype=np.float64)
    v = v[:, :, None, :] + family[None, None, :, None] * school[None, None, None, :]
    return v.reshape(geo.n_cities * N_SKILL * N_FAMILY, geo.n_cities)


def logit_probabilities(v: np.ndarray) -> np.ndarray:
    """Row-wise logit shares exp(v) / sum(exp(v)), computed stably."""
    e = np.exp(v - v.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@njit(cache=True)
def cumulative(probabilities):
    """Row-wise cumulative distribution with the last column exactly 1 (for binary-search sampling).

    The same sums in the same order as ``np.cumsum(probabilities, axis=1)`` divided by each row's last
    value (so the same bits), in a compiled loop: numpy's accumulate took longer than the logit. Serial:
    about 1 ms a month, and a parallel loop costs a second of compilation on first use.
    """
    n_rows, n_cols = probabilities.shape
    cdf = np.empty_like(probabilities)
    for r in prange(n_rows):
        total = 0.0
        for k in range(n_cols):
            total += probabilities[r, k]
            cdf[r, k] = total
        for k in range(n_cols - 1):
            cdf[r, k] /= total
        cdf[r, n_cols - 1] = 1.0
    return cdf
