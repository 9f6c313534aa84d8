"""Destination choice: multinomial-logit utilities per agent type, and their cumulative distributions.

A type is (origin prefecture, skill level). The systematic utility of destination d for type
(o, s) is

    V = b_wage * log(wage_d) - b_housing * log(housing_d) + services_d
        - b_distance * log(1 + km(o, d) / 100) + b_size * s * log(district_pop_d / 1M)
        + same_province * [prov(o) = prov(d)] + home_city * [o = d]

and the choice probability is the logit share exp(V) / sum exp(V). Utilities are computed for all
types at once (a few hundred thousand numbers), never per agent.
"""

from __future__ import annotations

import numpy as np

from sim.geography import Geography
from sim.policy import Behaviour

N_SKILL = 4


def utilities(geo: Geography, wage: np.ndarray, housing_cost: np.ndarray, services: np.ndarray,
              district_pop: np.ndarray, b: Behaviour) -> np.ndarray:
    """Utility matrix of shape (n_cities * N_SKILL, n_cities); row = origin * N_SKILL + skill."""
    dest = b.beta_wage * np.log(wage) - b.beta_housing * np.log(housing_cost) + services
    pair = -b.beta_distance * np.log1p(geo.distance_km.astype(np.float64) / 100.0)
    pair += b.same_province * (geo.province[:, None] == geo.province[None, :])
    pair += b.home_city * np.eye(geo.n_cities)
    size = np.log(np.maximum(district_pop, 1.0) / 1e6)
    skill = np.arange(N_SKILL, dtype=np.float64)
    v = (pair + dest[None, :])[:, None, :] + b.beta_size_by_skill * skill[None, :, None] * size[None, None, :]
    return v.reshape(geo.n_cities * N_SKILL, geo.n_cities)


def logit_probabilities(v: np.ndarray) -> np.ndarray:
    """Row-wise logit shares exp(v) / sum(exp(v)), computed stably."""
    e = np.exp(v - v.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cumulative(probabilities: np.ndarray) -> np.ndarray:
    """Row-wise cumulative distribution with the last column exactly 1 (for binary-search sampling)."""
    cdf = np.cumsum(probabilities, axis=1)
    cdf /= cdf[:, -1:]
    cdf[:, -1] = 1.0
    return cdf
