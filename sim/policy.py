"""Scenario files: the plan's levers and the behavioural parameters, as typed, validated settings.

A scenario is a YAML file validated by pydantic. Unknown keys, wrong types and out-of-range values
are rejected (``extra="forbid"`` and field bounds); :mod:`sim.scenario_io` turns the first error into
one line naming the file, the key and the allowed values. Every lever's description names the
clause of 国发〔2024〕17号 it models (section numbers as in the plan: 二 citizenization,
三 potential regions, 四 metropolitan circles, 五 urban renewal).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Strict(BaseModel):
    """Base for every settings block: no unknown keys, values re-validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Hukou(Strict):
    """二.(二).1 深化户籍制度改革: settlement rules by urban-district population tier."""

    open_below: float = Field(
        3_000_000, ge=0, le=50_000_000,
        description="二.(二).1: cities with urban-district population below this lift all settlement limits.",
    )
    points_above: float = Field(
        5_000_000, ge=0, le=50_000_000,
        description="二.(二).1: cities above this use points-based settlement (超大特大城市积分落户).",
    )
    relaxed_residence_months: int = Field(
        24, ge=0, le=240,
        description="二.(二).1: months of residence required in 3-5M cities (全面放宽落户条件).",
    )
    relaxed_insured_months: int = Field(
        24, ge=0, le=240,
        description="二.(二).1: months of social-insurance contributions required in 3-5M cities.",
    )
    open_residence_months: int = Field(
        6, ge=0, le=240,
        description="二.(二).1: months of habitual residence before settling in open cities "
        "(以经常居住地登记户口; 0 = settle on arrival).",
    )
    points_quota_per_million: float = Field(
        1500, ge=0, le=1_000_000,
        description="二.(二).1: annual points-settlement quota per million urban-district residents "
        "in >5M cities (年度落户名额).",
    )
    abolish_annual_quota: bool = Field(
        False, description="二.(二).1: 鼓励取消年度落户名额限制 - points cities settle every eligible applicant."
    )
    points_min_insured_months: int = Field(
        60, ge=0, le=480,
        description="二.(二).1: insurance months needed to enter the points queue in >5M cities.",
    )
    habitual_residence: bool = Field(
        False, description="二.(二).1 推行以经常居住地登记户口制度: settle where one habitually lives. False (status "
        "quo): open and relaxed cities also require proof of legal stable residence, modelled as holding a "
        "residence permit; True: months of habitual residence suffice.",
    )
    whole_family: bool = Field(
        False, description="二.(二).1 促进...举家进城落户: True - a settling head takes the whole family: every "
        "co-resident member settles and a left-behind spouse and children join the head and settle too. "
        "False (status quo) - each co-resident member settles with probability member_settle_share "
        "(families keep a rural registration, 一家两制), left-behind members stay.",
    )
    member_settle_share: float = Field(
        0.7, ge=0, le=1,
        description="二.(二).1 (status quo of whole_family=False): probability that a co-resident member "
        "transfers its hukou with the settling head (assumption).",
    )


class Services(Strict):
    """二.(二).2 健全常住地提供基本公共服务制度: residence permits and residence-based services."""

    permit_residence_months: int = Field(
        6, ge=0, le=120,
        description="二.(二).2: months of residence before a residence permit (居住证) can be issued.",
    )
    permit_id_linked: bool = Field(
        False, description="二.(二).2 推进居住证与身份证功能衔接: True - the permit is issued automatically once "
        "the residence months are met; False - eligible residents apply with behaviour.permit_hazard per month "
        "(scaled by the value of what the permit unlocks).",
    )
    coverage: float = Field(
        0.6, ge=0, le=1,
        description="二.(二).2 增加常住人口可享有的基本公共服务项目: share of the basic public-service package "
        "open to non-hukou permit holders (assumption: 0.6 before the plan).",
    )
    years_public_rental: int = Field(
        5, ge=0, le=20,
        description="二.(二).2 与居住年限相挂钩: years of residence (with a permit) before public rental housing "
        "(公租房) and its services are open to a non-hukou resident.",
    )
    years_school: int = Field(
        1, ge=0, le=20,
        description="二.(二).2/二.(二).4: years of the parent's residence (with a permit) before a child may apply "
        "for a public-school seat.",
    )
    years_medical: int = Field(
        1, ge=0, le=20,
        description="二.(二).2/二.(二).6 持居住证参加城乡居民基本医疗保险: years before residents' medical "
        "insurance and public health services are open.",
    )
    years_employment: int = Field(
        1, ge=0, le=20,
        description="二.(二).2: years before vocational exams, training subsidies and employment services are open.",
    )


