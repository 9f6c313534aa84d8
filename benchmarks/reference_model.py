"""The pure-Mesa reference model: the engine's monthly rules written as plain Python, one agent per person.

This is the executable specification of the rules that the numba kernels in ``sim/kernels`` implement
over arrays. Every person is a :class:`Person` (a ``mesa.Agent`` with plain Python attributes), every
prefecture a :class:`Place` (a ``mesa.Agent`` too, holding the city-level lever state), and households
are plain :class:`Household` objects that know their members and their head. Nothing here uses numba or
array arithmetic over agents; random numbers come from the model's seeded ``numpy.random.Generator``
(``model.rng``), one scalar draw at a time, so the reference and the engine agree in distribution, not
draw by draw.

It starts from exactly the engine's initial population: :class:`ReferenceModel` is built from a
:class:`sim.model.CitizenizationModel` after its ``__init__`` and before its first step, copying the
person columns row by row and the cities' state (tiers, wages, job finding, quotas, seats, affordable
places, rents, renewal, capacity pipeline, ...).

One ``step()`` is one month, in the engine's order (``CitizenizationModel.step``):

1. new year (each January after the first): everyone alive ages one year; the dead leave their
   households, a household without a living head gets one (its first living member of role head, else
   its first living member), and the rows are re-ordered household by household, head first; each city
   re-grows its urban district from last month's urban residents, is re-tiered and gets a fresh points
   quota (rounded to whole agents at random); seats grow (and, with ``seats_follow_population``, close
   half the gap to last month's demand), affordable places grow with the migrants living away from home, and last year's
   settlements earn fiscal rewards which, with the land quotas that follow urban growth, enter the
   capacity pipeline;
2. capacity whose construction lag has passed opens (seats, affordable places);
3. deaths; a household whose head died is headed by the next living member of its block (the members
   present at the last new year who have not left home since, in row order after the dead head), or by
   nobody until January;
4. births (women by age): the newborn joins its mother's household, place and hukou;
5. labour: working-age migrants lose or find jobs (job finding rises with skill) and train (skill + 1
   up to 2, with the city's training probability);
6. migration of rural-hukou heads (leave home, return - with the plan's retention factors and the
   injury returns of uncovered gig workers -, or move on), destinations from the logit per
   origin x skill x family-with-school-age-children; working-age adult children at home leave on their
   own and head a new household (ids issued after all existing ones); the hazards of leaving home and
   of moving on are multiplied by the scenario's mobility shock of the year; then members living with
   their head take its place and residence record when they are not where the head is;
7. settlement: heads in open and relaxed cities who meet the conditions (and, without registration at
   habitual residence, hold a permit) settle with the take-up probability (lower for landholders unless
   rural rights are protected and trusted); in December permit-holding heads in points cities apply and
   are admitted in points order while the annual quota covers the members who settle; then the members of settled
   households settle (whole family: co-resident members, and left-behind spouse and children who join;
   otherwise each co-resident member with ``member_settle_share``);
8. services: months in the city, residence permit, insurance months; a child under 18 living where its
   head lives rejoins the head; school status;
9. school seats (serial, row order): families bring left-behind children, incumbents keep public seats
   while seats last, new children (and in September private-school children) apply; a new child without
   a seat is sent back with ``leave_behind_if_no_seat``;
10. affordable rental housing (serial, row order): tenants leave with the turnover hazard, eligible
    renting heads apply for their family while places last, co-resident members share the head's
    housing;
11. in-situ urbanization: one draw per household reclassifies its rural members' area as urban (each
    against its city's rate), and one more converts them to an urban hukou;
12. tallies (the engine's ``sim.kernels.tally.STOCKS``, the city stocks ``sim.cities.CITY_STOCKS`` and
    ``sim.model.FLOWS``), each city's labour market (job finding and wage from tightness, employment
    services, industrial clusters), metro commuting, urban renewal and rents, newcomers' access
    (seat chance, school value, affordable chance, service index), and the settlements of the year.

Which engine: the rules of the engine at commit ``a41d951`` (the plan's levers of ``f8fd7c8`` and
``7ede52f``, monthly head promotion and O(n) compaction of ``f32172e``, the follow-the-head fix of
``dc0c08e``, leaving home and mobility shocks of ``ac49957``, destination job finding, random rounding of
points quotas, no same-month re-application for affordable housing and block-only promotion of
``2f6bb8a``). The calibrated behaviour and shocks (``sim/data/calibrated.yaml``) come with the engine's
scenario.

Row order. The engine's serial passes (school seats, affordable housing, the points queue's ties) run in
row order, so the reference keeps the engine's row order in ``ReferenceModel.rows``: households by id,
head first, then the other members in their previous order, and this year's newborns appended at the end.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, defaultdict

import mesa

from sim.agent_base import Agent
from sim.cities import CITY_STOCKS
from sim.kernels.tally import STOCKS
from sim.model import FLOWS
from sim.policy import Employment, Insurance, Services

# Codes shared with the engine (sim.population.FIELDS, sim.kernels.*).
HEAD, SPOUSE, CHILD, ELDER = 0, 1, 2, 3
HOME, RENTED, AFFORDABLE, OWNED = 0, 1, 2, 3
SCHOOL_NONE, SCHOOL_HOME, SCHOOL_LEFT_BEHIND, SCHOOL_PUBLIC, SCHOOL_PRIVATE = 0, 1, 2, 3, 4
TIER_OPEN, TIER_RELAXED, TIER_POINTS = 0, 1, 2
WORK_AGE_MIN, WORK_AGE_MAX = 16, 64
LEAVE_AGE_MAX = 59  # the oldest who leave home to work
SCHOOL_AGE_MIN, SCHOOL_AGE_MAX, COMPULSORY_AGE_MIN = 3, 15, 6
COMPULSORY, PRESCHOOL = 0, 1  # seat levels
ADULT_AGE = 18
MAX_MONTHS = 65535
MAX_AGE = 100
FEMALE_AT_BIRTH = 0.4785  # sex ratio at birth ~109, as in the engine
INSURED_MIN_MONTHS = 12  # a migrant worker counts as insured after 12 contribution months (tally)
SKILLED_MIN_LEVEL = 2  # skilled migrant worker: vocational certificate or more (tally)
MAX_TRAINED_SKILL = 2  # training reaches a vocational certificate, not college
N_SKILL = 4
# Residence-based service items (public rental, school, medical, employment) and their weights; a
# newcomer discounts a service it must wait y years for by exp(-y / 3) (sim.cities, assumptions).
SERVICE_WEIGHTS = (0.3, 0.3, 0.25, 0.15)
SERVICE_HORIZON_YEARS = 3.0
OLD_COMPOUND_SHARE = 0.3
RENEWAL_RENT_EFFECT = 0.1
COMPULSORY_SEAT_SHARE = 10 / 13

# Person attributes copied from the engine's columns, in sim.population.FIELDS order.
PERSON_FIELDS = ("alive", "age", "sex", "household", "role", "with_head", "origin_city", "hukou_city",
                 "hukou_urban", "city", "urban", "skill", "employed", "months_in_city", "permit",
                 "insured_months", "housing", "school", "land")
_BOOL_FIELDS = {"alive", "with_head", "hukou_urban", "urban", "employed", "permit"}


def service_months(sv) -> list[int]:
    """Months of residence each service item requires (public rental, school, medical, employment)."""
    return [12 * sv.years_public_rental, 12 * sv.years_school, 12 * sv.years_medical, 12 * sv.years_employment]


def service_value(sv) -> float:
    """A newcomer's value of the service package open to non-hukou residents: coverage x the weights,
    each discounted by the years it must wait."""
    return sv.coverage * sum(w * math.exp(-m / 12 / SERVICE_HORIZON_YEARS)
                             for w, m in zip(SERVICE_WEIGHTS, service_months(sv), strict=True))


class Household:
    """A family: the block of members at the last new year (head first) plus this year's newborns.

    ``gig_draw`` and ``cover_draw`` are the fixed draws that make the head a gig worker and give it
    injury cover (the engine keys them by household and role, so a promoted head inherits them).
    """

    def __init__(self, hid: int, rng) -> None:
        self.id = hid
        self.block: list[Person] = []  # members at the last compaction, in row order, head first
        self.newborns: list[Person] = []  # born since, in row order
        self.head: Person | None = None
        self.gig_draw = rng.random()
        self.cover_draw = rng.random()

    @property
    def members(self) -> list[Person]:
        return self.block + self.newborns

    def promote_next(self) -> None:
        """Monthly: if the head died, the next living member of the block after it becomes head (role
        head); if there is none, the household has no head until the new year."""
        h = self.head
        if h is None or h.alive:
            return
        self.head = None
        for p in self.block[self.block.index(h) + 1:]:
            if p.alive:
                self.head = p
                p.role = HEAD
                return

    def compact(self) -> None:
        """New year: drop the dead; a household without a living head takes its first living member of
        role head, else its first living member; the block becomes head first, then the others in order."""
        living = [p for p in self.members if p.alive]
        if self.head is None or not self.head.alive:
            self.head = next((p for p in living if p.role == HEAD), living[0] if living else None)
            if self.head is not None:
                self.head.role = HEAD
        self.block = ([self.head] if self.head is not None else []) + [p for p in living if p is not self.head]
        self.newborns = []

    def has_school_age_child(self) -> bool:
        """The family dimension of the destination choice: a living child aged 3-15, wherever it lives."""
        return any(p.alive and p.role == CHILD and SCHOOL_AGE_MIN <= p.age <= SCHOOL_AGE_MAX for p in self.members)


class Place(Agent):
    """A prefecture-level city: tier, labour market, quota and the plan's city levers (``sim.cities``)."""

    def __init__(self, model: ReferenceModel, index: int, state, geo, seats_used, seat_demand) -> None:
        super().__init__(model)
        i = self.index = index
        self.province = int(geo.province[i])
        self.metro = int(geo.metro_circle[i])  # metropolitan circle, -1 none
        self.in_potential_region = bool(geo.potential_region[i] >= 0)
        self.core = int(state.core_of[i])  # the metro core of a satellite, -1 elsewhere
        for name in ("district_pop0", "urban_residents0", "district_pop", "base_wage", "wage", "housing_cost",
                     "jobs", "find_prob", "services", "quota_left", "seat_chance", "school_value",
                     "affordable_places", "affordable_chance", "urban_village_places", "urban_village_places0",
                     "rent_index", "old_renovated", "amenity", "job_growth", "wage_growth", "reclassify_rate",
                     "train_prob", "quality_gap", "settled_this_year", "urban_last_year"):
            setattr(self, name, float(getattr(state, name)[i]))
        self.tier = int(state.tier[i])
        self.seats = [float(state.seats[COMPULSORY, i]), float(state.seats[PRESCHOOL, i])]
        # Capacity being built: (due month, compulsory seats, preschool seats, affordable places).
        self.pipeline = [(int(due), float(s[COMPULSORY, i]), float(s[PRESCHOOL, i]), float(pl[i]))
                         for due, s, pl in state.pipeline]
        # Public seats used by, and accompanying migrant children of, each level last month.
        self.seats_used = [int(seats_used[lv, i]) for lv in (COMPULSORY, PRESCHOOL)]
        self.seat_demand = [int(seat_demand[lv, i]) for lv in (COMPULSORY, PRESCHOOL)]

    # -- yearly ----------------------------------------------------------------------------------
    def new_year(self, urban_residents: int, migrants: int) -> float:
        """The urban district grows with the city's urban residents; re-tier; fresh points quota; seat
        and affordable-place growth; fiscal rewards and land quotas into the capacity pipeline.
        Returns the fiscal rewards (agents x yuan)."""
        m = self.model
        pol = m.scenario.policy
        hk, ch, inc = pol.hukou, pol.children, pol.incentives
        self.district_pop = self.district_pop0 * urban_residents / self.urban_residents0
        if self.district_pop < hk.open_below:
            self.tier = TIER_OPEN
        elif self.district_pop <= hk.points_above:
            self.tier = TIER_RELAXED
        else:
            self.tier = TIER_POINTS
        quota = hk.points_quota_per_million * self.district_pop / 1e6 / m.scale  # agents, rounded at random
        self.quota_left = math.floor(quota) + (m.rng.random() < quota - math.floor(quota))
        self.seats[COMPULSORY] *= 1.0 + ch.compulsory_seat_growth
        self.seats[PRESCHOOL] *= 1.0 + ch.preschool_seat_growth
        if ch.seats_follow_population:  # half the gap to last month's accompanying children
            for lv in (COMPULSORY, PRESCHOOL):
                self.seats[lv] += 0.5 * max(0.0, self.seat_demand[lv] - self.seats[lv])
        self.affordable_places += pol.housing.affordable_growth_per_100_migrants / 100 * migrants
        rewards = float(round(self.settled_this_year * inc.reward_per_settled_yuan))  # halves to even, as numpy.rint
        capacity = rewards * inc.reward_share_capacity
        seats = 0.5 * capacity / inc.seat_cost_yuan
        places = 0.5 * capacity / inc.place_cost_yuan
        if inc.land_quota_follows_population:
            grown = max(0.0, urban_residents - self.urban_last_year)
            seats += inc.land_seats_per_100 / 100 * grown
            places += inc.land_places_per_100 / 100 * grown
        self.pipeline.append((m.steps + inc.capacity_lag_months, COMPULSORY_SEAT_SHARE * seats,
                              (1 - COMPULSORY_SEAT_SHARE) * seats, places))
        self.settled_this_year = 0.0
        self.urban_last_year = float(urban_residents)
        return rewards

    def deliver_capacity(self, month: int) -> None:
        """Seats and places whose construction lag has passed open."""
        for _due, compulsory, preschool, places in [c for c in self.pipeline if c[0] <= month]:
            self.seats[COMPULSORY] += compulsory
            self.seats[PRESCHOOL] += preschool
            self.affordable_places += places
        self.pipeline = [c for c in self.pipeline if c[0] > month]

    # -- monthly ---------------------------------------------------------------------------------
    def update_labour_market(self, migrant_workers: int, months_elapsed: int) -> None:
        """Job-finding probability and wage from tightness = migrant jobs / employed migrants; public
        employment services scale job finding (relative to the status-quo coverage)."""
        m = self.model
        b = m.behaviour
        jobs = self.jobs * (1 + self.job_growth) ** (months_elapsed / 12)
        tightness = jobs / max(migrant_workers, 1)
        coverage = m.scenario.policy.employment.service_coverage
        default = Employment.model_fields["service_coverage"].default
        services = (1.0 + b.employment_service_effect * coverage) / (1.0 + b.employment_service_effect * default)
        self.find_prob = min(1.0, b.job_finding * min(1.0, tightness) * services)
        self.wage = (self.base_wage * (1 + self.wage_growth) ** (months_elapsed / 12)
                     * min(1.2, max(0.8, tightness)) ** 0.5)

    def commute(self, commuting: float) -> None:
        """A satellite's residents reach part of their core's wage and job finding by commuting."""
        if self.core >= 0:
            core = self.model.places[self.core]
            self.wage = (1 - commuting) * self.wage + commuting * core.wage
            self.find_prob = (1 - commuting) * self.find_prob + commuting * core.find_prob

    def renew(self, migrants: int) -> None:
        """One month of old-compound and urban-village renovation, rents and renovation amenity."""
        m = self.model
        ur, b = m.scenario.policy.urban_renewal, m.behaviour
        step_old = min(ur.old_compound_renovation / 12, 1.0 - self.old_renovated)
        self.old_renovated += step_old
        removed = min(ur.urban_village_renovation / 12 * self.urban_village_places0, self.urban_village_places)
        self.urban_village_places -= removed
        self.affordable_places += ur.urban_village_affordable_share * removed
        self.rent_index *= (1.0 + b.urban_village_rent_elasticity * removed / max(migrants, 1.0)
                            + RENEWAL_RENT_EFFECT * OLD_COMPOUND_SHARE * step_old)
        self.rent_index *= 1.0 - m.scenario.policy.housing.rental_market_growth / 12
        uv_done = 1.0 - self.urban_village_places / max(self.urban_village_places0, 1e-9)
        uv_share = self.urban_village_places0 / max(migrants, 1.0)
        self.amenity = OLD_COMPOUND_SHARE * self.old_renovated + min(uv_share, 1.0) * uv_done

    def update_access(self, migrants: int) -> None:
        """Newcomers' chance of a public seat and of an affordable place, and the service index."""
        m = self.model
        pol, b = m.scenario.policy, m.behaviour
        seats, need = sum(self.seats), sum(self.seat_demand)
        chance = min(1.0, seats / max(need, 1)) if need > 0 else min(1.0, seats)
        self.seat_chance = chance * pol.children.admission_share
        self.school_value = b.beta_school * math.exp(-pol.services.years_school / SERVICE_HORIZON_YEARS) \
            * self.seat_chance
        months = pol.housing.eligibility_residence_months
        self.affordable_chance = (min(1.0, self.affordable_places / max(migrants, 1.0))
                                  * math.exp(-months / 12 / SERVICE_HORIZON_YEARS))
        self.services = b.beta_services * (service_value(pol.services)
                                           + pol.metro_circles.shared_services * self.quality_gap + self.amenity)

    def expected_rent(self) -> float:
        """Market rent less the affordable-rental discount times the newcomer's chance of a place."""
        return self.housing_cost * self.rent_index * (1.0 - self.model.behaviour.affordable_rent_discount
                                                      * self.affordable_chance)


