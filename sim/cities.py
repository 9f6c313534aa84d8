"""City state (arrays the kernels read) and the Mesa agents that own it.

Each prefecture is a ``mesa.Agent`` (:class:`City`) in the model's ``cities`` AgentSet. Its state
lives in :class:`CityState` columns so that kernels can read all cities at once; a City is the
object-oriented face of one column index, and it runs the city's own yearly bookkeeping
(tier from its grown urban-district population, the points quota) and monthly labour market.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from sim.geography import TIER_KEYS, Geography, tier_of
from sim.policy import Scenario


@dataclass
class CityState:
    """Per-city columns (length n_cities)."""

    district_pop0: np.ndarray  # urban-district residents at the start (persons)
    urban_residents0: np.ndarray  # simulated urban residents at the start (agents)
    district_pop: np.ndarray
    tier: np.ndarray  # int8
    base_wage: np.ndarray  # yuan per year, start value
    wage: np.ndarray
    housing_cost: np.ndarray  # yuan per m2
    jobs: np.ndarray  # migrant jobs (agents)
    find_prob: np.ndarray
    public_school_share: np.ndarray
    services: np.ndarray  # utility of public services open to a non-hukou newcomer
    quota_left: np.ndarray  # points quota left this year (agents)

    @classmethod
    def initial(cls, geo: Geography, urban_residents: np.ndarray, migrant_workers: np.ndarray,
                scenario: Scenario) -> CityState:
        hk = scenario.policy.hukou
        size = np.maximum(geo.district_pop_2020, 1e5) / 1e6
        # Assumptions (PROVENANCE.md): wages rise with city size (elasticity 0.05) and housing costs
        # more steeply (0.3), around each province's urban income and housing price.
        base_wage = geo.province_income[geo.province] * size**0.05
        housing = geo.province_housing_price[geo.province] * size**0.3
        n = geo.n_cities
        state = cls(
            district_pop0=geo.district_pop_2020.copy(),
            urban_residents0=np.maximum(urban_residents.astype(np.float64), 1.0),
            district_pop=geo.district_pop_2020.copy(),
            tier=tier_of(geo.district_pop_2020, hk.open_below, hk.points_above),
            base_wage=base_wage,
            wage=base_wage.copy(),
            housing_cost=housing,
            jobs=np.maximum(migrant_workers.astype(np.float64), 1.0),
            find_prob=np.full(n, scenario.behaviour.job_finding),
            public_school_share=np.full(n, 0.85),  # assumption: 2023 survey 90.1%/91.0% primary/junior, less for newcomers
            services=np.zeros(n),
            quota_left=np.zeros(n),
        )
        return state


class City(mesa.Agent):
    """One prefecture-level city: owns column ``index`` of the model's :class:`CityState`."""

    def __init__(self, model: mesa.Model, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def name(self) -> str:
        return self.model.geo.city_name[self.index]

    @property
    def tier(self) -> str:
        return TIER_KEYS[self.model.city_state.tier[self.index]]

    @property
    def district_pop(self) -> float:
        return float(self.model.city_state.district_pop[self.index])

    def new_year(self, urban_residents: int) -> None:
        """Grow the urban district with the city's urban residents, re-tier, and reset the points quota."""
        st, hk, i = self.model.city_state, self.model.scenario.policy.hukou, self.index
        st.district_pop[i] = st.district_pop0[i] * urban_residents / st.urban_residents0[i]
        st.tier[i] = tier_of(st.district_pop[i : i + 1], hk.open_below, hk.points_above)[0]
        st.quota_left[i] = hk.points_quota_per_million * st.district_pop[i] / 1e6 / self.model.scale

    def update_labour_market(self, migrant_workers: int, months_elapsed: int) -> None:
        """Job-finding probability and wage from tightness = migrant jobs / migrant workers."""
        st, b, i = self.model.city_state, self.model.scenario.behaviour, self.index
        jobs = st.jobs[i] * (1 + b.labour_demand_growth) ** (months_elapsed / 12)
        tightness = jobs / max(migrant_workers, 1)
        st.find_prob[i] = b.job_finding * min(1.0, tightness)
        st.wage[i] = st.base_wage[i] * min(1.2, max(0.8, tightness)) ** 0.5