class Employment(Strict):
    """二.(二).3 促进农业转移人口在城镇稳定就业: skills training and employment services."""

    training_places_per_1000: float = Field(
        40, ge=0, le=1000,
        description="二.(二).3 制造业技能根基工程, 稳定职业院校面向农业转移人口招生规模: subsidised skills-training "
        "places per year per 1,000 working-age migrants; a completed training raises the skill level by one "
        "(up to level 2, vocational certificate). Assumption: 40 before the plan.",
    )
    service_coverage: float = Field(
        0.5, ge=0, le=1,
        description="二.(二).3 推进就业服务常住人口全覆盖: share of unemployed migrants reached by public "
        "employment services, which raise job finding (behaviour.employment_service_effect).",
    )


class Children(Strict):
    """二.(二).4 保障随迁子女在流入地受教育权利: public-school seats and admission of migrant children."""

    compulsory_seats_per_child: float = Field(
        0.9, ge=0, le=5,
        description="二.(二).4 以公办学校为主: public compulsory-school seats (ages 6-15) open to migrant children "
        "at the start, per accompanying migrant child of that age in the city (2023: ~90% in public or "
        "government-purchased places).",
    )
    preschool_seats_per_child: float = Field(
        0.5, ge=0, le=5,
        description="二.(二).4 普惠性学前教育: public/affordable preschool seats (ages 3-5) open to migrant children "
        "at the start, per accompanying migrant child of that age (assumption).",
    )
    compulsory_seat_growth: float = Field(
        0.02, ge=-0.5, le=1,
        description="二.(二).4 加大公办学校学位供给力度: annual growth of compulsory seats open to migrant children.",
    )
    preschool_seat_growth: float = Field(
        0.02, ge=-0.5, le=1,
        description="二.(二).4 加快将随迁子女纳入...普惠性学前教育保障范围: annual growth of preschool seats.",
    )
    admission_share: float = Field(
        0.85, ge=0, le=1,
        description="二.(二).4 持续提高随迁子女在公办学校就读比例: probability that an applying migrant child meets "
        "the documentary conditions (五证 etc.) for a public seat, when a seat is free.",
    )
    seats_follow_population: bool = Field(
        False, description="二.(二).4 建立同人口变化相协调的基本公共教育服务供给机制: each January a city adds half "
        "the shortfall between its migrant children of school age and its seats (True) or not (False).",
    )


class Housing(Strict):
    """二.(二).5 完善农业转移人口多元化住房保障体系: affordable rental housing, eligibility, rental market."""

    affordable_places_per_100_migrants: float = Field(
        2.0, ge=0, le=100,
        description="二.(二).5: affordable rental places (保障性租赁住房, persons) open to migrants at the start, "
        "per 100 migrants in the city living away from home (assumption).",
    )
    affordable_growth_per_100_migrants: float = Field(
        0.5, ge=0, le=100,
        description="二.(二).5 加大...小户型保障性租赁住房供给: places added per year per 100 migrants in the city "
        "living away from home.",
    )
    eligibility_residence_months: int = Field(
        60, ge=0, le=480,
        description="二.(二).5 将稳定就业生活的农业转移人口纳入城市住房保障: months of residence before a migrant "
        "household may apply for affordable rental housing.",
    )
    eligibility_insured_months: int = Field(
        24, ge=0, le=480,
        description="二.(二).5 (稳定就业): months of social-insurance contributions required to apply.",
    )
    rental_market_growth: float = Field(
        0.0, ge=0, le=0.5,
        description="二.(二).5 积极培育发展住房租赁市场: annual fall of the market rent index from added rental "
        "supply (assumption: 0 before the plan).",
    )
    renters_equal_services: bool = Field(
        False, description="二.(二).5 逐步使租购住房群体享有同等公共服务权利: True - renting families' children "
        "are admitted to public schools like home owners'; False - renters' admission is scaled by "
        "behaviour.renter_admission_factor.",
    )


