"""CitizenizationModel: the Mesa model that orders the monthly processes and collects results.

Persons live in numba-friendly columns (:class:`sim.population.People`), cities are ``mesa.Agent``s
(:class:`sim.cities.City`). One ``step()`` is one month:

    (January: ageing, compaction, city tiers and quotas, seat and housing growth, fiscal rewards and
    land quotas into the capacity pipeline) -> capacity whose lag has passed opens -> demography ->
    labour (job finding, skills training) -> migration and return -> settlement -> services (permits,
    insurance) -> school seats (bring / leave behind children) -> affordable rental housing ->
    in-situ urbanization -> city bookkeeping (labour markets, metro commuting, urban renewal, rents,
    newcomers' access to seats, housing and services) -> data collection

The plan's levers (sim.policy.Policy, one sub-model per clause) act in these steps; docs/levers.md
maps each lever to its mechanism.

The model works with ``mesa.batch_run`` (``running`` turns False after the scenario's last month)
and its ``DataCollector`` holds the national rates per month; the full per-city tallies are in
``records`` and become a tidy table through :func:`sim.metrics.tidy_series`.
"""

from __future__ import annotations

from pathlib import Path

import mesa
import numpy as np

from sim import choice
from sim.cities import CITY_STOCKS, SERVICE_WEIGHTS, City, CityState, permit_probability, service_months
from sim.geography import Geography
from sim.inputs import Demography, load_history
from sim.kernels import demography, housing, migration, n_chunks, passes, quiet, select, services, settlement, tally
from sim.memory import keep_freed_memory, release_freed_memory
from sim.policy import Insurance, Scenario
from sim.rng import Stream, stream_key
from sim.scenario_io import load_scenario
from sim.synthesis import start_margins, synthesize

FLOWS = ("births", "deaths", "arrivals", "returns", "onward_moves", "interprovincial_arrivals",
         "settlements", "points_settlements", "reclassified", "reclassified_hukou",
         "trained", "children_brought", "children_sent_back", "family_joiners", "affordable_allocations",
         "fiscal_rewards", "potential_region_arrivals", "potential_region_reclassified",
         "metro_internal_arrivals", "metro_satellite_arrivals", "injury_returns", "home_leavers")


