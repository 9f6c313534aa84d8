"""The pure-Mesa reference model: the engine's monthly rules written as plain Python, one agent per person.

This is the executable specification of the rules that the numba kernels in ``sim/kernels`` implement
over arrays. Every person is a :class:`Person` (a ``mesa.Agent`` with plain Python attributes), every
prefecture a :class:`Place` (a ``mesa.Agent`` too), and households are plain :class:`Household`
objects that know their members and their head. Nothing here uses numba or array arithmetic over
agents; random numbers come from the model's seeded ``numpy.random.Generator`` (``model.rng``), one
scalar draw at a time, so the reference and the engine agree in distribution, not draw by draw.

It starts from exactly the engine's initial population: :class:`ReferenceModel` is built from a
:class:`sim.model.CitizenizationModel` after its ``__init__`` and before its first step, copying the
person columns row by row and the cities' state (tiers, wages, job-finding probabilities, quotas).

One ``step()`` is one month, in the engine's order (``CitizenizationModel.step``):

1. new year (each January after the first): everyone alive ages one year; the dead leave their
   households; a household whose head died gets a new head (the living member with the lowest role,
   the earliest-created first); each city re-grows its urban district from last month's urban
   residents, is re-tiered and gets a fresh points quota;
2. ``Person.step`` for everyone (one pass, because none of these rules reads another person):
   death by age and sex; a birth by age (women); job loss / job finding of working-age migrants;
   migration, return or onward move of rural-hukou household heads;
3. members living with their head take the head's place, urban flag, months of residence and permit;
4. settlement: heads in open and relaxed cities who meet the conditions settle with the take-up
   probability; in December heads in points cities apply and are admitted by points while the
   city's annual quota (persons) covers the family; members living with a settling head settle too;
5. services: months in the city, residence permit, insurance months, school status of children;
6. in-situ urbanization: a household's rural area is reclassified urban (one draw per household),
   and part of the reclassified get an urban hukou (one more draw per household);
7. tallies (the engine's ``sim.kernels.tally.STOCKS``) and each city's labour market (job-finding
   probability and wage from tightness) for the next month.

Which engine: the rules of the engine at commit ``4697f2f`` (unchanged up to ``2c8fb69``): demography,
labour, migration, follow-the-head, settlement by tier, services, reclassification, with the follow-the-
head rule of ``710ca3b`` (``a447a89`` copies the head's urban flag, months and permit to every row,
which is a bug, see ``tests/test_reference.py``). The lever mechanisms added in ``f8fd7c8`` (school seats,
affordable housing, training, metro circles, urban renewal, fiscal rewards, family choice types, ...)
are not mirrored yet; until they are, the agreement test fails against that engine.

The engine keeps a dead head's row until the January compaction, so until then its members still
"follow" the dead head's (frozen) place and no one in the household migrates or applies to settle;
the reference keeps that behaviour by keeping the dead head as ``Household.head`` until January.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter

import mesa

from sim.kernels.tally import STOCKS

# Codes shared with the engine (sim.population.FIELDS, sim.kernels.*).
HEAD, SPOUSE, CHILD, ELDER = 0, 1, 2, 3
HOME, RENTED, AFFORDABLE, OWNED = 0, 1, 2, 3
SCHOOL_NONE, SCHOOL_HOME, SCHOOL_LEFT_BEHIND, SCHOOL_PUBLIC, SCHOOL_PRIVATE = 0, 1, 2, 3, 4
TIER_OPEN, TIER_RELAXED, TIER_POINTS = 0, 1, 2
WORK_AGE_MIN, WORK_AGE_MAX = 16, 59
SCHOOL_AGE_MIN, SCHOOL_AGE_MAX = 3, 15
MAX_MONTHS = 65535
MAX_AGE = 100
FEMALE_AT_BIRTH = 0.4785  # sex ratio at birth ~109, as in the engine
INSURED_MIN_MONTHS = 12  # a migrant worker counts as insured after 12 contribution months (tally)
N_SKILL = 4

FLOWS = ("births", "deaths", "arrivals", "returns", "onward_moves", "interprovincial_arrivals",
         "settlements", "points_settlements", "reclassified", "reclassified_hukou")

# Person attributes copied from the engine's columns, in sim.population.FIELDS order.
PERSON_FIELDS = ("alive", "age", "sex", "household", "role", "with_head", "origin_city", "hukou_city",
                 "hukou_urban", "city", "urban", "skill", "employed", "months_in_city", "permit",
                 "insured_months", "housing", "school", "land")
_BOOL_FIELDS = {"alive", "with_head", "hukou_urban", "urban", "employed", "permit"}


class Household:
    """A family: its members in creation order and its head (who may have died since January)."""

    def __init__(self, hid: int) -> None:
        self.id = hid
        self.members: list[Person] = []
        self.head: Person | None = None

    def promote_head(self) -> None:
        """Drop the dead; if the head died, the living member with the lowest role (then the
        earliest created) becomes head (engine: ``People.compact`` and ``_rebuild_heads``)."""
        self.members = [p for p in self.members if p.alive]
        if self.head is not None and self.head.alive:
            return
        self.head = min(self.members, key=lambda p: (p.role, p.unique_id), default=None)
        if self.head is not None:
            self.head.role = HEAD


class Place(mesa.Agent):
    """A prefecture-level city: tier, labour market and points quota (engine: ``sim.cities.City``)."""

    def __init__(self, model: ReferenceModel, index: int, state) -> None:
        super().__init__(model)
        i = index
        self.index = i
        self.province = int(model.geo.province[i])
        self.district_pop0 = float(state.district_pop0[i])
        self.urban_residents0 = float(state.urban_residents0[i])
        self.district_pop = float(state.district_pop[i])
        self.tier = int(state.tier[i])
        self.base_wage = float(state.base_wage[i])
        self.wage = float(state.wage[i])
        self.housing_cost = float(state.housing_cost[i])
        self.jobs = float(state.jobs[i])
        self.find_prob = float(state.find_prob[i])
        self.public_school_share = float(state.public_school_share[i])
        self.services = float(state.services[i])
        self.quota_left = float(state.quota_left[i])

    def new_year(self, urban_residents: int) -> None:
        """The urban district grows with the city's urban residents; re-tier; fresh points quota."""
        hk = self.model.scenario.policy.hukou
        self.district_pop = self.district_pop0 * urban_residents / self.urban_residents0
        if self.district_pop < hk.open_below:
            self.tier = TIER_OPEN
        elif self.district_pop <= hk.points_above:
            self.tier = TIER_RELAXED
        else:
            self.tier = TIER_POINTS
        self.quota_left = hk.points_quota_per_million * self.district_pop / 1e6 / self.model.scale

    def update_labour_market(self, migrant_workers: int, months_elapsed: int) -> None:
        """Job-finding probability and wage from tightness = migrant jobs / employed migrants."""
        b = self.model.behaviour
        jobs = self.jobs * (1 + b.labour_demand_growth) ** (months_elapsed / 12)
        tightness = jobs / max(migrant_workers, 1)
        self.find_prob = b.job_finding * min(1.0, tightness)
        self.wage = self.base_wage * min(1.2, max(0.8, tightness)) ** 0.5