class Insurance(Strict):
    """二.(二).6 扩大农业转移人口社会保障覆盖面: enrolment, portability, medical settlement, injury cover."""

    hukou_limit_removed: bool = Field(
        False, description="二.(二).6 全面取消在就业地参保户籍限制: True raises the monthly enrolment probability of "
        "employed migrants by behaviour.insurance_limit_uplift.",
    )
    portability: float = Field(
        0.5, ge=0, le=1,
        description="二.(二).6 完善社保关系转移接续政策: probability that a migrant's contribution record follows "
        "it to a new city (else the record restarts at 0; assumption: 0.5 before the plan).",
    )
    direct_settlement_coverage: float = Field(
        0.5, ge=0, le=1,
        description="二.(二).6 增加异地就医直接结算定点医疗机构数量: share of hospitals with cross-region direct "
        "settlement; raises the utility of destinations outside the home province "
        "(behaviour.medical_cross_province x the change against the status-quo default).",
    )
    gig_injury_cover: float = Field(
        0.1, ge=0, le=1,
        description="二.(二).6 深入推进新就业形态人员职业伤害保障试点: share of gig workers (behaviour.gig_share of "
        "employed migrants) with occupational-injury cover; uncovered injured gig workers return home.",
    )


class Incentives(Strict):
    """二.(三).1 完善农业转移人口市民化激励政策: fiscal rewards and land quotas that follow settled people."""

    reward_per_settled_yuan: float = Field(
        3000, ge=0, le=1_000_000,
        description="二.(三).1 完善中央财政农业转移人口市民化奖励资金制度 (+ provincial rewards): yuan paid to a "
        "city each January per person it settled the year before (assumption: ~35-40 bn yuan central fund "
        "over ~12 M settlements a year).",
    )
    reward_share_capacity: float = Field(
        0.5, ge=0, le=1,
        description="二.(三).1: share of rewards spent on capacity for migrants (half on school seats, half on "
        "affordable rental places); the rest is general budget.",
    )
    capacity_lag_months: int = Field(
        12, ge=0, le=120,
        description="二.(三).1: months between a reward (or land quota) and the seats/places it builds.",
    )
    seat_cost_yuan: float = Field(
        60_000, gt=0, le=10_000_000,
        description="Assumption (not a lever): capital cost of one public-school seat.",
    )
    place_cost_yuan: float = Field(
        100_000, gt=0, le=10_000_000,
        description="Assumption (not a lever): capital cost of one affordable rental place (one person).",
    )
    land_quota_follows_population: bool = Field(
        False, description="二.(三).1 建立新增城镇建设用地指标配置同常住人口增加协调机制: True - each January a city "
        "whose urban residents grew gets land for school buildings and affordable housing, adding "
        "land_seats_per_100 and land_places_per_100 per 100 added residents (after the lag).",
    )
    land_seats_per_100: float = Field(
        4.0, ge=0, le=100, description="二.(三).1: school seats per 100 added urban residents under the land link.",
    )
    land_places_per_100: float = Field(
        4.0, ge=0, le=100,
        description="二.(三).1: affordable rental places per 100 added urban residents under the land link.",
    )


class RuralRights(Strict):
    """二.(三).2 健全进城落户农民农村权益维护政策: land rights not a condition of settling."""

    rights_protected: bool = Field(
        False, description="二.(三).2 不得以退出土地承包权、宅基地使用权、集体收益分配权作为进城落户的条件: True - "
        "the deterrent behaviour.rural_rights_value is removed for the share behaviour.rights_guarantee_trust "
        "of landholders who trust the guarantee; False - every landholder weighs the risk of losing rights.",
    )


