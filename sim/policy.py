"""Scenario files: the plan's levers and the behavioural parameters, as typed, validated settings.

A scenario is a YAML file validated by pydantic. Unknown keys, wrong types and out-of-range values
are rejected (``extra="forbid"`` and field bounds); :mod:`sim.scenario_io` turns the first error into
one line naming the file, the key and the allowed values. Every lever's description names the
clause of 国发〔2024〕17号 it models (section numbers as in the plan: 二 citizenization,
三 potential regions, 四 metropolitan circles, 五 urban renewal).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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


class Services(Strict):
    """二.(二).2 健全常住地提供基本公共服务制度: residence permits and residence-based services."""

    permit_residence_months: int = Field(
        6, ge=0, le=120,
        description="二.(二).2: months of residence before a residence permit (居住证) can be issued.",
    )


class Policy(Strict):
    """The levers of the plan, grouped by clause."""

    hukou: Hukou = Hukou()
    services: Services = Services()


class Behaviour(Strict):
    """Behavioural parameters (fitted by calibration; defaults are stated assumptions, PROVENANCE.md)."""

    migrate_hazard: float = Field(
        0.004, ge=0, le=1, description="Monthly probability that a rural working-age household head "
        "considers moving to a town or city."
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
    job_finding: float = Field(0.25, ge=0, le=1, description="Monthly job-finding probability of an unemployed migrant.")
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
