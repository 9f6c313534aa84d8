"""Initial population: households of agents placed so that official margins hold at the start date.

For each prefecture the synthesis fixes how many residents are (a) urban-hukou urban residents,
(b) rural residents, (c) rural-hukou urban residents from the same prefecture and (d) rural-hukou
urban residents from another prefecture, whose origins follow a gravity rule (rural population of
the origin, distance decay, same-province bonus). Totals match the national population, resident
and hukou urbanization rates of the start year; each prefecture keeps its census share of people
and (shifted) urban share. Households are then drawn in a numba loop, contiguous, head first.
All figures and assumptions are listed in ``sim/data/PROVENANCE.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.geography import Geography
from sim.population import People
from sim.rng import Stream, stream_key, uniform

URBAN_HUKOU, RURAL, LOCAL_MIGRANT, CROSS_MIGRANT = 0, 1, 2, 3


@dataclass(frozen=True)
class StartMargins:
    """National margins at the start of the simulation (end of the year before ``start_year``)."""

    total_pop: float
    resident_rate: float
    hukou_rate: float
    cross_city_share: float = 0.45  # assumption: share of rural-hukou urban residents living outside their prefecture
    migrant_concentration: float = 0.5  # assumption: elasticity of a city's migrant share to its district size
    gravity_km: float = 500.0  # assumption: distance decay of origins
    gravity_same_province: float = 3.0  # assumption: weight multiplier of same-province origins


def start_margins(history, start_year: int) -> StartMargins:
    """Margins for the end of ``start_year - 1`` from the national history table."""
    row = history.loc[history["year"] == start_year - 1]
    if row.empty:
        raise ValueError(f"national_history.csv has no row for {start_year - 1}")
    row = row.iloc[0]
    hukou = row["hukou_rate"]
    if not np.isfinite(hukou):
        # Assumption (PROVENANCE.md): unpublished hukou rate extended by the last published annual gain.
        known = history.dropna(subset=["hukou_rate"])
        known = known[known["year"] < start_year]
        last, prev = known.iloc[-1], known.iloc[-2]
        slope = (last["hukou_rate"] - prev["hukou_rate"]) / (last["year"] - prev["year"])
        hukou = last["hukou_rate"] + slope * (start_year - 1 - last["year"])
    return StartMargins(float(row["total_pop"]), float(row["resident_rate"]), float(hukou))


def _logit(p):
    return np.log(p / (1 - p))


def _shift_to_total(shares: np.ndarray, weights: np.ndarray, target: float) -> np.ndarray:
    """Shift ``shares`` by one constant in logit space so their weighted mean equals ``target``."""
    s = np.clip(shares, 1e-4, 1 - 1e-4)
    lo, hi = -10.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        mean = np.average(1 / (1 + np.exp(-(_logit(s) + mid))), weights=weights)
        lo, hi = (mid, hi) if mean < target else (lo, mid)
    return 1 / (1 + np.exp(-(_logit(s) + (lo + hi) / 2)))


def resident_groups(geo: Geography, m: StartMargins) -> tuple[np.ndarray, np.ndarray]:
    """Persons per city in each of the four groups (n_cities x 4), and the origin matrix of group (d).

    Returns ``(groups, origin_share)`` where ``origin_share[d, o]`` is the share of city d's
    cross-city migrants whose hukou is in city o.
    """
    residents = geo.pop_2020 * (m.total_pop / geo.pop_2020.sum())
    urban_share = _shift_to_total(geo.urban_pop_2020 / geo.pop_2020, residents, m.resident_rate)
    urban = residents * urban_share
    gap = (m.resident_rate - m.hukou_rate) * m.total_pop
    weight = urban * (geo.district_pop_2020 / 1e6) ** m.migrant_concentration
    cross = np.minimum(m.cross_city_share * gap * weight / weight.sum(), 0.7 * urban)
    local_total = gap - cross.sum()
    rest = urban - cross
    local = local_total * rest / rest.sum()
    groups = np.stack([urban - cross - local, residents - urban, local, cross], axis=1)

    rural = groups[:, RURAL]
    same = geo.province[:, None] == geo.province[None, :]
    w = rural[None, :] * np.exp(-geo.distance_km / m.gravity_km) * np.where(same, m.gravity_same_province, 1.0)
    np.fill_diagonal(w, 0.0)
    origin_share = w / w.sum(axis=1, keepdims=True)
    return groups, origin_share


def _round_preserving_total(x: np.ndarray) -> np.ndarray:
    """Integers with the same total as ``x`` (largest remainders)."""
    floor = np.floor(x).astype(np.int64)
    short = int(round(x.sum())) - floor.sum()
    if short > 0:
        floor[np.argsort(-(x - floor), kind="stable")[:short]] += 1
    return floor


def synthesize(geo: Geography, margins: StartMargins, scale: int, seed: int,
               age_weights: np.ndarray, headroom: float = 0.08) -> People:
    """Build the initial agents: ``scale`` persons per agent, households contiguous.

    ``age_weights`` (101 x 2: male, female) is the national age-sex distribution, used for heads'
    and members' ages.
    """
    groups, origin_share = resident_groups(geo, margins)
    n_cities = geo.n_cities
    # Group table: one row per (city, kind, origin) with a number of agents.
    g_city, g_kind, g_origin, g_agents = [], [], [], []
    for kind in (URBAN_HUKOU, LOCAL_MIGRANT):
        g_city.append(np.arange(n_cities))
        g_kind.append(np.full(n_cities, kind))
        g_origin.append(np.arange(n_cities))
        g_agents.append(groups[:, kind] / scale)
    flows = groups[:, CROSS_MIGRANT][:, None] * origin_share / scale
    d_idx, o_idx = np.nonzero(flows > 0)
    g_city.append(d_idx)
    g_kind.append(np.full(len(d_idx), CROSS_MIGRANT))
    g_origin.append(o_idx)
    g_agents.append(flows[d_idx, o_idx])
    # Rural groups come last: left-behind members of migrant households are drawn from them.
    g_city.append(np.arange(n_cities))
    g_kind.append(np.full(n_cities, RURAL))
    g_origin.append(np.arange(n_cities))
    g_agents.append(groups[:, RURAL] / scale)
    agents = _round_preserving_total(np.concatenate(g_agents))
    keep = agents > 0
    spec = [np.concatenate(a)[keep] for a in (g_city, g_kind, g_origin)]
    agents = agents[keep]

    total = int(agents.sum())
    people = People.empty(int(total * (1 + headroom)) + 16)
    age_cdf = np.cumsum(age_weights.sum(axis=1))
    age_cdf /= age_cdf[-1]
    rows, n_households = _build_households(
        stream_key(seed, 0, Stream.SYNTHESIS), spec[0].astype(np.int64), spec[1].astype(np.int64),
        spec[2].astype(np.int64), agents.astype(np.int64), geo.household_size, age_cdf,
        *(people.columns[f] for f in ("alive", "age", "sex", "household", "role", "with_head", "origin_city",
                                     "hukou_city", "hukou_urban", "city", "urban", "skill", "employed",
                                     "months_in_city", "permit", "insured_months", "housing", "land")),
    )
    people.n = rows
    people.head_of = np.zeros(n_households, np.int32)
    people.rebuild_heads()
    return people


@njit(cache=True)
def _draw_age(cdf, u, lo, hi):
    """An age in [lo, hi] from the national age distribution restricted to that range."""
    a = cdf[lo - 1] if lo > 0 else 0.0
    b = cdf[hi]
    target = a + u * (b - a)
    for age in range(lo, hi + 1):
        if cdf[age] >= target:
            return age
    return hi


@njit(cache=True)
def _build_households(key, g_city, g_kind, g_origin, g_agents, household_size, age_cdf, alive, age, sex,
                      household, role, with_head, origin_city, hukou_city, hukou_urban, city, urban, skill,
                      employed, months_in_city, permit, insured_months, housing, land):
    """Fill rows group by group with whole households; returns the number of households.

    Members a migrant household leaves behind live in its origin's countryside and count against
    that origin's rural group, which is why rural groups must come last.
    """
    row = 0
    hh = 0
    left_behind = np.zeros(len(household_size), np.int64)
    for g in range(len(g_city)):
        c, kind, o, left = g_city[g], g_kind[g], g_origin[g], g_agents[g]
        if kind == RURAL:
            left -= left_behind[c]
        migrant = kind == LOCAL_MIGRANT or kind == CROSS_MIGRANT
        mean_size = household_size[c] if household_size[c] > 1.0 else 2.6
        if migrant:
            mean_size = 2.0  # assumption: migrant households in the city are smaller than resident ones
        while left > 0:
            draw = 0
            u = uniform(key, hh, draw)
            # size 1..5 with mean ~mean_size: 1 + binomial(4, p)
            p = (mean_size - 1.0) / 4.0
            size = 1
            for k in range(4):
                if uniform(key, hh, 10 + k) < p:
                    size += 1
            size = min(size, left)
            head_age = _draw_age(age_cdf, u, 20 if not migrant else 18, 75 if not migrant else 59)
            head_sex = 1 if uniform(key, hh, 1) < (0.3 if migrant else 0.35) else 0
            stay_years = int(-np.log(1.0 - uniform(key, hh, 2)) * 5.0)  # residence ~ exponential, mean 5 yrs
            enrolled = uniform(key, hh, 3) < 0.35
            children_go = uniform(key, hh, 4) < 0.5  # assumption: half of migrant families bring children
            behind = 0
            for m in range(size):
                i = row
                row += 1
                alive[i] = 1
                household[i] = hh
                origin_city[i] = o if kind == CROSS_MIGRANT else c
                hukou_city[i] = origin_city[i]
                hukou_urban[i] = 1 if kind == URBAN_HUKOU else 0
                city[i] = c
                urban[i] = 0 if kind == RURAL else 1
                land[i] = 0 if kind == URBAN_HUKOU else 3
                with_head[i] = 1
                if m == 0:
                    role[i] = 0
                    age[i] = head_age
                    sex[i] = head_sex
                elif m == 1:
                    role[i] = 1
                    age[i] = max(18, min(100, head_age + int(uniform(key, hh, 20) * 7) - 3))
                    sex[i] = 1 - head_sex
                elif m < 4 or head_age > 60:
                    role[i] = 2
                    age[i] = int(uniform(key, hh, 20 + m) * max(1, min(18, head_age - 18)))
                    sex[i] = 1 if uniform(key, hh, 30 + m) < 0.47 else 0
                    if migrant and not children_go:
                        with_head[i] = 0
                else:
                    role[i] = 3
                    age[i] = min(100, head_age + 22 + int(uniform(key, hh, 40) * 10))
                    sex[i] = 1 if uniform(key, hh, 41) < 0.55 else 0
                    if migrant:
                        with_head[i] = 0
                if with_head[i] == 0:
                    city[i] = origin_city[i]
                    urban[i] = 0
                    left_behind[origin_city[i]] += 1
                    behind += 1
                us = uniform(key, i, 50)
                # Education: rural hukou per migrant-worker survey shares, urban hukou higher (assumption).
                if kind == URBAN_HUKOU:
                    skill[i] = 0 if us < 0.10 else (1 if us < 0.40 else (2 if us < 0.65 else 3))
                else:
                    skill[i] = 0 if us < 0.15 else (1 if us < 0.70 else (2 if us < 0.87 else 3))
                if migrant and urban[i] == 1:
                    housing[i] = 1
                    months_in_city[i] = min(65535, stay_years * 12 + int(uniform(key, i, 51) * 12))
                    if 16 <= age[i] <= 59 and uniform(key, i, 52) < 0.95:
                        employed[i] = 1
                        if enrolled:
                            insured_months[i] = months_in_city[i]
                    if months_in_city[i] >= 6 and uniform(key, i, 53) < 0.5:
                        permit[i] = 1
                elif kind == URBAN_HUKOU:
                    housing[i] = 3
            left -= size - behind
            hh += 1
    return row, hh