class PotentialRegions(Strict):
    """三 实施潜力地区城镇化水平提升行动: the seven regions (冀中南, 皖北, 鲁西南, 豫东南, 湘西南, 粤西, 川东)."""

    cluster_job_growth: float = Field(
        0.0, ge=-0.5, le=0.5,
        description="三.(二).1-2 培育特色优势产业集群, 促进产业园区提级扩能: extra annual growth of migrant jobs in "
        "the regions' cities (assumption for the plan value).",
    )
    cluster_wage_growth: float = Field(
        0.0, ge=-0.5, le=0.5, description="三.(二).1: extra annual wage growth in the regions' cities.",
    )
    in_situ_multiplier: float = Field(
        1.0, ge=0, le=10,
        description="三.(二).4 推进以县城为重要载体的城镇化建设, 促进就近城镇化: multiplier on the in-situ "
        "reclassification rate in the regions' cities.",
    )
    training_multiplier: float = Field(
        1.0, ge=0, le=10,
        description="三.(二).3 加大潜力地区职业院校、实训基地建设力度: multiplier on skills-training places there.",
    )


class MetroCircles(Strict):
    """四 实施现代化都市圈培育行动: commuting and shared services between core and satellite cities."""

    commuting_share: float = Field(
        0.1, ge=0, le=1,
        description="四.(二).1 提升城际通勤效率: share of the core city's wage and job finding that a satellite "
        "city's residents reach by commuting (assumption: 0.1 before the plan).",
    )
    shared_services: float = Field(
        0.0, ge=0, le=1,
        description="四.(二).4 推进公共服务共建共享: share of the core's service-quality advantage (schools, "
        "hospitals) available in its satellites.",
    )


class UrbanRenewal(Strict):
    """五 实施城市更新和安全韧性提升行动: old-compound and urban-village renovation."""

    old_compound_renovation: float = Field(
        0.03, ge=0, le=1,
        description="五.(二).1 推进城镇老旧小区改造: share of the pre-2000 old-compound stock renovated per year; "
        "raises amenity (retention, behaviour.renewal_retention) and rents a little.",
    )
    urban_village_renovation: float = Field(
        0.01, ge=0, le=1,
        description="五.(二).2 推进城中村改造: share of urban-village housing renovated per year; removes cheap "
        "rentals (rents rise), improves amenity, and returns a share as affordable rental places.",
    )
    urban_village_affordable_share: float = Field(
        0.1, ge=0, le=1,
        description="五.(二).2 加大保障性住房建设和供给: share of renovated urban-village housing returned as "
        "affordable rental places for migrants.",
    )


class Policy(Strict):
    """The levers of the plan, grouped by clause (one sub-model per group)."""

    hukou: Hukou = Hukou()
    services: Services = Services()
    employment: Employment = Employment()
    children: Children = Children()
    housing: Housing = Housing()
    insurance: Insurance = Insurance()
    incentives: Incentives = Incentives()
    rural_rights: RuralRights = RuralRights()
    potential_regions: PotentialRegions = PotentialRegions()
    metro_circles: MetroCircles = MetroCircles()
    urban_renewal: UrbanRenewal = UrbanRenewal()


