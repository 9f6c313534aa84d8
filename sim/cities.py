"""City state (arrays the kernels read) and the Mesa agents that own it.

Each prefecture is a ``mesa.Agent`` (:class:`City`) in the model's ``cities`` AgentSet. Its state
lives in :class:`CityState` columns so that kernels can read all cities at once; a City is the
object-oriented face of one column index, and it runs the city's own yearly bookkeeping
(tier from its grown urban-district population, the points quota) and monthly labour market.

The plan's city-level levers live here too (docs/levers.md): public-school seats and affordable
rental places for migrants and how they grow (二.(二).4-5, fiscal rewards and land quotas with a lag,
二.(三).1), rents and urban renewal (五), industrial clusters in the potential regions (三),
commuting and shared services in metropolitan circles (四), and the service index a non-hukou
newcomer weighs (二.(二).2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mesa
import numpy as np

from sim.agent_base import Agent
from sim.geography import TIER_KEYS, Geography, tier_of
from sim.policy import Employment, Policy, Scenario, Services
from sim.rng import Stream, stream_key, uniform

#: City-level stocks recorded with the agent tallies (agents; persons after scaling).
CITY_STOCKS = ("public_school_seats", "preschool_seats", "affordable_places", "urban_village_places")
#: Residence-based service items (二.(二).2) and their weights in the service package (assumption).
SERVICE_ITEMS = ("public_rental", "school", "medical", "employment")
SERVICE_WEIGHTS = np.array([0.3, 0.3, 0.25, 0.15])
SERVICE_HORIZON_YEARS = 3.0  # a newcomer discounts a service it must wait y years for by exp(-y / 3) (assumption)
URBAN_VILLAGE_SHARE_BY_TIER = (0.1, 0.2, 0.3)  # share of migrants renting in urban villages (assumption)
OLD_COMPOUND_SHARE = 0.3  # share of urban housing in pre-2000 compounds awaiting renovation (assumption)
RENEWAL_RENT_EFFECT = 0.1  # relative rent rise per unit of renovated old-compound housing share (assumption)
COMPULSORY_SEAT_SHARE = 10 / 13  # seats from rewards and land split by the age spans 6-15 and 3-5
QUALITY_GAP_RANGE = np.log(10.0)  # a satellite 10x smaller than its core has the full service-quality gap


def service_months(services: Services) -> np.ndarray:
    """Months of residence each service item (SERVICE_ITEMS) requires."""
    years = (services.years_public_rental, services.years_school, services.years_medical, services.years_employment)
    return np.array([12 * y for y in years], np.int64)


def service_value(services: Services) -> float:
    """A newcomer's value of the service package open to non-hukou residents (0..1)."""
    years = np.array([services.years_public_rental, services.years_school, services.years_medical,
                      services.years_employment], np.float64)
    return float(services.coverage * (SERVICE_WEIGHTS * np.exp(-years / SERVICE_HORIZON_YEARS)).sum())


def permit_probability(services: Services, permit_hazard: float) -> float:
    """Monthly permit issue probability: automatic when linked to the ID card, else the take-up
    hazard scaled by the value of what the permit unlocks against the status-quo package."""
    if services.permit_id_linked:
        return 1.0
    return min(1.0, permit_hazard * service_value(services) / service_value(Services()))


def employment_service_multiplier(employment: Employment, effect: float) -> float:
    """Job-finding multiplier of public employment services, relative to the status-quo coverage."""
    default = Employment.model_fields["service_coverage"].default
    return (1.0 + effect * employment.service_coverage) / (1.0 + effect * default)