class Person(Agent):
    """One person with plain Python attributes (the engine's columns, see ``sim.population.FIELDS``)."""

    def __init__(self, model: ReferenceModel, household: Household, newborn: bool = False, **attributes) -> None:
        super().__init__(model)
        self.household = household
        for name, value in attributes.items():
            setattr(self, name, value)
        (household.newborns if newborn else household.block).append(self)
        model.rows.append(self)

    # -- who is who ------------------------------------------------------------------------------
    @property
    def is_migrant(self) -> bool:
        """Lives in a town or city without an urban hukou (the citizenization target group)."""
        return self.alive and self.urban and not self.hukou_urban

    @property
    def is_head(self) -> bool:
        return self.household.head is self

    @property
    def head_away(self) -> bool:
        """Has a head, is not it, and is not where it lives."""
        h = self.household.head
        return h is not None and h is not self and (h.city != self.city or h.urban != self.urban)

    @property
    def lives_with_head(self) -> bool:
        """The head, or a member living with it in its city (the family a settlement or a flat counts)."""
        h = self.household.head
        return h is self or (h is not None and self.with_head and self.city == h.city)

    def joins_head(self) -> bool:
        """A left-behind spouse or child under 18 (joins a head who settles as a whole family)."""
        h = self.household.head
        return (not self.with_head and (self.role == SPOUSE or (self.role == CHILD and self.age < ADULT_AGE))
                and (self.city != h.city or self.urban != h.urban))

    # -- demography ------------------------------------------------------------------------------
    def die(self) -> None:
        m = self.model
        q = (m.death_prob_female if self.sex else m.death_prob_male)[self.age]
        if m.rng.random() < q:
            self.alive = False
            m.flows["deaths"][self.city] += 1
            self.remove()  # leaves the model; stays in its household and the rows until January

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

    # -- labour ----------------------------------------------------------------------------------
    def work(self) -> None:
        """Working-age migrants lose or find jobs (finding rises 10% per skill level above 1) and train;
        migrants outside working age have no job."""
        if not self.is_migrant:
            return
        if self.age < WORK_AGE_MIN or self.age > WORK_AGE_MAX:
            self.employed = False
            return
        m = self.model
        place = m.places[self.city]
        u = m.rng.random()
        if self.employed:
            if u < m.behaviour.job_separation:
                self.employed = False
        elif u < place.find_prob * (1.0 + m.behaviour.skill_job_finding * (self.skill - 1.0)):
            self.employed = True
        if self.skill < MAX_TRAINED_SKILL and m.rng.random() < place.train_prob:
            self.skill += 1
            m.flows["trained"][self.city] += 1

    # -- migration -------------------------------------------------------------------------------
    def move(self) -> None:
        """A rural-hukou head at home may leave; a renting migrant head may return home or move on; a
        working-age adult child at home may leave on its own and head a new household."""
        if self.hukou_urban or self.age < WORK_AGE_MIN:
            return
        m, b = self.model, self.model.behaviour
        shock = m.scenario.mobility_factor(m.year)  # events such as the 2022 movement restrictions
        if not self.is_head:
            if self.role == CHILD and self.housing == HOME and self.age <= LEAVE_AGE_MAX \
                    and m.rng.random() < shock * b.leave_home_hazard:
                m.split_off(self)
                self.arrive(m.choose_destination(self.origin_city, self.skill, False), "arrivals", self.origin_city)
                m.flows["home_leavers"][self.city] += 1
            return
        u = m.rng.random()
        family = self.household.has_school_age_child()
        if self.housing == HOME:
            if self.age > LEAVE_AGE_MAX or u >= shock * b.migrate_hazard:
                return
            self.arrive(m.choose_destination(self.origin_city, self.skill, family), "arrivals", self.origin_city)
            return
        if self.housing == OWNED:
            return
        here = m.places[self.city]
        hazard = self.return_hazard(here)
        injury = 0.0
        hh, cover = self.household, m.scenario.policy.insurance.gig_injury_cover
        if self.employed and hh.gig_draw < b.gig_share and hh.cover_draw >= cover:
            injury = b.gig_injury_return  # an uninsured gig worker may be injured and go home
        if u < hazard + injury:
            m.flows["returns"][here.index] += 1
            if u >= hazard:
                m.flows["injury_returns"][here.index] += 1
            self.city = self.origin_city
            self.urban = False
            self.employed = False
            self.months_in_city = 0
            self.permit = False
            self.housing = HOME
        elif not self.employed and u < hazard + injury + shock * b.onward_hazard:
            dest = m.choose_destination(self.origin_city, self.skill, family)
            if dest != here.index:
                self.arrive(dest, "onward_moves", here.index)

    def return_hazard(self, here: Place) -> float:
        """Base return hazard x unemployment x age 50+ x skill premium x service access x affordable
        housing x renovation amenity."""
        m, b = self.model, self.model.behaviour
        sv = m.scenario.policy.services
        hazard = b.return_hazard
        if not self.employed:
            hazard *= b.return_unemployed_factor
        if self.age >= 50:
            hazard *= b.return_age50_factor
        hazard *= math.exp(-b.beta_wage * b.skill_wage_premium * (self.skill - 1.0))
        access = 0.0
        if self.permit:
            access = sv.coverage * sum(w for w, months in zip(SERVICE_WEIGHTS, service_months(sv), strict=True)
                                       if self.months_in_city >= months)
        hazard *= 1.0 - b.services_retention * access
        if self.housing == AFFORDABLE:
            hazard *= b.affordable_return_factor
        hazard *= max(0.0, 1.0 - b.renewal_retention * here.amenity)
        return hazard

    def arrive(self, dest: int, flow: str, came_from: int) -> None:
        """Start over in a new city: renting, no permit, employed with the destination's job-finding
        probability (as an unemployed migrant there); the insurance record follows with the portability
        probability."""
        m = self.model
        self.city = dest
        self.urban = True
        self.months_in_city = 0
        self.permit = False
        self.housing = RENTED
        d, o = m.places[dest], m.places[came_from]
        self.employed = m.rng.random() < d.find_prob * (1.0 + m.behaviour.skill_job_finding * (self.skill - 1.0))
        if m.rng.random() >= m.scenario.policy.insurance.portability:
            self.insured_months = 0
        m.flows[flow][dest] += 1
        if flow == "arrivals" and d.province != o.province:
            m.flows["interprovincial_arrivals"][dest] += 1
        if o.metro >= 0 and o.metro == d.metro:
            m.flows["metro_internal_arrivals"][dest] += 1
        if d.in_potential_region:
            m.flows["potential_region_arrivals"][dest] += 1
        if d.core >= 0:
            m.flows["metro_satellite_arrivals"][dest] += 1

    def follow_head(self) -> None:
        """A member living with its head, where the head is not, takes the head's place and residence
        record (months, permit)."""
        h = self.household.head
        if h is None or not self.with_head or (self.city == h.city and self.urban == h.urban):
            return
        self.city = h.city
        self.urban = h.urban
        self.months_in_city = h.months_in_city
        self.permit = h.permit

    # -- settlement ------------------------------------------------------------------------------
    def is_candidate(self) -> bool:
        """A living migrant head (rural hukou, in a town or city)."""
        return self.alive and self.is_head and self.urban and not self.hukou_urban

    def apply_to_settle(self) -> None:
        """A migrant head in an open or relaxed city who meets the conditions settles with the take-up
        probability (points cities admit once a year, see ``ReferenceModel.admit_by_points``)."""
        if not self.is_candidate():
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
        if not hk.habitual_residence and not self.permit:
            ok = False  # proof of legal stable residence
        if ok and m.rng.random() < m.takeup(self):
            self.take_hukou()
            m.settled[self.household] = "open_relaxed"

    def points(self) -> float:
        """Points of a points-city applicant: insurance and residence years weigh most, then skill."""
        return self.insured_months / 12.0 + 0.5 * self.months_in_city / 12.0 + 2.0 * self.skill

    def take_hukou(self) -> None:
        self.hukou_urban = True
        self.hukou_city = self.city

    def settlement_outcome(self) -> str:
        """What the settlement of this person's head does to it this month: "settles" (the head; a
        co-resident rural-hukou member: whole family always, else with ``member_settle_share``, one draw a
        month however often asked), "joins" (whole family: a left-behind spouse or child) or "stays"."""
        m = self.model
        hk = m.scenario.policy.hukou
        h = self.household.head
        if h is self:
            return "settles"
        if self.with_head and self.city == h.city and not self.hukou_urban:
            if hk.whole_family:
                return "settles"
            if self not in m.member_draws:
                m.member_draws[self] = m.rng.random()
            return "settles" if m.member_draws[self] < hk.member_settle_share else "stays"
        if hk.whole_family and not self.hukou_urban and self.joins_head():
            return "joins"
        return "stays"

    def settle_with_head(self) -> None:
        """Members of a household whose head settled this month follow :meth:`settlement_outcome`; a
        joiner first moves to the head."""
        m = self.model
        route = m.settled.get(self.household)
        if route is None:
            return
        outcome = self.settlement_outcome()
        if outcome == "stays":
            return
        h = self.household.head
        k = h.city
        if outcome == "joins":
            self.with_head = True
            self.city = k
            self.urban = h.urban
            self.months_in_city = h.months_in_city
            self.permit = h.permit
            self.housing = h.housing
            m.flows["family_joiners"][k] += 1
        self.hukou_urban = True
        self.hukou_city = k
        m.flows["settlements"][k] += 1
        if route == "points":
            m.flows["points_settlements"][k] += 1

    # -- services --------------------------------------------------------------------------------
    def use_services(self) -> None:
        """Months of residence, residence permit, insurance months; a child under 18 where its head
        lives rejoins the head; school status (seats are allocated afterwards)."""
        m = self.model
        migrant = self.is_migrant
        if migrant:
            if self.months_in_city < MAX_MONTHS:
                self.months_in_city += 1
            if (not self.permit and self.months_in_city >= m.scenario.policy.services.permit_residence_months
                    and m.rng.random() < m.permit_prob):
                self.permit = True
            if self.employed and self.insured_months < MAX_MONTHS and m.rng.random() < m.insurance_prob:
                self.insured_months += 1
        away = self.head_away
        if (not self.with_head and self.role == CHILD and self.age < ADULT_AGE and self.household.head is not None
                and not away):
            self.with_head = True  # the family is together again (e.g. the head came home)
        if self.age < SCHOOL_AGE_MIN or self.age > SCHOOL_AGE_MAX:
            self.school = SCHOOL_NONE
        elif away:
            self.school = SCHOOL_LEFT_BEHIND
        elif not migrant:
            self.school = SCHOOL_HOME
        elif self.school not in (SCHOOL_PUBLIC, SCHOOL_PRIVATE):
            self.school = SCHOOL_NONE  # accompanying, not yet placed

    @property
    def seat_level(self) -> int:
        return COMPULSORY if self.age >= COMPULSORY_AGE_MIN else PRESCHOOL


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
        self.scenario = sc = engine.scenario
        self.behaviour = b = sc.behaviour
        pol = sc.policy
        self.scale = engine.scale
        self.geo = engine.geo
        # Monthly probabilities by single year of age 0..100, as plain lists.
        self.death_prob_male = engine.demography.death_prob_male.tolist()
        self.death_prob_female = engine.demography.death_prob_female.tolist()
        self.birth_prob = engine.demography.birth_prob.tolist()
        # Settlement take-up: landholders are deterred by the risk to their rural rights unless the rights
        # are protected and they trust the guarantee.
        deterrence = b.rural_rights_value * ((1.0 - b.rights_guarantee_trust) if pol.rural_rights.rights_protected
                                             else 1.0)
        self.takeup_land = settle_takeup_factor * b.settle_takeup * (1.0 - deterrence)
        self.takeup_noland = settle_takeup_factor * b.settle_takeup
        # Residence permits: automatic when linked to the ID card, else the take-up hazard scaled by the
        # value of what the permit unlocks against the status-quo package.
        self.permit_prob = 1.0 if pol.services.permit_id_linked else min(
            1.0, b.permit_hazard * service_value(pol.services) / service_value(Services()))
        self.insurance_prob = min(1.0, b.insurance_enrolment
                                  * (b.insurance_limit_uplift if pol.insurance.hukou_limit_removed else 1.0))
        self.medical_bonus = b.medical_cross_province * (
            pol.insurance.direct_settlement_coverage - Insurance.model_fields["direct_settlement_coverage"].default)

        self.places = [Place(self, i, engine.city_state, self.geo, engine._seat_used, engine._seat_demand)
                       for i in range(self.geo.n_cities)]
        # Plain Python copies of the inputs of the destination logit (origin-destination terms).
        self.distance_km = [[float(x) for x in row] for row in self.geo.distance_km]
        self._destination_cdf: dict[tuple[int, int, bool], list[float]] = {}  # this month's, per agent type

        # People: one Person per engine row, in the engine's row order.
        p = engine.people
        columns = {name: p.columns[name][: p.n].tolist() for name in PERSON_FIELDS}
        self.rows: list[Person] = []
        self.households: dict[int, Household] = {}
        for i in range(p.n):
            attrs = {name: columns[name][i] for name in PERSON_FIELDS}
            for name in _BOOL_FIELDS:
                attrs[name] = bool(attrs[name])
            hid = attrs.pop("household")
            hh = self.households.get(hid)
            if hh is None:
                hh = self.households[hid] = Household(hid, self.rng)
            person = Person(self, hh, **attrs)
            if p.head_of[hid] == i:
                hh.head = person
        self.people = self.agents_by_type[Person]
        self.next_household_id = len(p.head_of)  # the engine issues split-off ids from here, in row order

        self.flows: defaultdict[str, Counter] = defaultdict(Counter)  # flow -> city -> agents this month
        self.newborns: list[dict] = []
        self.settled: dict[Household, str] = {}
        self.count_stocks()
        self.count_city_stocks()
        self.history: list[dict] = [self.summary()]
        self.datacollector = mesa.DataCollector(model_reporters={
            "resident_rate": lambda m: m.stocks["urban_residents"] / m.stocks["residents"],
            "hukou_rate": lambda m: m.stocks["urban_hukou"] / m.stocks["residents"],
        })
        self.datacollector.collect(self)

    @property
    def month_of_year(self) -> int:
        return (self.steps - 1) % 12 + 1

    @property
    def year(self) -> int:
        return self.scenario.start_year + (self.steps - 1) // 12

    def takeup(self, head: Person) -> float:
        return self.takeup_land if head.land else self.takeup_noland

    # -- the month -------------------------------------------------------------------------------
    def step(self) -> None:
        pol = self.scenario.policy
        self.flows = defaultdict(Counter)
        if self.month_of_year == 1 and self.steps > 1:
            self.new_year()
        for place in self.places:
            place.deliver_capacity(self.steps)
        self.people.do("die")
        for household in self.households.values():
            household.promote_next()
        self.newborns = []
        self.people.do("give_birth")
        for attrs in self.newborns:
            person = Person(self, newborn=True, **attrs)
            self.flows["births"][person.city] += 1
        self.people.do("work")
        self._destination_cdf = {}  # wages, rents, services and district sizes change between months
        self.people.do("move")
        self.people.do("follow_head")
        self.settle()
        self.people.do("use_services")
        self.allocate_school_seats()
        self.allocate_affordable_housing()
        self.reclassify()
        self.count_stocks()
        for place in self.places:
            place.update_labour_market(self.workers_by_city[place.index], self.steps)
        for place in self.places:
            place.commute(pol.metro_circles.commuting_share)
        for place in self.places:
            migrants = self.movers_by_city[place.index]
            place.renew(migrants)
            place.update_access(migrants)
            place.settled_this_year += self.flows["settlements"][place.index]
        self.count_city_stocks()
        self.history.append(self.summary())
        self.datacollector.collect(self)
        if self.steps >= self.scenario.months:
            self.running = False

    def split_off(self, person: Person) -> None:
        """``person`` leaves its household's block and heads a new household (next id)."""
        old = person.household
        (old.newborns if person in old.newborns else old.block).remove(person)
        hh = self.households[self.next_household_id] = Household(self.next_household_id, self.rng)
        self.next_household_id += 1
        hh.block.append(person)
        hh.head = person
        person.household = hh
        person.role = HEAD
        person.with_head = True

    def new_year(self) -> None:
        for person in self.people:
            if person.age < MAX_AGE:
                person.age += 1
        for household in self.households.values():
            household.compact()
        self.rows = [p for hid in sorted(self.households) for p in self.households[hid].block]
        for place in self.places:
            rewards = place.new_year(self.urban_by_city[place.index], self.movers_by_city[place.index])
            self.flows["fiscal_rewards"][place.index] += int(rewards)

    def settle(self) -> None:
        self.settled = {}
        self.member_draws: dict[Person, float] = {}  # members' settle-or-stay draws of this month
        self.people.do("apply_to_settle")
        if self.month_of_year == 12:
            self.admit_by_points()
        self.people.do("settle_with_head")

    def admit_by_points(self) -> None:
        """December: permit-holding heads in points cities with enough insurance months apply (with the
        take-up probability compounded over the year); each city admits them in points order (ties: row
        order) while its annual quota in persons covers the members the settlement gives a hukou."""
        hk = self.scenario.policy.hukou
        applicants = [h for h in self.rows
                      if h.is_candidate() and self.places[h.city].tier == TIER_POINTS and h.permit
                      and h.insured_months >= hk.points_min_insured_months
                      and self.rng.random() < 1.0 - (1.0 - self.takeup(h)) ** 12]
        applicants.sort(key=lambda h: (h.city, -h.points()))  # stable: ties stay in row order
        for head in applicants:
            place = self.places[head.city]
            size = sum(1 for p in head.household.members if p.alive and p.settlement_outcome() != "stays")
            if not hk.abolish_annual_quota:
                if size > place.quota_left:
                    continue
                place.quota_left -= size
            head.take_hukou()
            self.settled[head.household] = "points"

    def allocate_school_seats(self) -> None:
        """Public seats for migrant children, serially in row order (public <= seats): families bring a
        left-behind child; incumbents keep seats while they last; new children (and in September those in
        private schools) apply; a new child without a seat goes back home with ``leave_behind_if_no_seat``."""
        pol, b = self.scenario.policy, self.behaviour
        rng = self.rng
        n = len(self.places)
        used = [[0] * n, [0] * n]
        admission = pol.children.admission_share
        renter = 1.0 if pol.housing.renters_equal_services else b.renter_admission_factor
        school_months = 12 * pol.services.years_school
        reapply = self.month_of_year == 9
        for p in self.rows:  # 1. bring left-behind children of school age
            if not p.alive or p.role != CHILD or p.with_head or p.hukou_urban:
                continue
            if p.age < SCHOOL_AGE_MIN or p.age > SCHOOL_AGE_MAX:
                continue
            h = p.household.head
            if h is None or not h.urban or h.housing == HOME or not p.head_away:
                continue
            if rng.random() < b.bring_children_hazard * self.places[h.city].seat_chance:
                p.with_head = True
                p.city, p.urban = h.city, True
                p.months_in_city, p.permit, p.housing = h.months_in_city, h.permit, h.housing
                p.school = SCHOOL_NONE
                self.flows["children_brought"][h.city] += 1
        for p in self.rows:  # 2. incumbents
            if p.school != SCHOOL_PUBLIC or not p.is_migrant:
                continue
            if p.months_in_city <= 1:
                p.school = SCHOOL_NONE  # moved this month: applies again in the new city
                continue
            lv, k = p.seat_level, p.city
            if used[lv][k] + 1 <= self.places[k].seats[lv]:
                used[lv][k] += 1
            else:
                p.school = SCHOOL_PRIVATE
        for p in self.rows:  # 3. applicants
            if not p.is_migrant or p.age < SCHOOL_AGE_MIN or p.age > SCHOOL_AGE_MAX:
                continue
            new = p.school == SCHOOL_NONE or (p.school == SCHOOL_PRIVATE and p.months_in_city <= 1)
            if not new and not (reapply and p.school == SCHOOL_PRIVATE):
                continue
            h = p.household.head or p
            lv, k = p.seat_level, p.city
            prob = admission * (renter if h.housing == RENTED else 1.0)
            eligible = h.permit and h.months_in_city >= school_months
            if eligible and used[lv][k] + 1 <= self.places[k].seats[lv] and rng.random() < prob:
                p.school = SCHOOL_PUBLIC
                used[lv][k] += 1
            elif new and h is not p and rng.random() < b.leave_behind_if_no_seat:
                self.flows["children_sent_back"][k] += 1
                p.with_head = False
                p.city, p.urban = p.origin_city, False
                p.months_in_city, p.permit, p.housing = 0, False, HOME
                p.school = SCHOOL_LEFT_BEHIND
            else:
                p.school = SCHOOL_PRIVATE
        demand = [[0] * n, [0] * n]  # 4. accompanying migrant children by level
        for p in self.people:
            if p.school in (SCHOOL_PUBLIC, SCHOOL_PRIVATE) and p.is_migrant:
                demand[p.seat_level][p.city] += 1
        for place in self.places:
            place.seats_used = [used[COMPULSORY][place.index], used[PRESCHOOL][place.index]]
            place.seat_demand = [demand[COMPULSORY][place.index], demand[PRESCHOOL][place.index]]

    def allocate_affordable_housing(self) -> None:
        """Affordable rental places, serially in row order (occupants <= places): tenant families leave
        with the turnover hazard (one draw per household), eligible renting migrant heads (not those who
        just left) apply for their co-resident family while places last, and co-resident members share
        the head's housing."""
        hs, b = self.scenario.policy.housing, self.behaviour
        used = [0] * len(self.places)
        size: Counter = Counter()
        stays: dict[Household, bool] = {}
        for p in self.rows:  # 1. family sizes and tenants' stay-or-leave
            if not p.alive or not p.lives_with_head:
                continue
            hh = p.household
            size[hh] += 1
            if hh.head.housing == AFFORDABLE:
                if hh not in stays:
                    stays[hh] = self.rng.random() >= b.affordable_turnover
                if stays[hh]:
                    used[p.city] += 1
                elif p is hh.head:
                    p.housing = RENTED
        for p in self.rows:  # 2. applicants (not a family that left this month)
            if p.housing != RENTED or not p.is_head or not p.is_migrant or stays.get(p.household) is False:
                continue
            if p.months_in_city < hs.eligibility_residence_months or p.insured_months < hs.eligibility_insured_months:
                continue
            k, need = p.city, size[p.household]
            if self.rng.random() < b.affordable_apply and used[k] + need <= self.places[k].affordable_places:
                p.housing = AFFORDABLE
                used[k] += need
                self.flows["affordable_allocations"][k] += need
        for p in self.rows:  # 3. members share the head's housing
            h = p.household.head
            if p.alive and p.with_head and h is not None and h is not p and p.city == h.city:
                p.housing = h.housing

    def reclassify(self) -> None:
        """In-situ urbanization: one draw per household, against each rural member's city rate,
        reclassifies the area as urban; one more converts the reclassified rural-hukou members."""
        share = self.behaviour.reclassify_hukou_share
        for household in self.households.values():
            rural = [p for p in household.members if p.alive and not p.urban]
            if not rural:
                continue
            u, convert = self.rng.random(), None
            for p in rural:
                place = self.places[p.city]
                if u >= place.reclassify_rate:
                    continue
                p.urban = True
                self.flows["reclassified"][p.city] += 1
                if place.in_potential_region:
                    self.flows["potential_region_reclassified"][p.city] += 1
                if not p.hukou_urban:
                    if convert is None:
                        convert = self.rng.random() < share
                    if convert:
                        p.take_hukou()
                        self.flows["reclassified_hukou"][p.city] += 1

    # -- destination choice ----------------------------------------------------------------------
    def destination_cdf(self, origin: int, skill: int, family: bool) -> list[float]:
        """Cumulative logit choice probabilities over destinations for one agent type, computed in
        plain Python (engine: ``sim.choice``); computed when first needed in a month and kept for it."""
        key = (origin, skill, family)
        cdf = self._destination_cdf.get(key)
        if cdf is not None:
            return cdf
        b = self.behaviour
        o = self.places[origin]
        v = []
        for d in self.places:
            u = b.beta_wage * math.log(d.wage) - b.beta_housing * math.log(d.expected_rent()) + d.services
            u -= b.beta_distance * math.log1p(self.distance_km[origin][d.index] / 100.0)
            u += b.same_province if d.province == o.province else self.medical_bonus
            u += b.home_city if d.index == origin else 0.0
            u += b.beta_size_by_skill * skill * math.log(max(d.district_pop, 1.0) / 1e6)
            u += d.school_value if family else 0.0
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

    def choose_destination(self, origin: int, skill: int, family: bool) -> int:
        """The first destination whose cumulative probability exceeds a uniform draw."""
        return bisect_right(self.destination_cdf(origin, skill, family), self.rng.random())

    # -- tallies ---------------------------------------------------------------------------------
    def count_stocks(self) -> None:
        """National stocks named as in the engine's ``STOCKS`` and ``CITY_STOCKS``, and urban residents,
        migrants living away from home and employed migrants per city."""
        s = Counter({name: 0 for name in STOCKS})
        n = len(self.places)
        self.urban_by_city, self.movers_by_city, self.workers_by_city = [0] * n, [0] * n, [0] * n
        for p in self.people:
            s["residents"] += 1
            if p.urban:
                s["urban_residents"] += 1
                self.urban_by_city[p.city] += 1
            if p.hukou_urban:
                s["urban_hukou"] += 1
            if p.school == SCHOOL_LEFT_BEHIND:
                s["children_left_behind"] += 1
            if not p.is_migrant:
                continue
            s["migrants"] += 1
            if p.housing != HOME:  # away from home: what the city's housing and service levers provide for
                self.movers_by_city[p.city] += 1
            if p.city != p.hukou_city:
                s["cross_city_migrants"] += 1
                if self.places[p.city].province != self.places[p.hukou_city].province:
                    s["interprovincial_migrants"] += 1
            if WORK_AGE_MIN <= p.age <= WORK_AGE_MAX:
                s["working_age_migrants"] += 1
            if p.housing == AFFORDABLE:
                s["migrants_affordable_housing"] += 1
            elif p.housing == HOME:
                s["in_situ_residents"] += 1
            if p.employed:
                s["migrant_workers"] += 1
                self.workers_by_city[p.city] += 1
                if p.insured_months >= INSURED_MIN_MONTHS:
                    s["insured_migrant_workers"] += 1
                if p.skill >= SKILLED_MIN_LEVEL:
                    s["skilled_migrant_workers"] += 1
            s["permit_holders"] += p.permit
            if p.school == SCHOOL_PUBLIC:
                s["children_public_school"] += 1
            elif p.school == SCHOOL_PRIVATE:
                s["children_private_school"] += 1
        self.stocks = s

    def count_city_stocks(self) -> None:
        """The engine's ``CITY_STOCKS`` (agents, national), after the month's city bookkeeping."""
        self.city_stocks = {
            "public_school_seats": sum(place.seats[COMPULSORY] for place in self.places),
            "preschool_seats": sum(place.seats[PRESCHOOL] for place in self.places),
            "affordable_places": sum(place.affordable_places for place in self.places),
            "urban_village_places": sum(place.urban_village_places for place in self.places),
        }
        assert tuple(self.city_stocks) == CITY_STOCKS

    def national_flow(self, name: str) -> int:
        return sum(self.flows[name].values())

    def summary(self) -> dict:
        """National stocks, city stocks and flows (agents) and the two urbanization rates of the month."""
        out = {"month": self.steps, **self.stocks, **self.city_stocks,
               **{f: self.national_flow(f) for f in FLOWS}}
        out["resident_rate"] = self.stocks["urban_residents"] / self.stocks["residents"]
        out["hukou_rate"] = self.stocks["urban_hukou"] / self.stocks["residents"]
        return out

    def rates(self) -> tuple[float, float]:
        """(resident rate, hukou rate) of the current month."""
        return (self.stocks["urban_residents"] / self.stocks["residents"],
                self.stocks["urban_hukou"] / self.stocks["residents"])