class Behaviour(Strict):
    """Behavioural parameters (fitted by calibration; defaults are stated assumptions, PROVENANCE.md)."""

    migrate_hazard: float = Field(
        0.004, ge=0, le=1, description="Monthly probability that a rural working-age household head "
        "considers moving to a town or city."
    )
    leave_home_hazard: float = Field(
        0.004, ge=0, le=1, description="Monthly probability that a rural working-age adult child living at home "
        "leaves on its own for a town or city (and heads a household of its own), at ages up to "
        "`leave_home_peak_age`."
    )
    leave_home_peak_age: int = Field(
        24, ge=16, le=59, description="Last age at which an adult child at home leaves with the full "
        "`leave_home_hazard`; older ones leave at a rate decaying with `leave_home_age_decay`."
    )
    leave_home_age_decay: float = Field(
        5.0, gt=0, le=1000, description="Years over which the leave-home hazard falls by a factor e past "
        "`leave_home_peak_age`: most young people who leave the countryside do so soon after school."
    )
    return_hazard: float = Field(
        0.004, ge=0, le=1, description="Monthly probability that an employed migrant returns to the rural home."
    )
    return_unemployed_factor: float = Field(
        4.0, ge=0, le=100, description="Multiplier on the return hazard while unemployed."
    )
    return_age50_factor: float = Field(
        2.0, ge=0, le=100, description="Multiplier on the return hazard at age 50 and over."
    )
    onward_hazard: float = Field(
        0.003, ge=0, le=1, description="Monthly probability that an unemployed migrant looks for another city."
    )
    beta_wage: float = Field(3.0, ge=0, le=50, description="Logit weight on log destination wage.")
    beta_housing: float = Field(0.8, ge=0, le=50, description="Logit weight on log housing cost.")
    beta_distance: float = Field(1.0, ge=0, le=50, description="Logit weight on log(1 + distance/100 km).")
    beta_size_by_skill: float = Field(
        0.15, ge=-5, le=5, description="Logit weight on log urban-district size per skill level."
    )
    same_province: float = Field(1.2, ge=-10, le=10, description="Logit bonus for destinations in the home province.")
    home_city: float = Field(1.5, ge=-10, le=10, description="Logit bonus for the urban part of the home prefecture.")
    settle_takeup: float = Field(
        0.012, ge=0, le=1, description="Monthly probability that an eligible migrant household applies to settle."
    )
    rural_rights_value: float = Field(
        0.4, ge=0, le=1, description="Share of would-be settlers deterred by fear of losing land rights."
    )
    reclassify_rate: float = Field(
        0.0009, ge=0, le=0.1, description="Monthly share of rural residents whose area is reclassified urban."
    )
    reclassify_hukou_share: float = Field(
        0.3, ge=0, le=1, description="Share of reclassified residents converted to urban hukou (村改居)."
    )
    job_finding: float = Field(
        0.25, ge=0, le=1, description="Monthly job-finding probability of an unemployed migrant."
    )
    job_separation: float = Field(0.012, ge=0, le=1, description="Monthly job-loss probability of an employed migrant.")
    labour_demand_growth: float = Field(
        0.01, ge=-0.5, le=0.5, description="Annual growth of non-farm jobs for migrants in each city."
    )
    permit_hazard: float = Field(
        0.15, ge=0, le=1, description="Monthly probability that an eligible resident obtains a residence permit."
    )
    insurance_enrolment: float = Field(
        0.35, ge=0, le=1, description="Probability that an employed migrant's job contributes to employee insurance."
    )
    # -- responses to the plan's levers (sim/policy.py Policy; docs/levers.md). Assumptions until calibrated.
    services_retention: float = Field(
        0.5, ge=0, le=1, description="Proportional fall of the return hazard of a migrant with access to the whole "
        "residence-based service package (access = coverage x weights of the items its years unlock)."
    )
    beta_services: float = Field(
        1.0, ge=0, le=50, description="Logit weight of the service index open to a non-hukou newcomer."
    )
    beta_school: float = Field(
        1.0, ge=0, le=50, description="Logit weight, for families with children of school age, of the chance of a "
        "public-school seat at the destination."
    )
    skill_wage_premium: float = Field(
        0.08, ge=0, le=1, description="Log-wage premium per skill level; enters the stay-or-return decision as "
        "beta_wage x premium x (skill - 1)."
    )
    skill_job_finding: float = Field(
        0.1, ge=0, le=2, description="Relative rise of the job-finding probability per skill level above 1."
    )
    employment_service_effect: float = Field(
        0.4, ge=0, le=5, description="Relative rise of job finding for an unemployed migrant reached by public "
        "employment services (applied relative to the status-quo coverage)."
    )
    bring_children_hazard: float = Field(
        0.01, ge=0, le=1, description="Monthly probability that a migrant family brings a left-behind child of "
        "school age, times the chance of a public seat in its city."
    )
    leave_behind_if_no_seat: float = Field(
        0.4, ge=0, le=1, description="Probability that a family whose child finds no public seat sends the child "
        "back to the origin (left behind) rather than paying for a private school."
    )
    renter_admission_factor: float = Field(
        0.8, ge=0, le=1, description="Relative admission chance of renters' children where renters lack equal "
        "service rights (租购不同权)."
    )
    affordable_apply: float = Field(
        0.05, ge=0, le=1, description="Monthly probability that an eligible renting migrant household applies "
        "for affordable rental housing."
    )
    affordable_turnover: float = Field(
        0.0167, ge=0, le=1, description="Monthly probability that a household leaves affordable rental housing "
        "for the market (mean tenancy ~5 years)."
    )
    affordable_return_factor: float = Field(
        0.5, ge=0, le=1, description="Multiplier on the return hazard of households in affordable rental housing."
    )
    affordable_rent_discount: float = Field(
        0.3, ge=0, le=1, description="Rent discount of affordable rental against the market (newcomers weigh it by "
        "their chance of a place)."
    )
    insurance_limit_uplift: float = Field(
        1.4, ge=1, le=5, description="Multiplier on the enrolment probability once hukou limits on enrolment at "
        "the place of work are removed."
    )
    medical_cross_province: float = Field(
        0.5, ge=0, le=10, description="Utility, for destinations outside the home province, of going from no to "
        "full cross-region direct medical settlement."
    )
    gig_share: float = Field(
        0.2, ge=0, le=1, description="Share of employed migrants in gig / new-form employment (新就业形态)."
    )
    gig_injury_return: float = Field(
        0.002, ge=0, le=1, description="Monthly probability that an uninsured gig worker is injured and returns home."
    )
    rights_guarantee_trust: float = Field(
        0.6, ge=0, le=1, description="Share of landholders for whom protected rural rights remove the deterrent."
    )
    renewal_retention: float = Field(
        0.5, ge=0, le=5, description="Proportional fall of the return hazard per unit of renovation amenity."
    )
    urban_village_rent_elasticity: float = Field(
        1.0, ge=0, le=10, description="Relative rise of a city's rent index per share of its migrant rental "
        "stock removed by urban-village renovation."
    )