def movers(stocks: np.ndarray) -> np.ndarray:
    """Migrants per city who live away from their home: the renters the city's housing and service levers
    provide for (the ``migrants`` stock less the in-situ townspeople and reclassified villagers)."""
    return stocks[tally.MIGRANTS] - stocks[tally.IN_SITU]


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
        keep_freed_memory()  # the month's scratch arrays reuse last month's memory (sim.memory)
        self.scenario = scenario
        self.scale = scenario.scale
        self.seed_value = scenario.seed
        self.data_dir = data_dir
        self.geo = Geography.load(data_dir)
        self.demography = Demography.load(data_dir, scenario.demography)
        self._death_prob = self.demography.death_prob
        margins = start_margins(load_history(data_dir), scenario.start_year)
        self.people = synthesize(self.geo, margins, self.scale, scenario.seed, self.demography.age_weights)
        n_cities = self.geo.n_cities
        stocks = self._count_stocks()
        self.city_state = CityState.initial(self.geo, stocks[tally.URBAN], stocks[tally.WORKERS], scenario)
        child_demand = self._accompanying_children()
        self.city_state.init_levers(self.geo, scenario, movers(stocks), child_demand, stocks[tally.URBAN])
        self._seat_used, self._seat_demand = np.zeros_like(child_demand), child_demand
        self._schools(None)  # initial placement of accompanying children in the seats at the start
        stocks = self._count_stocks()
        self.city_state.update_access(scenario.policy, self._seat_used, self._seat_demand,
                                      movers(stocks).astype(np.float64))
        self.cities = City.create_agents(self, n_cities, index=list(range(n_cities)))
        for city in self.cities:
            city.new_year(int(stocks[tally.URBAN, city.index]))
        self._find_quiet_tiles()
        self.records: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._record(stocks, np.zeros((len(FLOWS), n_cities), np.int64))
        # Attribute names, not lambdas, so that a model (checkpoint) can be pickled.
        self.datacollector = mesa.DataCollector(model_reporters={
            name: name for name in ("resident_rate", "hukou_rate", "migrants", "settlements")})
        self.datacollector.collect(self)

    def branch(self, scenario: Scenario) -> None:
        """Go on from this state under ``scenario``'s levers, behaviour and months: a counterfactual branched
        from a common state (the plan adopted a year late; scenarios compared from a calibrated checkpoint).

        The population stays this model's: its scale and seed are kept (the same seed gives common random
        numbers with the run it branches from), and the start year must be the same. New rates act from the
        next month; stocks (school seats, affordable places, capacity being built) and this year's points
        quotas carry over, and quotas follow the new rules from January. Branching into the scenario the model
        already has changes nothing. Raises ValueError (naming the key) for a scenario that cannot continue it.
        """
        if scenario.start_year != self.scenario.start_year:
            raise ValueError(f"key 'start_year': a branch continues a run that started in "
                             f"{self.scenario.start_year}, got {scenario.start_year}")
        if scenario.months <= self.steps:
            raise ValueError(f"key 'months': a branch from month {self.steps} needs more months "
                             f"(allowed: {self.steps + 1} to 240), got {scenario.months}")
        scenario = scenario.model_copy(update={"scale": self.scale, "seed": self.seed_value})
        if scenario.demography != self.scenario.demography:
            self.demography = Demography.load(self.data_dir, scenario.demography)
            self._death_prob = self.demography.death_prob
        self.city_state.branch(self.geo, scenario, self.steps)
        self.scenario = scenario
        self.running = True

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
        pol = self.scenario.policy
        n_cities = self.geo.n_cities
        flows = np.zeros((len(FLOWS), n_cities), np.int64)
        st = self.city_state
        headed = self._new_year(flows) if self.month_of_year == 1 and self.steps > 1 else None
        st.deliver_capacity(self.steps)
        family = np.zeros(len(p.head_of), np.uint8)  # households with a child of school age (choice type)
        flows[FLOWS.index("deaths")], mothers = demography.deaths_mothers_and_families(
            self._quiet, self._key(Stream.DEATH), self._key(Stream.BIRTH), cols["alive"], cols["age"], cols["sex"],
            cols["city"], cols["role"], cols["household"], self._death_prob, self.demography.birth_prob,
            services.SCHOOL_AGE_MIN, services.SCHOOL_AGE_MAX, family, p.n, n_chunks(p.n), n_cities)
        promoted = p.promote_heads(family, services.SCHOOL_AGE_MIN, services.SCHOOL_AGE_MAX)
        if headed is not None:  # households headed anew at the compaction: their members follow, too
            promoted |= headed
        first_newborn = p.n
        self._births(flows, mothers)
        cols = p.columns
        nc = n_chunks(p.n)
        settled = np.zeros(len(p.head_of), np.uint8)
        changed = self._work_move_and_settle(flows, family, settled, nc)
        self._settle(flows, nc, self._follow(changed, promoted, first_newborn, settled))
        sv = pol.services
        enrol = b.insurance_enrolment * (b.insurance_limit_uplift if pol.insurance.hukou_limit_removed else 1.0)
        school_rows, household_rows = passes.services_and_candidates(
            self._quiet, self._key(Stream.PERMIT), cols["alive"], cols["age"], cols["role"], cols["household"],
            p.head_of, cols["hukou_urban"], cols["urban"], cols["city"], cols["with_head"], cols["employed"],
            cols["months_in_city"], cols["permit"], cols["insured_months"], cols["school"], cols["housing"],
            sv.permit_residence_months, permit_probability(sv, b.permit_hazard), min(1.0, enrol), p.n, nc)
        self._schools(flows, school_rows)
        self._housing(flows, household_rows)
        rc, stocks = passes.reclassify_and_count(
            self._quiet, self._key(Stream.RECLASSIFY), cols["alive"], cols["household"], cols["hukou_urban"],
            cols["hukou_city"], cols["city"], cols["urban"], cols["employed"], cols["insured_months"], cols["permit"],
            cols["school"], cols["housing"], cols["age"], cols["skill"], self.geo.province, st.reclassify_rate,
            b.reclassify_hukou_share, p.n, nc, n_cities)
        flows[FLOWS.index("reclassified")] = rc[0]
        flows[FLOWS.index("reclassified_hukou")] = rc[1]
        flows[FLOWS.index("potential_region_reclassified")] = rc[0] * (self.geo.potential_region >= 0)
        for city in self.cities:
            city.update_labour_market(int(stocks[tally.WORKERS, city.index]), self.steps)
        migrants = movers(stocks).astype(np.float64)
        st.apply_metro(pol.metro_circles.commuting_share)
        st.renew(pol, migrants)
        st.update_access(pol, self._seat_used, self._seat_demand, migrants)
        st.settled_this_year += flows[FLOWS.index("settlements")]
        self._record(stocks, flows)
        self.datacollector.collect(self)
        if self.steps >= self.scenario.months:
            self.running = False

    def _find_quiet_tiles(self) -> None:
        """The rows that the middle passes may skip until the next compaction (:mod:`sim.kernels.quiet`)."""
        p, cols = self.people, self.people.columns
        self._quiet = quiet.quiet_tiles(cols["alive"], cols["age"], cols["role"], cols["household"], p.head_of,
                                        cols["hukou_urban"], cols["urban"], cols["city"], cols["with_head"],
                                        cols["school"], cols["housing"], p.n)

    def _new_year(self, flows: np.ndarray) -> np.ndarray:
        """Ageing, compaction and the cities' new year. Returns the flags of the households the compaction
        gave a head (:meth:`sim.population.People.compact`)."""
        cols, p = self.people.columns, self.people
        demography.age_one_year(cols["alive"], cols["age"], p.n)
        release_freed_memory()  # the compaction's arrays make the year's peak: start it from the live memory
        headed = p.compact()
        self._find_quiet_tiles()  # the rows moved
        last = self.records[-1][0]
        urban = last[tally.URBAN]
        for city in self.cities:
            city.new_year(int(urban[city.index]))
        flows[FLOWS.index("fiscal_rewards")] = self.city_state.new_year_levers(
            self.scenario.policy, self.steps, urban.astype(np.float64), movers(last).astype(np.float64),
            self._seat_demand.astype(np.float64))
        return headed

    def _accompanying_children(self) -> np.ndarray:
        """Migrant children living with their head by seat level (compulsory 6-15, preschool 3-5) per city."""
        v = self.people.view()
        base = (v["alive"] == 1) & (v["urban"] == 1) & (v["hukou_urban"] == 0) & (v["with_head"] == 1)
        out = np.zeros((2, self.geo.n_cities), np.int64)
        for level, (lo, hi) in enumerate(((services.COMPULSORY_AGE_MIN, services.SCHOOL_AGE_MAX),
                                          (services.SCHOOL_AGE_MIN, services.COMPULSORY_AGE_MIN - 1))):
            sel = base & (v["age"] >= lo) & (v["age"] <= hi) & (v["role"] == 2)
            out[level] = np.bincount(v["city"][sel], minlength=self.geo.n_cities)
        return out

    def _schools(self, flows: np.ndarray | None, rows: np.ndarray | None = None) -> None:
        """Seat allocation for migrant children over the candidate ``rows``; ``flows=None`` is the initial
        placement (month 0, candidates found here)."""
        p, cols, b, st = self.people, self.people.columns, self.scenario.behaviour, self.city_state
        pol = self.scenario.policy
        start = flows is None
        renter = 1.0 if pol.housing.renters_equal_services else b.renter_admission_factor
        if rows is None:
            rows = select.school_candidates(cols["alive"], cols["age"], cols["school"], services.SCHOOL_AGE_MIN,
                                            services.SCHOOL_AGE_MAX, services.SCHOOL_PUBLIC,
                                            services.SCHOOL_PRIVATE, p.n)
        moved, self._seat_used, self._seat_demand = services.allocate_school_seats(
            self._key(Stream.SCHOOL), rows, cols["alive"], cols["age"], cols["role"], cols["household"], p.head_of,
            cols["hukou_urban"], cols["urban"], cols["city"], cols["origin_city"], cols["with_head"],
            cols["months_in_city"], cols["permit"], cols["housing"], cols["school"], st.seats, st.seat_chance,
            0.0 if start else b.bring_children_hazard, pol.children.admission_share, renter,
            0 if start else 12 * pol.services.years_school, 0.0 if start else b.leave_behind_if_no_seat,
            self.month_of_year == 9, not start, self.geo.n_cities)
        if not start:
            flows[FLOWS.index("children_brought")] = moved[0]
            flows[FLOWS.index("children_sent_back")] = moved[1]

    def _housing(self, flows: np.ndarray, rows: np.ndarray) -> None:
        """Affordable rental places for the households of the candidate ``rows`` (whose members then
        share their head's housing)."""
        p, cols, b, st = self.people, self.people.columns, self.scenario.behaviour, self.city_state
        hs = self.scenario.policy.housing
        _, allocated = housing.allocate_affordable(
            self._key(Stream.HOUSING), rows, cols["alive"], cols["household"], cols["role"], p.head_of,
            cols["hukou_urban"], cols["urban"], cols["city"], cols["with_head"], cols["months_in_city"],
            cols["insured_months"], cols["housing"], st.affordable_places, hs.eligibility_residence_months,
            hs.eligibility_insured_months, b.affordable_apply, b.affordable_turnover, p.split_base, p.block_rows, p.n,
            self.geo.n_cities)
        flows[FLOWS.index("affordable_allocations")] = allocated

    def _births(self, flows: np.ndarray, mothers: np.ndarray) -> None:
        """Write one newborn per mother (ascending rows) into new rows."""
        p = self.people
        if len(mothers) == 0:
            return
        p.ensure_capacity(p.n + len(mothers))
        cols = p.columns
        demography.write_births(
            self._key(Stream.NEWBORN_SEX), mothers, p.n, cols["alive"], cols["age"], cols["sex"], cols["household"],
            cols["role"], cols["with_head"], cols["origin_city"], cols["hukou_city"], cols["hukou_urban"],
            cols["city"], cols["urban"], cols["land"])
        new_n = p.n + len(mothers)
        flows[FLOWS.index("births")] = np.bincount(cols["city"][p.n:new_n], minlength=self.geo.n_cities)
        p.n = new_n

    def _work_move_and_settle(self, flows: np.ndarray, family: np.ndarray, settled: np.ndarray, nc: int) -> np.ndarray:
        """Labour market, moves (leaving home, returns, onward moves), then heads in open and relaxed cities
        settle (flagged in ``settled``). Returns the rows whose place, housing or role changed."""
        p, cols, b, st = self.people, self.people.columns, self.scenario.behaviour, self.city_state
        pol, geo = self.scenario.policy, self.geo
        ins = pol.insurance
        medical = b.medical_cross_province * (ins.direct_settlement_coverage
                                              - Insurance.model_fields["direct_settlement_coverage"].default)
        v = choice.utilities(geo, st.wage, st.expected_rent(), st.services, st.district_pop, b,
                             school=st.school_value, medical_bonus=medical)
        cdf = choice.cumulative(choice.logit_probabilities(v))
        prm = np.zeros(migration.N_PARAMS)
        prm[migration.P_MIGRATE] = b.migrate_hazard
        prm[migration.P_RETURN] = b.return_hazard
        prm[migration.P_RETURN_UNEMPLOYED] = b.return_unemployed_factor
        prm[migration.P_RETURN_AGE50] = b.return_age50_factor
        prm[migration.P_ONWARD] = b.onward_hazard
        prm[migration.P_SKILL_FIND] = b.skill_job_finding
        prm[migration.P_PORTABILITY] = ins.portability
        prm[migration.P_COVERAGE] = pol.services.coverage
        prm[migration.P_SERVICES_RETENTION] = b.services_retention
        prm[migration.P_SKILL_RETURN] = b.beta_wage * b.skill_wage_premium
        prm[migration.P_AFFORDABLE_RETURN] = b.affordable_return_factor
        prm[migration.P_RENEWAL_RETENTION] = b.renewal_retention
        prm[migration.P_GIG_SHARE] = b.gig_share
        prm[migration.P_GIG_COVER] = ins.gig_injury_cover
        prm[migration.P_GIG_INJURY] = b.gig_injury_return
        prm[migration.P_LEAVE_HOME] = b.leave_home_hazard
        prm[migration.P_LEAVE_PEAK_AGE] = b.leave_home_peak_age
        prm[migration.P_LEAVE_AGE_DECAY] = b.leave_home_age_decay
        shock = self.scenario.mobility_factor(self.year)
        for k in (migration.P_MIGRATE, migration.P_LEAVE_HOME, migration.P_ONWARD):
            prm[k] *= shock
        lab, moved, changed = passes.work_move_and_settle(
            self._key(Stream.LABOUR), self._key(Stream.MIGRATE),
            stream_key(self.seed_value, 0, Stream.GIG), self._key(Stream.SETTLE), cols["alive"], cols["age"],
            cols["role"], cols["hukou_urban"], cols["hukou_city"], cols["household"], p.head_of, cols["origin_city"],
            cols["city"], cols["urban"], cols["skill"], cols["employed"], cols["months_in_city"], cols["permit"],
            cols["housing"], cols["insured_months"], st.find_prob, b.job_separation, b.skill_job_finding,
            st.train_prob, cdf, choice.N_SKILL, choice.N_FAMILY, family, geo.province, geo.metro_circle, st.amenity,
            service_months(pol.services), SERVICE_WEIGHTS, prm, *self._settle_args(), settled, p.n, nc,
            geo.n_cities)
        flows[FLOWS.index("trained")] = lab[1]
        for name, k in (("arrivals", migration.ARRIVALS), ("returns", migration.RETURNS),
                        ("onward_moves", migration.ONWARD), ("interprovincial_arrivals", migration.INTERPROVINCIAL),
                        ("metro_internal_arrivals", migration.METRO_INTERNAL),
                        ("injury_returns", migration.INJURY_RETURNS), ("home_leavers", migration.LEFT_HOME)):
            flows[FLOWS.index(name)] = moved[k]
        into = moved[migration.ARRIVALS] + moved[migration.ONWARD]
        flows[FLOWS.index("potential_region_arrivals")] = into * (geo.potential_region >= 0)
        flows[FLOWS.index("metro_satellite_arrivals")] = into * (st.core_of >= 0)
        return changed

    def _settle_takeups(self) -> tuple[float, float]:
        """Monthly settlement take-up of landholding and landless heads: 二.(三).2, landholders weigh the risk
        to their rural rights unless the guarantee is trusted."""
        b, pol = self.scenario.behaviour, self.scenario.policy
        deterrence = b.rural_rights_value * ((1.0 - b.rights_guarantee_trust) if pol.rural_rights.rights_protected
                                             else 1.0)
        return b.settle_takeup * (1.0 - deterrence), b.settle_takeup

    def _settle_args(self) -> tuple:
        """The settlement rule's arguments after the row's own columns (open and relaxed cities)."""
        hk = self.scenario.policy.hukou
        return (self.people.columns["land"], self.city_state.tier, *self._settle_takeups(), hk.habitual_residence,
                hk.open_residence_months, hk.relaxed_residence_months, hk.relaxed_insured_months)

    def _follow(self, changed: np.ndarray, promoted: np.ndarray, first_newborn: int,
                settled: np.ndarray) -> np.ndarray:
        """Members follow their head, and this month's leavers get households of their own (then settle in
        open and relaxed cities like the heads). Returns the settled-household flags."""
        p, cols = self.people, self.people.columns
        leavers = passes.follow_and_find_leavers(
            changed, promoted, first_newborn, p.head_of, cols["household"], cols["with_head"],
            cols["alive"], cols["role"], cols["city"], cols["urban"], cols["months_in_city"], cols["permit"],
            cols["housing"], p.split_base, p.block_rows, p.n)
        p.split_leavers(leavers)
        settled = np.concatenate((settled, np.zeros(len(leavers), np.uint8)))
        settlement.settle_open_relaxed_rows(
            self._key(Stream.SETTLE), leavers, cols["alive"], cols["role"], cols["hukou_urban"], cols["hukou_city"],
            cols["urban"], cols["city"], cols["household"], p.head_of, cols["months_in_city"], cols["insured_months"],
            cols["permit"], *self._settle_args(), settled)
        return settled

    def _settle(self, flows: np.ndarray, nc: int, settled: np.ndarray) -> None:
        """December's points round, then the members of every household settled this month."""
        p, cols, st = self.people, self.people.columns, self.city_state
        hk = self.scenario.policy.hukou
        takeup_land, takeup_noland = self._settle_takeups()
        if self.month_of_year == 12:
            rows, points = settlement.points_applicants(
                self._quiet, self._key(Stream.SETTLE + 1000), cols["alive"], cols["role"], cols["hukou_urban"],
                cols["urban"], cols["city"], cols["months_in_city"], cols["insured_months"], cols["skill"],
                cols["permit"], cols["land"], st.tier, 1.0 - (1.0 - takeup_land) ** 12,
                1.0 - (1.0 - takeup_noland) ** 12, hk.points_min_insured_months, p.n, nc)
            order = np.lexsort((rows, -points, cols["city"][rows]))
            sizes = settlement.family_sizes(self._key(Stream.FAMILY), rows, cols["alive"], cols["with_head"],
                                            cols["household"], cols["city"], cols["urban"], cols["role"], cols["age"],
                                            cols["hukou_urban"], p.head_of, hk.whole_family, hk.member_settle_share,
                                            p.split_base, p.block_rows, p.n)
            settlement.admit_by_points(rows, order, cols["city"], cols["household"], sizes, st.quota_left,
                                       hk.abolish_annual_quota, cols["hukou_urban"], cols["hukou_city"], settled)
        moved = settlement.settle_members(
            self._key(Stream.FAMILY), cols["alive"], cols["role"], cols["age"], cols["with_head"], cols["household"],
            p.head_of, cols["hukou_urban"], cols["hukou_city"], cols["city"], cols["urban"], cols["months_in_city"],
            cols["permit"], cols["housing"], settled, hk.whole_family, hk.member_settle_share, p.split_base,
            p.block_rows, p.n, self.geo.n_cities)
        flows[FLOWS.index("settlements")] = moved[0]
        flows[FLOWS.index("points_settlements")] = moved[1]
        flows[FLOWS.index("family_joiners")] = moved[2]

    # -- results --------------------------------------------------------------------------------
    def _count_stocks(self) -> np.ndarray:
        """Stocks per city now (the month's last pass, with no area reclassified and no tile taken as quiet:
        this runs before the quiet tiles are found)."""
        p, cols = self.people, self.people.columns
        no_reclassification = np.zeros(self.geo.n_cities)
        _, stocks = passes.reclassify_and_count(
            quiet.no_quiet_tiles(), self._key(Stream.RECLASSIFY), cols["alive"], cols["household"],
            cols["hukou_urban"], cols["hukou_city"], cols["city"], cols["urban"], cols["employed"],
            cols["insured_months"], cols["permit"], cols["school"], cols["housing"], cols["age"], cols["skill"],
            self.geo.province, no_reclassification, 0.0, p.n,
            n_chunks(p.n), self.geo.n_cities)
        return stocks

    def _record(self, stocks: np.ndarray, flows: np.ndarray) -> None:
        """Agent stocks (tally.STOCKS) followed by the city stocks (cities.CITY_STOCKS), flows, tiers."""
        both = np.vstack([stocks.astype(np.float64), self.city_state.city_stocks()])
        self.records.append((both, flows, self.city_state.tier.copy()))

    @property
    def resident_rate(self) -> float:
        """National share of residents living in towns and cities (latest month)."""
        return self.national("urban_residents") / self.national("residents")

    @property
    def hukou_rate(self) -> float:
        """National share of residents holding an urban hukou (latest month)."""
        return self.national("urban_hukou") / self.national("residents")

    @property
    def migrants(self) -> int:
        """Persons living in towns and cities without an urban hukou (latest month): migrants proper and
        the in-situ townspeople and reclassified villagers living in their own home (``in_situ_residents``)."""
        return self.national("migrants") * self.scale

    @property
    def settlements(self) -> int:
        """Persons who settled (transferred their hukou) in the latest month."""
        return self.national("settlements") * self.scale

    def national(self, name: str) -> int:
        """The latest national total (agents) of a stock or flow named in STOCKS or FLOWS."""
        stocks, flows, _ = self.records[-1]
        if name in tally.STOCKS:
            return int(stocks[tally.STOCKS.index(name)].sum())
        if name in CITY_STOCKS:
            return int(stocks[len(tally.STOCKS) + CITY_STOCKS.index(name)].sum())
        return int(flows[FLOWS.index(name)].sum())
