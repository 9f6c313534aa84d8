"""CitizenizationModel: the Mesa model that orders the monthly processes and collects results.

Persons live in numba-friendly columns (:class:`sim.population.People`), cities are ``mesa.Agent``s
(:class:`sim.cities.City`). One ``step()`` is one month:

    demography -> labour -> migration and return -> settlement -> services -> in-situ urbanization
    -> city bookkeeping -> data collection

The model works with ``mesa.batch_run`` (``running`` turns False after the scenario's last month)
and its ``DataCollector`` holds the national rates per month; the full per-city tallies are in
``records`` and become a tidy table through :func:`sim.metrics.tidy_series`.
"""

from __future__ import annotations

from pathlib import Path

import mesa
import numpy as np

from sim import choice
from sim.cities import City, CityState
from sim.geography import Geography
from sim.inputs import Demography, load_history
from sim.kernels import demography, labour, migration, n_chunks, services, settlement, tally
from sim.policy import Scenario
from sim.population import follow_heads
from sim.rng import Stream, stream_key
from sim.scenario_io import load_scenario
from sim.synthesis import start_margins, synthesize

FLOWS = ("births", "deaths", "arrivals", "returns", "onward_moves", "interprovincial_arrivals",
         "settlements", "points_settlements", "reclassified", "reclassified_hukou")