class Person(mesa.Agent):
    """One person with plain Python attributes (the engine's columns, see ``sim.population.FIELDS``)."""

    def __init__(self, model: ReferenceModel, household: Household, **attributes) -> None:
        super().__init__(model)
        self.household = household
        for name, value in attributes.items():
            setattr(self, name, value)
        household.members.append(self)

    # -- who is who ------------------------------------------------------------------------------
    @property
    def is_migrant(self) -> bool:
        """Lives in a town or city without an urban hukou (the citizenization target group)."""
        return self.alive and self.urban and not self.hukou_urban

    @property
    def is_head(self) -> bool:
        return self.role == HEAD

    # -- the person's own monthly rules ----------------------------------------------------------
    def step(self) -> None:
        """Death, birth, work and (for heads) migration: rules that read only this person and its city."""
        if not self.alive:
            return
        if self.dies():
            return
        self.give_birth()
        self.work()
        if self.is_head:
            self.move()

    def dies(self) -> bool:
        m = self.model
        q = (m.death_prob_female if self.sex else m.death_prob_male)[self.age]
        if m.rng.random() < q:
            self.alive = False
            m.flows["deaths"] += 1
            self.remove()  # leaves the model; stays in its household until January (see module doc)
            return True
        return False

    def give_birth(self) -> None:
        m = self.model
        p = m.birth_prob[self.age]
        if self.sex == 1 and p > 0.0 and m.rng.random() < p:
            m.newborns.append(dict(
                household=self.household, alive=True, age=0, sex=1 if m.rng.random() < FEMALE_AT_BIRTH else 0,
                role=CHILD, with_head=self.with_head, origin_city=self.origin_city, hukou_city=self.hukou_city,
                hukou_urban=self.hukou_urban, city=self.city, urban=self.urban, skill=0, employed=False,
                months_in_city=0, permit=False, insured_months=0, housing=HOME, school=SCHOOL_NONE,
                land=self.land))

    def work(self) -> None:
        """Working-age migrants lose or find jobs; migrants outside working age have no job."""
        if not self.is_migrant:
            return
        if self.age < WORK_AGE_MIN or self.age > WORK_AGE_MAX:
            self.employed = False
            return
        m = self.model
        u = m.rng.random()
        if self.employed:
            if u < m.behaviour.job_separation:
                self.employed = False
        elif u < m.places[self.city].find_prob:
            self.employed = True

    def move(self) -> None:
        """A rural-hukou head at home may leave; a renting migrant may return home or move on."""
        m, b = self.model, self.model.behaviour
        if self.hukou_urban or self.age < WORK_AGE_MIN:
            return
        if self.housing == HOME:
            if self.age > WORK_AGE_MAX or m.rng.random() >= b.migrate_hazard:
                return
            dest = m.choose_destination(self.origin_city, self.skill)
            self.arrive(dest)
            m.flows["arrivals"] += 1
            if m.places[dest].province != m.places[self.origin_city].province:
                m.flows["interprovincial_arrivals"] += 1
            return
        if self.housing == OWNED:
            return
        hazard = b.return_hazard
        if not self.employed:
            hazard *= b.return_unemployed_factor
        if self.age >= 50:
            hazard *= b.return_age50_factor
        u = m.rng.random()
        if u < hazard:
            m.flows["returns"] += 1
            self.city = self.origin_city
            self.urban = False
            self.employed = False
            self.months_in_city = 0
            self.permit = False
            self.housing = HOME
        elif not self.employed and u < hazard + b.onward_hazard:
            dest = m.choose_destination(self.origin_city, self.skill)
            if dest != self.city:
                self.arrive(dest)
                m.flows["onward_moves"] += 1

    def arrive(self, dest: int) -> None:
        """Start over in a new city: renting, no permit, employed with the job-finding probability;
        insurance months are portable (kept)."""
        m = self.model
        self.city = dest
        self.urban = True
        self.months_in_city = 0
        self.permit = False
        self.housing = RENTED
        self.employed = m.rng.random() < m.behaviour.job_finding

    # -- rules that read the household head ------------------------------------------------------
    def follow_head(self) -> None:
        """A member living with the head shares its place and residence record."""
        h = self.household.head
        if not self.alive or not self.with_head or h is None or h is self:
            return
        self.city = h.city
        self.urban = h.urban
        self.months_in_city = h.months_in_city
        self.permit = h.permit

    def apply_to_settle(self) -> None:
        """A migrant head in an open or relaxed city who meets the conditions settles with the take-up
        probability (points cities admit once a year, see ``ReferenceModel.admit_by_points``)."""
        if not (self.alive and self.is_head and self.urban and not self.hukou_urban):
            return
        m, hk = self.model, self.model.scenario.policy.hukou
        tier = m.places[self.city].tier
        if tier == TIER_OPEN:
            ok = self.months_in_city >= hk.open_residence_months
        elif tier == TIER_RELAXED:
            ok = (self.months_in_city >= hk.relaxed_residence_months
                  and self.insured_months >= hk.relaxed_insured_months)
        else:
            return
        if ok and m.rng.random() < m.takeup:
            self.take_hukou()
            m.settled.add(self.household)

    def points(self) -> float:
        """Points of a points-city applicant: insurance and residence years weigh most, then skill."""
        return self.insured_months / 12.0 + 0.5 * self.months_in_city / 12.0 + 2.0 * self.skill

    def take_hukou(self) -> None:
        self.hukou_urban = True
        self.hukou_city = self.city

    def settle_with_head(self) -> None:
        """Members living with a head who settled this month (in the head's city) settle too."""
        if not self.alive or self.household not in self.model.settled:
            return
        h = self.household.head
        if h is self:
            self.model.flows["settlements"] += 1
        elif self.with_head and self.city == h.city and not self.hukou_urban:
            self.take_hukou()
            self.model.flows["settlements"] += 1

    def use_services(self) -> None:
        """Months of residence, residence permit, insurance months and school status for one month."""
        if not self.alive:
            return
        m, b = self.model, self.model.behaviour
        migrant = self.is_migrant
        if migrant:
            if self.months_in_city < MAX_MONTHS:
                self.months_in_city += 1
            if (not self.permit and self.months_in_city >= m.scenario.policy.services.permit_residence_months
                    and m.rng.random() < b.permit_hazard):
                self.permit = True
            if self.employed and self.insured_months < MAX_MONTHS and m.rng.random() < b.insurance_enrolment:
                self.insured_months += 1
        if self.age < SCHOOL_AGE_MIN or self.age > SCHOOL_AGE_MAX:
            self.school = SCHOOL_NONE
            return
        h = self.household.head
        head_away = h is not None and h is not self and (h.city != self.city or h.urban != self.urban)
        if head_away:
            self.school = SCHOOL_LEFT_BEHIND
        elif not migrant:
            self.school = SCHOOL_HOME
        elif self.school not in (SCHOOL_PUBLIC, SCHOOL_PRIVATE):
            share = m.places[self.city].public_school_share
            self.school = SCHOOL_PUBLIC if m.rng.random() < share else SCHOOL_PRIVATE