class Scenario(Strict):
    """One projection: what to run and under which policy."""

    name: str = Field(..., min_length=1, description="Short name used for the results folder.")
    description: str = ""
    extends: str | None = Field(None, description="Path of a scenario this one overrides (relative to this file).")
    start_year: int = Field(2025, ge=2015, le=2030, description="First simulated year (month 1 = January).")
    months: int = Field(60, ge=1, le=240, description="Number of monthly steps.")
    scale: int = Field(1000, ge=10, le=1_000_000, description="Persons represented by one agent.")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Random seed.")
    policy: Policy = Policy()
    behaviour: Behaviour = Behaviour()
    demography: Literal["demography.csv", "demography_2020.csv"] = Field(
        "demography.csv", description="Table of mortality, fertility and the census age-sex shares in the "
        "package's data (sim/data/PROVENANCE.md): demography.csv for projections (the levels of 2023-2024), "
        "demography_2020.csv for runs from end-2020 (the levels known by end-2022: the backtest's).")
    mobility_shocks: dict[int, float] = Field(
        default_factory=dict, description="Calendar year -> multiplier (0 to 5) on the monthly hazards of leaving "
        "home and of onward moves in that year: events outside the plan, such as the 2022 COVID-19 movement "
        "restrictions (fitted by calibration). Years outside the run have no effect.",
        json_schema_extra={"allowed": "a mapping of years 2000 to 2100 to factors from 0 to 5"})

    @field_validator("mobility_shocks")
    @classmethod
    def _shock_range(cls, shocks: dict[int, float]) -> dict[int, float]:
        for year, factor in shocks.items():
            if not 2000 <= year <= 2100 or not 0.0 <= factor <= 5.0:
                raise ValueError(f"year {year}: factor {factor} is out of range")
        return shocks

    def mobility_factor(self, year: int) -> float:
        """Multiplier on the hazards of leaving home and of onward moves in calendar ``year``."""
        return float(self.mobility_shocks.get(year, 1.0))