@dataclass
class CityState:
    """Per-city columns (length n_cities)."""

    district_pop0: np.ndarray  # urban-district residents at the start (persons)
    urban_residents0: np.ndarray  # simulated urban residents at the start (agents)
    district_pop: np.ndarray
    tier: np.ndarray  # int8
    base_wage: np.ndarray  # yuan per year at month 0, before wage growth (rebased when a run branches)
    wage: np.ndarray
    housing_cost: np.ndarray  # yuan per m2
    jobs: np.ndarray  # migrant jobs at month 0, before job growth (agents; rebased when a run branches)
    find_prob: np.ndarray
    services: np.ndarray  # utility of public services open to a non-hukou newcomer
    quota_left: np.ndarray  # points quota left this year (agents)
    # -- plan levers (set by init_levers) ------------------------------------------------------
    seats: np.ndarray | None = None  # (2, n) public seats open to migrant children: compulsory, preschool
    seat_chance: np.ndarray | None = None  # chance of a public seat for a migrant child (last month)
    school_value: np.ndarray | None = None  # utility of that chance for families with school-age children
    affordable_places: np.ndarray | None = None  # affordable rental places open to migrants (agents)
    affordable_chance: np.ndarray | None = None
    urban_village_places: np.ndarray | None = None  # migrants' rental places in urban villages (agents)
    urban_village_places0: np.ndarray | None = None
    rent_index: np.ndarray | None = None  # market rent relative to the start
    old_renovated: np.ndarray | None = None  # share of old compounds renovated since the start
    amenity: np.ndarray | None = None  # renovation amenity (enters retention and choice)
    job_growth: np.ndarray | None = None  # annual growth of migrant jobs (behaviour + industrial clusters)
    wage_growth: np.ndarray | None = None
    reclassify_rate: np.ndarray | None = None  # monthly in-situ reclassification probability
    train_prob: np.ndarray | None = None  # monthly skills-training probability per working-age migrant
    core_of: np.ndarray | None = None  # metro core of a satellite city, -1 elsewhere
    quality_gap: np.ndarray | None = None  # a satellite's service-quality gap to its core (0..1)
    settled_this_year: np.ndarray | None = None  # agents settled since January (for fiscal rewards)
    urban_last_year: np.ndarray | None = None  # urban residents last January (for land quotas)
    pipeline: list = None  # (due step, seats (2, n), places (n)) capacity being built
    behaviour: object = None  # the scenario's Behaviour (effect sizes)

    def init_levers(self, geo: Geography, scenario: Scenario, migrants: np.ndarray, children: np.ndarray,
                    urban_residents: np.ndarray) -> None:
        """Start values of the lever state from the initial tallies.

        ``migrants`` per city; ``children`` (2, n) accompanying migrant children aged 6-15 and 3-5.
        """
        pol = scenario.policy
        ch, n = pol.children, geo.n_cities
        self.set_rates(geo, scenario)
        self.seats = np.vstack([ch.compulsory_seats_per_child * children[0],
                                ch.preschool_seats_per_child * children[1]]).astype(np.float64)
        self.seat_chance = np.ones(n)
        self.school_value = np.zeros(n)
        self.affordable_places = pol.housing.affordable_places_per_100_migrants / 100 * migrants.astype(np.float64)
        self.affordable_chance = np.zeros(n)
        uv_share = np.asarray(URBAN_VILLAGE_SHARE_BY_TIER)[self.tier]
        self.urban_village_places0 = uv_share * migrants.astype(np.float64)
        self.urban_village_places = self.urban_village_places0.copy()
        self.rent_index = np.ones(n)
        self.old_renovated = np.zeros(n)
        self.amenity = np.zeros(n)
        self.core_of = np.full(n, -1, np.int64)
        self.quality_gap = np.zeros(n)
        for k in range(len(geo.metro_names)):
            members = np.flatnonzero(geo.metro_circle == k)
            cores = members[geo.metro_core[members]]
            if len(cores) == 0:
                continue
            core = cores[0]
            for c in members[~geo.metro_core[members]]:
                self.core_of[c] = core
                gap = np.log(max(self.district_pop0[core], 1.0) / max(self.district_pop0[c], 1.0))
                self.quality_gap[c] = float(np.clip(gap / QUALITY_GAP_RANGE, 0.0, 1.0))
        self.settled_this_year = np.zeros(n)
        self.urban_last_year = urban_residents.astype(np.float64).copy()
        self.pipeline = []

    def set_rates(self, geo: Geography, scenario: Scenario) -> None:
        """The lever state's rates (not its stocks) from ``scenario``: job and wage growth, reclassification,
        training and the behaviour's effect sizes; at the start, and again when a run branches."""
        pol, b = scenario.policy, scenario.behaviour
        self.behaviour = b
        region = geo.potential_region >= 0
        pr = pol.potential_regions
        self.job_growth = np.where(region, b.labour_demand_growth + pr.cluster_job_growth, b.labour_demand_growth)
        self.wage_growth = np.where(region, pr.cluster_wage_growth, 0.0)
        self.reclassify_rate = np.where(region, b.reclassify_rate * pr.in_situ_multiplier, b.reclassify_rate)
        self.reclassify_rate = np.minimum(self.reclassify_rate, 1.0)
        base_train = pol.employment.training_places_per_1000 / 1000 / 12
        self.train_prob = np.minimum(1.0, np.where(region, base_train * pr.training_multiplier, base_train))

    def branch(self, geo: Geography, scenario: Scenario, months_elapsed: int) -> None:
        """Take ``scenario``'s rates after ``months_elapsed`` months: jobs and wages go on from where they
        are at the new growth rates (their start values are rebased, as both compound from the start), and
        the tiers follow the new thresholds now rather than in January."""
        old_jobs, old_wages = self.job_growth, self.wage_growth
        self.set_rates(geo, scenario)
        self.jobs = self.jobs * ((1 + old_jobs) / (1 + self.job_growth)) ** (months_elapsed / 12)
        self.base_wage = self.base_wage * ((1 + old_wages) / (1 + self.wage_growth)) ** (months_elapsed / 12)
        hk = scenario.policy.hukou
        self.tier = tier_of(self.district_pop, hk.open_below, hk.points_above)

    def new_year_levers(self, policy: Policy, step: int, urban_residents: np.ndarray, migrants: np.ndarray,
                        child_demand: np.ndarray) -> np.ndarray:
        """January: seat and affordable-housing growth, fiscal rewards and land quotas (into the
        capacity pipeline). Returns the rewards paid per city (agents x yuan; x scale = yuan)."""
        ch, inc = policy.children, policy.incentives
        self.seats[0] *= 1.0 + ch.compulsory_seat_growth
        self.seats[1] *= 1.0 + ch.preschool_seat_growth
        if ch.seats_follow_population:
            self.seats += 0.5 * np.maximum(0.0, child_demand - self.seats)
        self.affordable_places += policy.housing.affordable_growth_per_100_migrants / 100 * migrants
        rewards = np.rint(self.settled_this_year * inc.reward_per_settled_yuan)
        capacity = rewards * inc.reward_share_capacity
        seats = 0.5 * capacity / inc.seat_cost_yuan
        places = 0.5 * capacity / inc.place_cost_yuan
        if inc.land_quota_follows_population:
            grown = np.maximum(0.0, urban_residents - self.urban_last_year)
            seats = seats + inc.land_seats_per_100 / 100 * grown
            places = places + inc.land_places_per_100 / 100 * grown
        split = np.vstack([COMPULSORY_SEAT_SHARE * seats, (1 - COMPULSORY_SEAT_SHARE) * seats])
        self.pipeline.append((step + inc.capacity_lag_months, split, places))
        self.settled_this_year[:] = 0.0
        self.urban_last_year = urban_residents.astype(np.float64).copy()
        return rewards

    def deliver_capacity(self, step: int) -> None:
        """Seats and places whose construction lag has passed open this month."""
        due = [item for item in self.pipeline if item[0] <= step]
        self.pipeline = [item for item in self.pipeline if item[0] > step]
        for _, seats, places in due:
            self.seats += seats
            self.affordable_places += places

    def renew(self, policy: Policy, migrants: np.ndarray) -> None:
        """One month of urban renewal (五.(二).1-2) and rental-market supply (二.(二).5)."""
        ur = policy.urban_renewal
        step_old = np.minimum(ur.old_compound_renovation / 12, 1.0 - self.old_renovated)
        self.old_renovated += step_old
        removed = np.minimum(ur.urban_village_renovation / 12 * self.urban_village_places0, self.urban_village_places)
        self.urban_village_places -= removed
        self.affordable_places += ur.urban_village_affordable_share * removed
        b = self.behaviour
        self.rent_index *= (1.0 + b.urban_village_rent_elasticity * removed / np.maximum(migrants, 1.0)
                            + RENEWAL_RENT_EFFECT * OLD_COMPOUND_SHARE * step_old)
        self.rent_index *= 1.0 - policy.housing.rental_market_growth / 12
        uv_done = 1.0 - self.urban_village_places / np.maximum(self.urban_village_places0, 1e-9)
        uv_share = self.urban_village_places0 / np.maximum(migrants, 1.0)
        self.amenity = OLD_COMPOUND_SHARE * self.old_renovated + np.minimum(uv_share, 1.0) * uv_done

    def apply_metro(self, commuting: float) -> None:
        """Satellites reach part of their core's wage and job finding by commuting (四.(二).1)."""
        sat = np.flatnonzero(self.core_of >= 0)
        core = self.core_of[sat]
        self.wage[sat] = (1 - commuting) * self.wage[sat] + commuting * self.wage[core]
        self.find_prob[sat] = (1 - commuting) * self.find_prob[sat] + commuting * self.find_prob[core]

    def update_access(self, policy: Policy, used: np.ndarray, demand: np.ndarray, migrants: np.ndarray) -> None:
        """Newcomers' chances of a public seat and of an affordable place, and the service utility."""
        b, sv = self.behaviour, policy.services
        seats, need = self.seats.sum(axis=0), demand.sum(axis=0)
        self.seat_chance = np.where(need > 0, np.minimum(1.0, seats / np.maximum(need, 1)),
                                    np.minimum(1.0, seats)) * policy.children.admission_share
        self.school_value = b.beta_school * np.exp(-sv.years_school / SERVICE_HORIZON_YEARS) * self.seat_chance
        months = policy.housing.eligibility_residence_months
        self.affordable_chance = (np.minimum(1.0, self.affordable_places / np.maximum(migrants, 1.0))
                                  * np.exp(-months / 12 / SERVICE_HORIZON_YEARS))
        self.services = b.beta_services * (service_value(sv)
                                           + policy.metro_circles.shared_services * self.quality_gap
                                           + self.amenity)

    def expected_rent(self) -> np.ndarray:
        """Rent a newcomer expects: market rent index less the affordable discount times its chance."""
        return self.housing_cost * self.rent_index * (1.0 - self.behaviour.affordable_rent_discount
                                                      * self.affordable_chance)

    def city_stocks(self) -> np.ndarray:
        """Rows of CITY_STOCKS (agents) for the records."""
        return np.vstack([self.seats[0], self.seats[1], self.affordable_places, self.urban_village_places])

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
            services=np.zeros(n),
            quota_left=np.zeros(n),
        )
        return state