class ReferenceModel(mesa.Model):
    """The engine's rules with one ``mesa.Agent`` per person, started from an engine model's population.

    Args:
        engine: a ``CitizenizationModel`` right after ``__init__`` (no step taken); its people, cities,
            scenario, demography and geography are copied (the engine is not modified).
        seed: seed of this model's ``rng`` (default: the engine's seed).
        settle_takeup_factor: multiplies the monthly settlement take-up probability. 1 is the engine's
            rule; anything else is a deliberately wrong rule, used to show that the agreement test can
            fail.
    """

    def __init__(self, engine, seed: int | None = None, settle_takeup_factor: float = 1.0) -> None:
        if engine.steps != 0:
            raise ValueError("build the reference from an engine model that has not stepped yet")
        super().__init__(seed=engine.seed_value if seed is None else seed)
        self.scenario = engine.scenario
        self.behaviour = engine.scenario.behaviour
        self.scale = engine.scale
        self.start_year = engine.scenario.start_year
        self.geo = engine.geo
        # Monthly probabilities by single year of age 0..100, as plain lists.
        self.death_prob_male = engine.demography.death_prob_male.tolist()
        self.death_prob_female = engine.demography.death_prob_female.tolist()
        self.birth_prob = engine.demography.birth_prob.tolist()
        b = self.behaviour
        self.takeup = settle_takeup_factor * b.settle_takeup * (1.0 - b.rural_rights_value)

        self.places = [Place(self, i, engine.city_state) for i in range(self.geo.n_cities)]
        # Plain Python copies of the inputs of the destination logit (origin-destination terms).
        self.distance_km = [[float(x) for x in row] for row in self.geo.distance_km]
        self._destination_cdf: dict[tuple[int, int], list[float]] = {}  # this month's, per agent type

        # People: one Person per engine row, households in the engine's row order.
        p = engine.people
        columns = {name: p.columns[name][: p.n].tolist() for name in PERSON_FIELDS}
        self.households: dict[int, Household] = {}
        for i in range(p.n):
            attrs = {name: columns[name][i] for name in PERSON_FIELDS}
            for name in _BOOL_FIELDS:
                attrs[name] = bool(attrs[name])
            hid = attrs.pop("household")
            hh = self.households.get(hid)
            if hh is None:
                hh = self.households[hid] = Household(hid)
            person = Person(self, hh, **attrs)
            if p.head_of[hid] == i:
                hh.head = person
        self.people = self.agents_by_type[Person]

        self.flows: Counter = Counter()
        self.newborns: list[dict] = []
        self.settled: set[Household] = set()
        self.stocks, self.urban_by_city, self.workers_by_city = self.count_stocks()
        self.history: list[dict] = [self.summary()]
        self.datacollector = mesa.DataCollector(model_reporters={
            "resident_rate": lambda m: m.stocks["urban_residents"] / m.stocks["residents"],
            "hukou_rate": lambda m: m.stocks["urban_hukou"] / m.stocks["residents"],
        })
        self.datacollector.collect(self)

    @property
    def month_of_year(self) -> int:
        return (self.steps - 1) % 12 + 1

    # -- the month -------------------------------------------------------------------------------
    def step(self) -> None:
        self.flows = Counter()
        if self.month_of_year == 1 and self.steps > 1:
            self.new_year()
        self._destination_cdf = {}  # wages and district sizes have changed since last month
        self.newborns = []
        self.people.do("step")
        for attrs in self.newborns:
            Person(self, **attrs)
        self.flows["births"] += len(self.newborns)
        self.people.do("follow_head")
        self.settle()
        self.people.do("use_services")
        self.reclassify()
        self.stocks, self.urban_by_city, self.workers_by_city = self.count_stocks()
        for place in self.places:
            place.update_labour_market(self.workers_by_city[place.index], self.steps)
        self.history.append(self.summary())
        self.datacollector.collect(self)
        if self.steps >= self.scenario.months:
            self.running = False

    def new_year(self) -> None:
        for person in self.people:
            if person.alive and person.age < MAX_AGE:
                person.age += 1
        for household in self.households.values():
            household.promote_head()
        for place in self.places:
            place.new_year(self.urban_by_city[place.index])

    def settle(self) -> None:
        self.settled = set()
        self.people.do("apply_to_settle")
        if self.month_of_year == 12:
            self.admit_by_points()
        self.people.do("settle_with_head")

    def admit_by_points(self) -> None:
        """December: heads in points cities with enough insurance months apply (with the take-up
        probability compounded over the year); each city admits them in points order (ties: household
        order) while its annual quota in persons covers the family living with the head."""
        m_hk = self.scenario.policy.hukou
        apply_prob = 1.0 - (1.0 - self.takeup) ** 12
        applicants = [h for h in self.people
                      if h.alive and h.is_head and h.urban and not h.hukou_urban
                      and self.places[h.city].tier == TIER_POINTS
                      and h.insured_months >= m_hk.points_min_insured_months and self.rng.random() < apply_prob]
        applicants.sort(key=lambda h: (h.city, -h.points(), h.household.id))
        for head in applicants:
            place = self.places[head.city]
            size = sum(1 for p in head.household.members
                       if p.alive and (p is head or (p.with_head and p.city == head.city)))
            if not m_hk.abolish_annual_quota:
                if size > place.quota_left:
                    continue
                place.quota_left -= size
            self.flows["points_settlements"] += size
            head.take_hukou()
            self.settled.add(head.household)

    def reclassify(self) -> None:
        """In-situ urbanization: one draw per household reclassifies its rural members' area as urban,
        and one more converts the reclassified rural-hukou members to an urban hukou."""
        b = self.behaviour
        for household in self.households.values():
            rural = [p for p in household.members if p.alive and not p.urban]
            if not rural or self.rng.random() >= b.reclassify_rate:
                continue
            convert = self.rng.random() < b.reclassify_hukou_share
            for p in rural:
                p.urban = True
                self.flows["reclassified"] += 1
                if not p.hukou_urban and convert:
                    p.take_hukou()
                    self.flows["reclassified_hukou"] += 1

    # -- destination choice ----------------------------------------------------------------------
    def destination_cdf(self, origin: int, skill: int) -> list[float]:
        """Cumulative logit choice probabilities over destinations for one agent type, computed in
        plain Python (engine: ``sim.choice``); computed when first needed in a month and kept for it."""
        key = (origin, skill)
        cdf = self._destination_cdf.get(key)
        if cdf is not None:
            return cdf
        b = self.behaviour
        o = self.places[origin]
        v = []
        for d in self.places:
            u = b.beta_wage * math.log(d.wage) - b.beta_housing * math.log(d.housing_cost) + d.services
            u -= b.beta_distance * math.log1p(self.distance_km[origin][d.index] / 100.0)
            u += b.same_province if d.province == o.province else 0.0
            u += b.home_city if d.index == origin else 0.0
            u += b.beta_size_by_skill * skill * math.log(max(d.district_pop, 1.0) / 1e6)
            v.append(u)
        top = max(v)
        weights = [math.exp(u - top) for u in v]
        cdf, total = [], 0.0
        for w in weights:
            total += w
            cdf.append(total)
        cdf = [c / total for c in cdf]
        cdf[-1] = 1.0
        self._destination_cdf[key] = cdf
        return cdf

    def choose_destination(self, origin: int, skill: int) -> int:
        """The first destination whose cumulative probability exceeds a uniform draw."""
        return bisect_right(self.destination_cdf(origin, skill), self.rng.random())

    # -- tallies ---------------------------------------------------------------------------------
    def count_stocks(self) -> tuple[Counter, list[int], list[int]]:
        """National stocks named as in the engine's ``STOCKS``, and urban residents and employed
        migrants per city."""
        s = Counter({name: 0 for name in STOCKS})
        urban = [0] * len(self.places)
        workers = [0] * len(self.places)
        for p in self.people:
            if not p.alive:
                continue
            s["residents"] += 1
            if p.urban:
                s["urban_residents"] += 1
                urban[p.city] += 1
            if p.hukou_urban:
                s["urban_hukou"] += 1
            if p.school == SCHOOL_LEFT_BEHIND:
                s["children_left_behind"] += 1
            if not p.is_migrant:
                continue
            s["migrants"] += 1
            if p.city != p.hukou_city:
                s["cross_city_migrants"] += 1
                if self.places[p.city].province != self.places[p.hukou_city].province:
                    s["interprovincial_migrants"] += 1
            if p.employed:
                s["migrant_workers"] += 1
                workers[p.city] += 1
                if p.insured_months >= INSURED_MIN_MONTHS:
                    s["insured_migrant_workers"] += 1
            s["permit_holders"] += p.permit
            if p.school == SCHOOL_PUBLIC:
                s["children_public_school"] += 1
            elif p.school == SCHOOL_PRIVATE:
                s["children_private_school"] += 1
        return s, urban, workers

    def summary(self) -> dict:
        """National stocks and flows (agents) and the two urbanization rates of the current month."""
        out = {"month": self.steps, **self.stocks, **{f: self.flows.get(f, 0) for f in FLOWS}}
        out["resident_rate"] = self.stocks["urban_residents"] / self.stocks["residents"]
        out["hukou_rate"] = self.stocks["urban_hukou"] / self.stocks["residents"]
        return out

    def rates(self) -> tuple[float, float]:
        """(resident rate, hukou rate) of the current month."""
        return (self.stocks["urban_residents"] / self.stocks["residents"],
                self.stocks["urban_hukou"] / self.stocks["residents"])