class CitizenizationModel(mesa.Model):
    """Migrant workers' settlement in cities under a scenario, stepped month by month.

    Args:
        scenario: a :class:`Scenario`, a path to a scenario YAML file, or None for the defaults.
        scale, seed, months: override the scenario's values when given.
        data_dir: folder with the input CSVs (default: the package's ``sim/data``).
    """

    def __init__(self, scenario: Scenario | str | Path | None = None, *, scale: int | None = None,
                 seed: int | None = None, months: int | None = None, data_dir: Path | None = None) -> None:
        if scenario is None:
            scenario = Scenario(name="default")
        elif not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        updates = {k: v for k, v in (("scale", scale), ("seed", seed), ("months", months)) if v is not None}
        scenario = Scenario.model_validate({**scenario.model_dump(), **updates})
        super().__init__(seed=scenario.seed)
        self.scenario = scenario
        self.scale = scenario.scale
        self.seed_value = scenario.seed
        self.geo = Geography.load(data_dir)
        self.demography = Demography.load(data_dir)
        self._death_prob = self.demography.death_prob
        margins = start_margins(load_history(data_dir), scenario.start_year)
        self.people = synthesize(self.geo, margins, self.scale, scenario.seed, self.demography.age_weights)
        n_cities = self.geo.n_cities
        stocks = self._count_stocks()
        self.city_state = CityState.initial(self.geo, stocks[tally.URBAN], stocks[tally.WORKERS], scenario)
        self.cities = City.create_agents(self, n_cities, index=list(range(n_cities)))
        for city in self.cities:
            city.new_year(int(stocks[tally.URBAN, city.index]))
        self.records: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._record(stocks, np.zeros((len(FLOWS), n_cities), np.int64))
        self.datacollector = mesa.DataCollector(model_reporters={
            "resident_rate": lambda m: m.national("urban_residents") / m.national("residents"),
            "hukou_rate": lambda m: m.national("urban_hukou") / m.national("residents"),
            "migrants": lambda m: m.national("migrants") * m.scale,
            "settlements": lambda m: m.national("settlements") * m.scale,
        })
        self.datacollector.collect(self)

    # -- calendar -------------------------------------------------------------------------------
    @property
    def year(self) -> int:
        """Calendar year of the current month (month 0 is the December before the start)."""
        return self.scenario.start_year + (self.steps - 1) // 12

    @property
    def month_of_year(self) -> int:
        return (self.steps - 1) % 12 + 1

    def _key(self, stream: int) -> np.uint64:
        return stream_key(self.seed_value, self.steps, stream)

    # -- the month ------------------------------------------------------------------------------
    def step(self) -> None:
        p, cols, b = self.people, self.people.columns, self.scenario.behaviour
        n_cities = self.geo.n_cities
        flows = np.zeros((len(FLOWS), n_cities), np.int64)
        if self.month_of_year == 1 and self.steps > 1:
            self._new_year()
        nc = n_chunks(p.n)
        flows[FLOWS.index("deaths")] = demography.deaths(
            self._key(Stream.DEATH), cols["alive"], cols["age"], cols["sex"], cols["city"],
            self._death_prob, p.n, nc, n_cities).sum(axis=0)
        self._births(flows)
        cols = p.columns
        nc = n_chunks(p.n)
        st = self.city_state
        labour.labour_step(self._key(Stream.LABOUR), cols["alive"], cols["age"], cols["urban"],
                           cols["hukou_urban"], cols["city"], cols["employed"], st.find_prob,
                           b.job_separation, p.n, nc, n_cities)
        self._migrate(flows, nc)
        self._settle(flows, nc)
        services.services_step(
            self._key(Stream.PERMIT), cols["alive"], cols["age"], cols["household"], p.head_of,
            cols["hukou_urban"], cols["urban"], cols["city"], cols["employed"], cols["months_in_city"],
            cols["permit"], cols["insured_months"], cols["school"], self.scenario.policy.services.permit_residence_months, b.permit_hazard,
            b.insurance_enrolment, st.public_school_share, p.n, nc)
        rc = settlement.reclassify(
            self._key(Stream.RECLASSIFY), cols["alive"], cols["urban"], cols["hukou_urban"], cols["hukou_city"],
            cols["city"], cols["household"], b.reclassify_rate, b.reclassify_hukou_share, p.n, nc,
            n_cities).sum(axis=0)
        flows[FLOWS.index("reclassified")] = rc[0]
        flows[FLOWS.index("reclassified_hukou")] = rc[1]
        stocks = self._count_stocks()
        for city in self.cities:
            city.update_labour_market(int(stocks[tally.WORKERS, city.index]), self.steps)
        self._record(stocks, flows)
        self.datacollector.collect(self)
        if self.steps >= self.scenario.months:
            self.running = False

    def _new_year(self) -> None:
        cols, p = self.people.columns, self.people
        demography.age_one_year(cols["alive"], cols["age"], p.n)
        p.compact()
        urban = self.records[-1][0][tally.URBAN]
        for city in self.cities:
            city.new_year(int(urban[city.index]))

    def _births(self, flows: np.ndarray) -> None:
        p, demog = self.people, self.demography
        cols = p.columns
        nc = n_chunks(p.n)
        key = self._key(Stream.BIRTH)
        counts = demography.count_births(key, cols["alive"], cols["age"], cols["sex"], demog.birth_prob, p.n, nc)
        total = int(counts.sum())
        if total == 0:
            return
        p.ensure_capacity(p.n + total)
        cols = p.columns
        offsets = p.n + np.concatenate(([0], np.cumsum(counts)[:-1]))
        demography.write_births(
            key, self._key(Stream.NEWBORN_SEX), offsets, cols["alive"], cols["age"], cols["sex"], demog.birth_prob,
            cols["household"], cols["role"], cols["with_head"], cols["origin_city"], cols["hukou_city"],
            cols["hukou_urban"], cols["city"], cols["urban"], cols["land"], p.n, nc)
        new_n = p.n + total
        flows[FLOWS.index("births")] = np.bincount(cols["city"][p.n:new_n], minlength=self.geo.n_cities)
        p.n = new_n

    def _migrate(self, flows: np.ndarray, nc: int) -> None:
        p, cols, b, st = self.people, self.people.columns, self.scenario.behaviour, self.city_state
        v = choice.utilities(self.geo, st.wage, st.housing_cost, st.services, st.district_pop, b)
        cdf = choice.cumulative(choice.logit_probabilities(v))
        moved = migration.migrate(
            self._key(Stream.MIGRATE), cdf, choice.N_SKILL, cols["alive"], cols["age"], cols["role"],
            cols["hukou_urban"], cols["origin_city"], cols["city"], cols["urban"], cols["skill"], cols["employed"],
            cols["months_in_city"], cols["permit"], cols["housing"], cols["insured_months"], self.geo.province,
            b.migrate_hazard, b.return_hazard, b.return_unemployed_factor, b.return_age50_factor, b.onward_hazard,
            b.job_finding, True, p.n, nc, self.geo.n_cities).sum(axis=0)
        for name, k in (("arrivals", migration.ARRIVALS), ("returns", migration.RETURNS),
                        ("onward_moves", migration.ONWARD), ("interprovincial_arrivals", migration.INTERPROVINCIAL)):
            flows[FLOWS.index(name)] = moved[k]
        follow_heads(p.head_of, cols["household"], cols["with_head"], cols["alive"], cols["city"], cols["urban"],
                     cols["months_in_city"], cols["permit"], p.n)

    def _settle(self, flows: np.ndarray, nc: int) -> None:
        p, cols, b, st = self.people, self.people.columns, self.scenario.behaviour, self.city_state
        hk = self.scenario.policy.hukou
        settled = np.zeros(len(p.head_of), np.uint8)
        takeup = b.settle_takeup * (1.0 - b.rural_rights_value)
        settlement.settle_open_relaxed(
            self._key(Stream.SETTLE), cols["alive"], cols["role"], cols["hukou_urban"], cols["hukou_city"],
            cols["urban"], cols["city"], cols["household"], cols["months_in_city"], cols["insured_months"], st.tier,
            takeup, hk.open_residence_months, hk.relaxed_residence_months, hk.relaxed_insured_months, settled,
            p.n, nc)
        if self.month_of_year == 12:
            rows, points = settlement.points_applicants(
                self._key(Stream.SETTLE + 1000), cols["alive"], cols["role"], cols["hukou_urban"], cols["urban"],
                cols["city"], cols["months_in_city"], cols["insured_months"], cols["skill"], st.tier,
                1.0 - (1.0 - takeup) ** 12, hk.points_min_insured_months, p.n, nc)
            order = np.lexsort((rows, -points, cols["city"][rows]))
            sizes = settlement.family_sizes(cols["alive"], cols["with_head"], cols["household"], cols["city"],
                                            p.head_of, p.n, len(p.head_of))
            flows[FLOWS.index("points_settlements")] = settlement.admit_by_points(
                rows, order, cols["city"], cols["household"], sizes, st.quota_left, hk.abolish_annual_quota,
                cols["hukou_urban"], cols["hukou_city"], settled)
        flows[FLOWS.index("settlements")] = settlement.settle_members(
            cols["alive"], cols["role"], cols["with_head"], cols["household"], p.head_of, cols["hukou_urban"],
            cols["hukou_city"], cols["city"], settled, p.n, nc, self.geo.n_cities).sum(axis=0)

    # -- results --------------------------------------------------------------------------------
    def _count_stocks(self) -> np.ndarray:
        p, cols = self.people, self.people.columns
        return tally.count_stocks(cols["alive"], cols["urban"], cols["hukou_urban"], cols["hukou_city"], cols["city"],
                                  cols["employed"], cols["insured_months"], cols["permit"], cols["school"],
                                  self.geo.province, p.n, n_chunks(p.n), self.geo.n_cities)

    def _record(self, stocks: np.ndarray, flows: np.ndarray) -> None:
        self.records.append((stocks, flows, self.city_state.tier.copy()))

    def national(self, name: str) -> int:
        """The latest national total (agents) of a stock or flow named in STOCKS or FLOWS."""
        stocks, flows, _ = self.records[-1]
        if name in tally.STOCKS:
            return int(stocks[tally.STOCKS.index(name)].sum())
        return int(flows[FLOWS.index(name)].sum())