class City(Agent):
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
        quota = hk.points_quota_per_million * st.district_pop[i] / 1e6 / self.model.scale  # agents
        # Rounded to whole agents at random (up with the fractional part's probability), so that a quota of
        # a fraction of a family still admits families at a coarse scale, on average the right number.
        key = stream_key(self.model.seed_value, self.model.steps, Stream.QUOTA)
        st.quota_left[i] = math.floor(quota) + (uniform(key, i, 0) < quota - math.floor(quota))

    def update_labour_market(self, migrant_workers: int, months_elapsed: int) -> None:
        """Job-finding probability and wage from tightness = migrant jobs / migrant workers."""
        st, b, i = self.model.city_state, self.model.scenario.behaviour, self.index
        growth = st.job_growth[i] if st.job_growth is not None else b.labour_demand_growth
        jobs = st.jobs[i] * (1 + growth) ** (months_elapsed / 12)
        tightness = jobs / max(migrant_workers, 1)
        services = employment_service_multiplier(self.model.scenario.policy.employment, b.employment_service_effect)
        st.find_prob[i] = min(1.0, b.job_finding * min(1.0, tightness) * services)
        wage_growth = (1 + st.wage_growth[i]) ** (months_elapsed / 12) if st.wage_growth is not None else 1.0
        st.wage[i] = st.base_wage[i] * wage_growth * min(1.2, max(0.8, tightness)) ** 0.5
