"""Initial population: households of agents whose totals match the official margins at the start date.

The start state is the end of ``start_year - 1`` (end-2020 for the backtest, end-2024 for projections).
Four steps, each matching a set of margins (tolerances are checked in ``tests/test_synthesis.py``):

1. **Places.** Provincial populations (2020 census) are scaled to the national year-end total; provincial
   urban shares (2020 census) are shifted by one common logit constant so that the national resident
   urbanization rate of the year holds exactly (for end-2020 the shift is 0.03 pp). Within a province each
   prefecture keeps its census share of people, and its urban share is shifted by a per-province logit
   constant so that the province's urban total holds exactly.
2. **Households (age, sex, hukou class).** Three pools of household templates (urban-hukou residents,
   rural-hukou residents, migrant households whose members may be left behind at the rural home) are
   weighted by generalized raking (iterative proportional fitting in its exponential-tilting form,
   Deville and Sarndal 1992) so that, nationally, persons by 5-year age band x sex match the 2020 census
   distribution projected to the start year, urban-hukou persons match the hukou urbanization rate, the
   working-age members of migrant households living in towns match the NBS count of migrant workers living
   in towns (进城农民工) divided by the employment rate, and the number of households matches the census
   mean household size.
3. **Migrant stock by origin and destination.** The migrant households' town residents are spread over
   destination prefectures (prior: urban population x urban-district size^0.5, rescaled to the NBS
   destination-region shares of migrant workers) and over origin prefectures by iterative proportional
   fitting of a gravity seed (origin rural population, distance decay, same-province bonus) to the
   destination totals and to the NBS origin-region shares split into own prefecture / other prefecture of
   the province / other province (the NBS inter-provincial share of out-migrants by origin region).
4. **Agents.** Person counts per (prefecture, class, origin) are rounded to agents with the provincial
   and prefectural totals preserved (largest remainders, then systematic sampling across origins), and a
   numba loop draws whole households from the weighted templates, contiguous, head first.

Classes of residents in each prefecture: urban-hukou urban residents (``URBAN_HUKOU``); rural residents
(``RURAL``, including members left behind by migrants); rural-hukou residents of the urban part of their own
prefecture who did not migrate (``IN_SITU``: villagers in town areas and reclassified villages; they live in
their own home, ``housing == 0``); migrant households in rented housing from the same prefecture
(``LOCAL_MIGRANT``) or another one (``CROSS_MIGRANT``). The model's migrant workers
(:func:`migrant_worker_mask`) are the employed working-age members of migrant households living in a town
or city with a rural hukou: the counterpart of the NBS 进城农民工 (see PROVENANCE.md, "Migrant workers in
the model"). All figures and assumptions are listed in ``sim/data/PROVENANCE.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit

from sim.geography import DATA_DIR, REGIONS, Geography
from sim.kernels.labour import WORK_AGE_MAX, WORK_AGE_MIN
from sim.population import People
from sim.rng import Stream, stream_key, uniform, uniform_array

URBAN_HUKOU, RURAL, LOCAL_MIGRANT, CROSS_MIGRANT, IN_SITU = 0, 1, 2, 3, 4
POOL_URBAN, POOL_RURAL, POOL_MIGRANT = 0, 1, 2
HOUSING_HOME, HOUSING_RENTED, HOUSING_OWNED = 0, 1, 3
# 0-4, 5-9, ..., 95-99, 100: five-year bands up to the oldest, where mortality climbs fastest (an open 85+
# band let the templates' heads, drawn evenly up to 100, fill it evenly: twice the census's 90-99-year-olds,
# ten times its centenarians, and 8% more deaths a year than the census population)
AGE_BANDS = np.minimum(np.arange(101) // 5, 20)
N_BANDS = int(AGE_BANDS[-1]) + 1
TEMPLATES_PER_POOL = 6000
TEMPLATE_SEED = 20201101  # templates are the same for every run seed (census day)


@dataclass(frozen=True)
class StartMargins:
    """Margins for the end of year ``year`` (= start_year - 1) and the assumptions used to meet them."""

    total_pop: float
    resident_rate: float
    hukou_rate: float
    year: int = 2020
    migrant_workers_in_towns: float = 131.01e6  # NBS 进城农民工 at the end of ``year``
    dest_region_share: tuple[float, ...] = (0.5278, 0.2246, 0.2147, 0.0306)  # REGIONS order
    origin_region_share: tuple[float, ...] = (0.3515, 0.3325, 0.282, 0.034)
    interprov_share: tuple[float, ...] = (0.151, 0.566, 0.478, 0.289)  # of out-migrants, by origin region
    age_sex: np.ndarray | None = field(default=None, compare=False)  # (101, 2) shares; None: census 2020
    employment_rate: float = 0.95  # assumption: share of working-age migrants employed (labour-kernel equilibrium)
    own_prefecture_share: float = 0.55  # assumption: intra-provincial migrants living in their own prefecture
    migrant_concentration: float = 0.5  # assumption: elasticity of a city's migrant share to its district size
    max_migrant_share: float = 0.8  # assumption: cap on migrants' share of a city's urban residents
    gravity_km: float = 500.0  # assumption: distance decay of origins
    gravity_same_province: float = 3.0  # assumption: weight multiplier of same-province origins


# -- margins --------------------------------------------------------------------------------------------

def _profile_value(profile: pd.DataFrame, item: str, year: int) -> float:
    """The survey value of ``item`` for ``year``, else for the nearest year that has it (earlier on ties)."""
    rows = profile[profile["item"] == item]
    if rows.empty:
        raise ValueError(f"migrant_profile.csv has no item {item!r}")
    dist = (rows["year"] - year).abs() * 2 + (rows["year"] > year)
    return float(rows.loc[dist.idxmin(), "value"])


def project_age_sex(demography: pd.DataFrame, history: pd.DataFrame, year: int) -> np.ndarray:
    """Age-sex shares (101 x 2) at the end of ``year``: the 2020 census distribution (taken as end-2020)
    aged one year at a time with the mortality of ``demography.csv`` and the published births of each year.
    """
    t = demography.sort_values("age")
    pop = t[["pop_share_male", "pop_share_female"]].to_numpy(np.float64).copy()
    q = t[["mortality_male", "mortality_female"]].to_numpy(np.float64)
    births = history.set_index("year")["births"]
    total = float(history.loc[history["year"] == 2020, "total_pop"].iloc[0]) if (history["year"] == 2020).any() \
        else 1.41e9
    pop *= total
    for y in range(2021, year + 1):
        survivors = pop * (1.0 - q)
        new = np.zeros_like(pop)
        new[1:] = survivors[:-1]
        new[100] += survivors[100]
        b = float(births.get(y, np.nan))
        if not np.isfinite(b):
            b = float(births.dropna().iloc[-1])
        new[0] = b * np.array([0.5215, 0.4785]) * (1.0 - q[0] / 2)  # sex ratio at birth ~109 (assumption)
        pop = new
    return pop / pop.sum()


def start_margins(history: pd.DataFrame, start_year: int, data_dir: Path | None = None) -> StartMargins:
    """Margins for the end of ``start_year - 1`` from the national history and the migrant-worker survey."""
    year = start_year - 1
    row = history.loc[history["year"] == year]
    if row.empty:
        raise ValueError(f"national_history.csv has no row for {year}")
    row = row.iloc[0]
    hukou = row["hukou_rate"]
    if not np.isfinite(hukou):
        # Assumption (PROVENANCE.md): unpublished hukou rate extended by the last published annual gain.
        known = history.dropna(subset=["hukou_rate"])
        known = known[known["year"] < start_year]
        last, prev = known.iloc[-1], known.iloc[-2]
        slope = (last["hukou_rate"] - prev["hukou_rate"]) / (last["year"] - prev["year"])
        hukou = last["hukou_rate"] + slope * (year - last["year"])
    data_dir = Path(data_dir) if data_dir else DATA_DIR
    profile = pd.read_csv(data_dir / "migrant_profile.csv")
    in_towns = row.get("migrant_in_towns", np.nan)
    if not np.isfinite(in_towns):
        known = history.dropna(subset=["migrant_in_towns"])
        in_towns = known.iloc[(known["year"] - year).abs().argmin()]["migrant_in_towns"]
    keys = [r.lower() for r in REGIONS]
    age_sex = project_age_sex(pd.read_csv(data_dir / "demography.csv"), history, year) if year > 2020 else None
    return StartMargins(
        total_pop=float(row["total_pop"]),
        resident_rate=float(row["resident_rate"]),
        hukou_rate=float(hukou),
        year=year,
        migrant_workers_in_towns=float(in_towns),
        dest_region_share=tuple(_profile_value(profile, f"dest_share_{k}", year) for k in keys),
        origin_region_share=tuple(_profile_value(profile, f"origin_share_{k}", year) for k in keys),
        interprov_share=tuple(_profile_value(profile, f"interprov_share_of_out_origin_{k}", year) for k in keys),
        age_sex=age_sex,
    )


# -- step 1: places -------------------------------------------------------------------------------------

def _logit(p):
    return np.log(p / (1 - p))


def _logit_shift(shares: np.ndarray, weights: np.ndarray, target: float) -> np.ndarray:
    """Shift ``shares`` by one constant in logit space so their weighted mean equals ``target``."""
    s = np.clip(shares, 1e-4, 1 - 1e-4)
    lo, hi = -12.0, 12.0
    for _ in range(80):
        mid = (lo + hi) / 2
        mean = np.average(1 / (1 + np.exp(-(_logit(s) + mid))), weights=weights)
        lo, hi = (mid, hi) if mean < target else (lo, mid)
    return 1 / (1 + np.exp(-(_logit(s) + (lo + hi) / 2)))


@dataclass(frozen=True)
class PlaceMargins:
    """Targets per province and residents per prefecture (persons)."""

    province_pop: np.ndarray
    province_urban_share: np.ndarray
    residents: np.ndarray  # per city
    urban: np.ndarray  # per city


def place_margins(geo: Geography, m: StartMargins) -> PlaceMargins:
    """Provincial totals and urban shares for the start date, and their split over prefectures."""
    prov_pop = geo.province_pop_2020 * (m.total_pop / geo.province_pop_2020.sum())
    prov_share = _logit_shift(geo.province_urban_share_2020, prov_pop, m.resident_rate)
    city_prov_pop = np.bincount(geo.province, weights=geo.pop_2020, minlength=geo.n_provinces)
    residents = geo.pop_2020 * (prov_pop / city_prov_pop)[geo.province]
    urban = np.zeros(geo.n_cities)
    city_share = geo.urban_pop_2020 / geo.pop_2020
    for p in range(geo.n_provinces):
        idx = np.flatnonzero(geo.province == p)
        urban[idx] = residents[idx] * _logit_shift(city_share[idx], residents[idx], prov_share[p])
    return PlaceMargins(prov_pop, prov_share, residents, urban)


# -- step 2: household templates and raking --------------------------------------------------------------

@dataclass(frozen=True)
class Templates:
    """Household templates of the three pools, members flattened (``start``/``size`` index them)."""

    pool: np.ndarray
    start: np.ndarray
    size: np.ndarray
    age: np.ndarray
    sex: np.ndarray
    role: np.ndarray
    behind: np.ndarray  # 1: member of a migrant household left at the rural home

    @property
    def n(self) -> int:
        return len(self.pool)


def make_templates(per_pool: int = TEMPLATES_PER_POOL) -> Templates:
    """Household templates with a broad structure (assumptions, PROVENANCE.md); raking sets their weights.

    A head (18-100; migrants 18-59), a spouse (likely from 25 to 79), 0-3 children 20-37 years younger
    than the head (adults included), grandchildren for heads 48-80, a parent of the head for heads 25-62.
    In migrant households children under 18 go with the parents with probability 1/2 (all of a household's
    children together), adult children and the spouse with 0.5 and 0.85; parents and grandchildren stay
    behind.
    """
    rng = np.random.default_rng(TEMPLATE_SEED)
    pools, starts, sizes, ages, sexes, roles, behinds = [], [], [], [], [], [], []
    n = 0
    for pool in (POOL_URBAN, POOL_RURAL, POOL_MIGRANT):
        migrant = pool == POOL_MIGRANT
        for _ in range(per_pool):
            members = []  # (age, sex, role, behind)
            h = int(rng.integers(18, 60 if migrant else 101))
            hsex = int(rng.random() < (0.25 if migrant else 0.3))
            members.append((h, hsex, 0, 0))
            p_spouse = 0.3 if h < 25 else (0.85 if h < 80 else 0.45)
            if rng.random() < p_spouse:
                members.append((min(100, max(18, h + int(rng.integers(-3, 4)))), 1 - hsex, 1,
                                int(migrant and rng.random() >= 0.85)))
            if 20 <= h <= 64:
                kids_go = rng.random() < 0.5
                for _k in range(int(rng.binomial(3, 0.45))):
                    a = h - 20 - int(rng.integers(0, 18))
                    if a < 0:
                        continue
                    behind = migrant and (not kids_go if a < 18 else rng.random() >= 0.5)
                    members.append((a, int(rng.random() < 0.47), 2, int(behind)))
            if 48 <= h <= 80 and rng.random() < 0.3:
                for _k in range(int(rng.integers(1, 3))):
                    members.append((int(rng.integers(0, min(18, h - 44))), int(rng.random() < 0.47), 2,
                                    int(migrant)))
            if 25 <= h <= 62 and rng.random() < 0.25:
                members.append((min(100, h + 24 + int(rng.integers(0, 10))), int(rng.random() < 0.6), 3,
                                int(migrant)))
            pools.append(pool)
            starts.append(n)
            sizes.append(len(members))
            n += len(members)
            for a, s, r, b in members:
                ages.append(a)
                sexes.append(s)
                roles.append(r)
                behinds.append(b)
    return Templates(np.array(pools, np.int64), np.array(starts, np.int64), np.array(sizes, np.int64),
                     np.array(ages, np.uint8), np.array(sexes, np.uint8), np.array(roles, np.uint8),
                     np.array(behinds, np.uint8))


def rake(a: np.ndarray, target: np.ndarray, prior: np.ndarray, max_iter: int = 200,
         tol: float = 1e-9) -> np.ndarray:
    """Generalized raking: weights ``w = prior * exp(a.T @ lam)`` with ``a @ w = target``.

    Newton's method on the convex dual ``sum(w) - target @ lam`` with backtracking; ``a`` is
    (constraints x units). Each constraint is scaled by its target, or where the target is zero (a
    balance such as "share of the old = s") by its size at the prior, so that all are of order one.
    Raises if the constraints cannot be met to 1e-6.
    """
    scale = np.where(target > 0, target, np.maximum(np.abs(a) @ prior, 1e-300))
    a = a / scale[:, None]
    b = target / scale
    lam = np.zeros(len(b))

    def dual(lam):
        return np.sum(prior * np.exp(np.clip(a.T @ lam, -50, 50))) - b @ lam

    f = dual(lam)
    for _ in range(max_iter):
        w = prior * np.exp(np.clip(a.T @ lam, -50, 50))
        g = a @ w - b
        if np.max(np.abs(g)) < tol:
            break
        h = (a * w) @ a.T + 1e-12 * np.eye(len(b))
        step = np.linalg.solve(h, g)
        t = 1.0
        while t > 1e-8:
            new = lam - t * step
            fn = dual(new)
            if fn <= f - 1e-4 * t * (g @ step):
                break
            t /= 2
        lam, f = new, fn
    w = prior * np.exp(np.clip(a.T @ lam, -50, 50))
    err = np.max(np.abs(a @ w - b))
    if err > 1e-6:
        raise ValueError(f"raking did not meet the margins (max relative error {err:.2e})")
    return w


@dataclass(frozen=True)
class HouseholdMix:
    """Template weights (households, persons scale) and the class totals they imply (persons)."""

    templates: Templates
    weights: np.ndarray
    urban_hukou: float
    migrant_in_town: float  # members of migrant households living in towns
    left_behind: float  # members of migrant households living at the rural home
    rural_pool: float  # persons in rural-pool households (rural residents at home and in-situ townspeople)


#: age -> (share of rural residents, share of all residents) at that age and over, 2020 census (PROVENANCE.md 7)
RURAL_OLD_SHARE_2020 = {60: (0.2381, 0.1870), 65: (0.1772, 0.1350)}


def rural_old_share(age_sex: np.ndarray, age_min: int) -> float:
    """Share of rural residents aged ``age_min`` and over: the census 2020 ratio of the rural to the national
    share, times the national share of ``age_sex`` (the start year's)."""
    rural, national = RURAL_OLD_SHARE_2020[age_min]
    return rural / national * float(age_sex[age_min:].sum())


def household_mix(geo: Geography, m: StartMargins, age_sex: np.ndarray) -> HouseholdMix:
    """Rake the templates to the national age-sex, hukou, migrant-worker, household-count and rural ageing
    margins."""
    t = make_templates()
    member_t = np.repeat(np.arange(t.n), t.size)
    cell = AGE_BANDS[t.age] * 2 + t.sex
    ages = np.zeros((N_BANDS * 2, t.n))
    np.add.at(ages, (cell, member_t), 1.0)
    migrant = t.pool[member_t] == POOL_MIGRANT
    in_town = migrant & (t.behind == 0)
    working = in_town & (t.age >= WORK_AGE_MIN) & (t.age <= WORK_AGE_MAX)
    per_t = lambda mask: np.bincount(member_t, weights=mask.astype(np.float64), minlength=t.n)  # noqa: E731
    urban_members = per_t(t.pool[member_t] == POOL_URBAN)
    n = m.total_pop
    band_target = np.zeros(N_BANDS * 2)
    np.add.at(band_target, AGE_BANDS.repeat(2) * 2 + np.tile([0, 1], 101), age_sex.ravel() * n)
    mean_size = float(np.average(geo.household_size, weights=geo.pop_2020))
    # The countryside is older than the towns: rural-pool members and migrants' left-behind members (who
    # become the rural residents, and the in-situ townspeople of the same templates) have the census
    # share of people aged 60+ and 65+ of rural residents (as a ratio to the national share).
    rural_like = (t.pool[member_t] == POOL_RURAL) | (migrant & (t.behind == 1))
    ageing = [per_t(rural_like & (t.age >= age_min)) - rural_old_share(age_sex, age_min) * per_t(rural_like)
              for age_min in RURAL_OLD_SHARE_2020]
    a = np.vstack([ages, urban_members, per_t(working), np.ones(t.n), *ageing])
    target = np.concatenate([band_target, [m.hukou_rate * n, m.migrant_workers_in_towns / m.employment_rate,
                                           n / mean_size], np.zeros(len(ageing))])
    prior = np.full(t.n, n / mean_size / t.n)
    w = rake(a, target, prior)
    return HouseholdMix(t, w, float(urban_members @ w), float(per_t(in_town) @ w),
                        float(per_t(migrant & (t.behind == 1)) @ w), float(per_t(t.pool[member_t] == POOL_RURAL) @ w))


# -- step 3: classes per prefecture and the migrant origin-destination matrix ----------------------------

@dataclass(frozen=True)
class Synthesis:
    """Persons per prefecture and class, and the migrant origin-destination matrix (before rounding)."""

    places: PlaceMargins
    mix: HouseholdMix
    urban_hukou: np.ndarray  # per city
    in_situ: np.ndarray
    rural: np.ndarray  # rural residents incl. members left behind by migrants
    migrants: np.ndarray  # (origin, destination) migrant-household members living in towns


def _ipf(seed: np.ndarray, col_target: np.ndarray, block: np.ndarray, block_target: np.ndarray,
         iters: int = 500, tol: float = 1e-10) -> np.ndarray:
    """Iterative proportional fitting of ``seed`` to column sums and to sums over cell blocks."""
    x = seed.copy()
    nb = len(block_target)
    for _ in range(iters):
        cs = x.sum(axis=0)
        x *= np.divide(col_target, cs, out=np.zeros_like(cs), where=cs > 0)[None, :]
        bs = np.bincount(block.ravel(), weights=x.ravel(), minlength=nb)
        f = np.divide(block_target, bs, out=np.zeros_like(bs), where=bs > 0)
        x *= f[block]
        if np.max(np.abs(f[bs > 0] - 1)) < tol:
            break
    return x


def resident_classes(geo: Geography, m: StartMargins, age_sex: np.ndarray | None = None) -> Synthesis:
    """Steps 1-3: persons per prefecture and class and the migrant origin-destination matrix."""
    if age_sex is None:
        age_sex = m.age_sex if m.age_sex is not None else _census_age_sex()
    places = place_margins(geo, m)
    mix = household_mix(geo, m, age_sex)
    n = m.total_pop
    urban, rural = places.urban, places.residents - places.urban
    gap = (m.resident_rate - m.hukou_rate) * n  # rural-hukou urban residents
    x_tot = mix.migrant_in_town
    if x_tot > gap:
        raise ValueError(f"migrant households in towns ({x_tot:.3g}) exceed the rural-hukou urban residents "
                         f"({gap:.3g}): check the migrant-worker and hukou margins")
    region = geo.city_region
    # Destination totals: prior by size, rescaled to the survey's destination-region shares, capped.
    dest_share = np.asarray(m.dest_region_share) / np.sum(m.dest_region_share)
    prior = urban * (np.maximum(geo.district_pop_2020, 1e4) / 1e6) ** m.migrant_concentration
    dest = np.zeros(geo.n_cities)
    cap = m.max_migrant_share * urban
    for r in range(len(REGIONS)):
        idx = np.flatnonzero(region == r)
        want = dest_share[r] * x_tot
        fixed = np.zeros(len(idx), bool)
        for _ in range(50):
            free = ~fixed
            alloc = np.where(fixed, cap[idx], 0.0)
            rest = want - alloc.sum()
            alloc[free] = rest * prior[idx][free] / prior[idx][free].sum()
            over = free & (alloc > cap[idx])
            if not over.any():
                break
            fixed |= over
        dest[idx] = alloc
    # Origins: gravity seed fitted to destination totals and origin-region x (own prefecture,
    # other prefecture of the province, other province) totals.
    same_prov = geo.province[:, None] == geo.province[None, :]
    seed = rural[:, None] * np.exp(-geo.distance_km / m.gravity_km) * np.where(same_prov, m.gravity_same_province,
                                                                                1.0)
    kind = np.where(same_prov, 1, 2)
    np.fill_diagonal(kind, 0)
    block = region[:, None].astype(np.int64) * 3 + kind
    origin_share = np.asarray(m.origin_region_share) / np.sum(m.origin_region_share)
    ip = np.asarray(m.interprov_share)
    own = m.own_prefecture_share
    block_target = (origin_share[:, None] * x_tot
                    * np.stack([(1 - ip) * own, (1 - ip) * (1 - own), ip], axis=1)).ravel()
    x = _ipf(seed, dest, block, block_target)
    # Members left behind live in the origin's countryside, in proportion to the migrants from there.
    left_behind = x.sum(axis=1) * (mix.left_behind / x_tot)
    short = left_behind - rural
    if (short > 0).any():
        raise ValueError(f"left-behind members exceed the rural population of {int((short > 0).sum())} cities")
    rest = urban - dest  # urban residents who are not migrant-household members
    hukou_share = m.hukou_rate * n / rest.sum()
    urban_hukou = rest * hukou_share
    return Synthesis(places, mix, urban_hukou, rest - urban_hukou, rural, x)


# -- step 4: agents -------------------------------------------------------------------------------------

def _largest_remainder(x: np.ndarray, total: int) -> np.ndarray:
    """Non-negative integers proportional to ``x`` summing to ``total`` (largest remainders)."""
    x = np.maximum(np.asarray(x, np.float64), 0.0)
    if total <= 0 or x.sum() <= 0:
        return np.zeros(len(x), np.int64)
    q = x * (total / x.sum())
    out = np.floor(q).astype(np.int64)
    short = total - int(out.sum())
    if short > 0:
        out[np.argsort(-(q - out), kind="stable")[:short]] += 1
    return out


def _capped_remainder(x: np.ndarray, total: int, cap: np.ndarray) -> np.ndarray:
    """Like :func:`_largest_remainder` with ``out <= cap`` (the excess moves to cells with room)."""
    out = _largest_remainder(x, total)
    for _ in range(len(x)):
        over = out > cap
        if not over.any():
            break
        extra = int((out - cap)[over].sum())
        out = np.minimum(out, cap)
        room = np.where(cap > out, np.asarray(x, np.float64) + 1e-9, 0.0)
        out += np.minimum(_largest_remainder(room, extra), cap - out)
    return out


def _systematic(p: np.ndarray, k: int, u: float) -> np.ndarray:
    """``k`` units spread over cells with probabilities ``p`` by systematic sampling (start ``u``)."""
    out = np.zeros(len(p), np.int64)
    if k <= 0 or p.sum() <= 0:
        return out
    cdf = np.cumsum(p / p.sum())
    cdf[-1] = 1.0
    idx = np.searchsorted(cdf, (u + np.arange(k)) / k, side="right")
    np.add.at(out, np.minimum(idx, len(p) - 1), 1)
    return out


def agent_groups(geo: Geography, syn: Synthesis, scale: int, seed: int) -> np.ndarray:
    """Rows (city, kind, origin, agents) of the groups to build; rural groups last, with the city's total.

    Provincial totals are rounded first, then prefectures within provinces, then classes within
    prefectures (largest remainders); migrants of a class are spread over origins by systematic sampling.
    """
    places = syn.places
    prov_agents = _largest_remainder(places.province_pop, int(round(places.province_pop.sum() / scale)))
    city_agents = np.zeros(geo.n_cities, np.int64)
    city_urban = np.zeros(geo.n_cities, np.int64)
    for p in range(geo.n_provinces):
        idx = np.flatnonzero(geo.province == p)
        city_agents[idx] = _largest_remainder(places.residents[idx], int(prov_agents[p]))
        k = int(round(places.province_urban_share[p] * prov_agents[p]))
        city_urban[idx] = _capped_remainder(places.urban[idx], k, city_agents[idx])
    x = syn.migrants
    same_prov = geo.province[:, None] == geo.province[None, :]
    u = uniform_array(stream_key(seed, 0, Stream.SYNTHESIS + 1), 3 * geo.n_cities)
    rows, rural_rows = [], []
    for c in range(geo.n_cities):
        col = x[:, c]
        local = col[c]
        intra = np.where(same_prov[:, c], col, 0.0)
        intra[c] = 0.0
        inter = np.where(same_prov[:, c], 0.0, col)
        parts = np.array([syn.urban_hukou[c], syn.in_situ[c], local, intra.sum(), inter.sum()])
        k = np.insert(_largest_remainder(parts, int(city_urban[c])), 2, city_agents[c] - city_urban[c])
        rows.append((c, URBAN_HUKOU, c, k[0]))
        rows.append((c, IN_SITU, c, k[1]))
        rural_rows.append((c, RURAL, c, city_agents[c]))  # the city's total: see _build_households
        mig = [(c, LOCAL_MIGRANT, c, k[3])]
        for j, (cells, kk) in enumerate(((intra, k[4]), (inter, k[5]))):
            spread = _systematic(cells, int(kk), u[3 * c + j])
            for o in np.flatnonzero(spread):
                mig.append((c, CROSS_MIGRANT, int(o), int(spread[o])))
        # Largest group last: it absorbs what whole households drawn for the others add (see the builder).
        rows.extend(sorted(mig, key=lambda r: r[3]))
    out = np.array(rows + rural_rows, np.int64)
    return out[out[:, 3] > 0]


def _census_age_sex() -> np.ndarray:
    """The 2020 census age-sex shares of ``demography.csv`` (101 x 2: male, female)."""
    t = pd.read_csv(DATA_DIR / "demography.csv").sort_values("age")
    return t[["pop_share_male", "pop_share_female"]].to_numpy(np.float64)


def synthesize(geo: Geography, margins: StartMargins, scale: int, seed: int,
               age_weights: np.ndarray | None = None, headroom: float = 0.08) -> People:
    """Build the initial agents: ``scale`` persons per agent, households contiguous, head first.

    ``age_weights`` (101 x 2: male, female shares) is the age-sex distribution to match when the margins
    do not carry one (the 2020 census distribution from ``demography.csv``).
    """
    age_sex = margins.age_sex if margins.age_sex is not None else age_weights
    if age_sex is None:
        age_sex = _census_age_sex()
    syn = resident_classes(geo, margins, np.asarray(age_sex, np.float64))
    groups = agent_groups(geo, syn, scale, seed)
    mix = syn.mix
    t = mix.templates
    cdf = np.zeros((3, t.n))
    for pool in range(3):
        w = np.where(t.pool == pool, mix.weights, 0.0)
        cdf[pool] = np.cumsum(w) / w.sum()
        cdf[pool, np.flatnonzero(t.pool == pool)[-1]:] = 1.0
    total = int(groups[:, 3].sum())
    people = People.empty(int(total * (1 + headroom)) + 64)
    pool = np.where(groups[:, 1] == URBAN_HUKOU, POOL_URBAN,
                    np.where(np.isin(groups[:, 1], (LOCAL_MIGRANT, CROSS_MIGRANT)), POOL_MIGRANT, POOL_RURAL))
    run = groups[:, 0] * 10 + pool + 5 * (groups[:, 1] == RURAL)
    last = np.append(run[1:] != run[:-1], True)
    in_town = t.size - np.add.reduceat(t.behind.astype(np.int64), t.start)  # members of a migrant household in town
    rows, n_households = _build_households(
        stream_key(seed, 0, Stream.SYNTHESIS), groups[:, 0].copy(), groups[:, 1].copy(), groups[:, 2].copy(),
        groups[:, 3].copy(), last, cdf, t.start, t.size, in_town, t.age, t.sex, t.role, t.behind,
        margins.employment_rate,
        *(people.columns[f] for f in ("alive", "age", "sex", "household", "role", "with_head", "origin_city",
                                     "hukou_city", "hukou_urban", "city", "urban", "skill", "employed",
                                     "months_in_city", "permit", "insured_months", "housing", "land")),
    )
    people.n = rows
    people.head_of = np.zeros(n_households, np.int32)
    people.rebuild_heads()
    return people


@njit(cache=True)
def _sample(cdf_row, u):
    lo, hi = 0, len(cdf_row) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf_row[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def _build_households(key, g_city, g_kind, g_origin, g_agents, g_last, cdf, t_start, t_size, t_in_town, t_age,
                      t_sex, t_role, t_behind, employment_rate, alive, age, sex, household, role, with_head,
                      origin_city, hukou_city, hukou_urban, city, urban, skill, employed, months_in_city, permit,
                      insured_months, housing, land):
    """Fill rows group by group with whole households drawn from the weighted templates.

    Returns (rows used, households). Members a migrant household leaves behind live in its origin's
    countryside. Rural groups come last and carry the city's total: they fill whatever the city's other
    groups and the members left behind there have not, so every city's total is exact.
    A group's count is of members living in the group's place. Households are drawn whole; what the last
    one adds beyond the count is taken from the next group of the same run (same city and template pool;
    ``g_last`` marks a run's last group), whose households are drawn among those that fit what is left. So
    small groups (a few agents from one origin) do not bias the household composition, and each run's
    total is exact (unless the carried excess exceeds the run's last group, which then adds nothing).
    """
    row = 0
    hh = 0
    placed_in = np.zeros(max(g_city.max(), g_origin.max()) + 1, np.int64)
    debt = 0
    for g in range(len(g_city)):
        c, kind, o, left = g_city[g], g_kind[g], g_origin[g], g_agents[g] - debt
        if kind == RURAL:
            left = g_agents[g] - placed_in[c]
        debt = 0
        migrant = kind == LOCAL_MIGRANT or kind == CROSS_MIGRANT
        pool = POOL_URBAN if kind == URBAN_HUKOU else (POOL_MIGRANT if migrant else POOL_RURAL)
        while left > 0:
            t = _sample(cdf[pool], uniform(key, hh, 0))
            if g_last[g]:
                # The run's last households: redraw (up to 64 times) one whose members here fit what is left,
                # rather than cutting one short (which would drop children and elders more than heads).
                k = 0
                while k < 64 and (t_in_town[t] if migrant else t_size[t]) > left:
                    t = _sample(cdf[pool], uniform(key, hh, 100 + k))
                    k += 1
            stay_years = -np.log(1.0 - uniform(key, hh, 2)) * 5.0  # residence ~ exponential, mean 5 yrs
            enrolled = uniform(key, hh, 3) < 0.35  # assumption: employer pays employee insurance
            placed = 0
            for k in range(t_size[t]):
                j = t_start[t] + k
                behind = migrant and t_behind[j] == 1
                if not behind and placed == left and g_last[g]:
                    continue
                i = row
                row += 1
                alive[i] = 1
                household[i] = hh
                age[i] = t_age[j]
                sex[i] = t_sex[j]
                role[i] = t_role[j]
                origin_city[i] = o
                hukou_city[i] = o
                hukou_urban[i] = 1 if kind == URBAN_HUKOU else 0
                land[i] = 0 if kind == URBAN_HUKOU else 3
                with_head[i] = 1
                if behind:
                    with_head[i] = 0
                    city[i] = o
                    urban[i] = 0
                    housing[i] = HOUSING_HOME
                    placed_in[o] += 1
                else:
                    placed += 1
                    placed_in[c] += 1
                    city[i] = c
                    urban[i] = 0 if kind == RURAL else 1
                us = uniform(key, i, 50)
                # Education: rural hukou per migrant-worker survey shares, urban hukou higher (assumption).
                if kind == URBAN_HUKOU:
                    skill[i] = 0 if us < 0.10 else (1 if us < 0.40 else (2 if us < 0.65 else 3))
                else:
                    skill[i] = 0 if us < 0.15 else (1 if us < 0.70 else (2 if us < 0.87 else 3))
                working_age = WORK_AGE_MIN <= age[i] <= WORK_AGE_MAX
                if behind:
                    continue
                if migrant:
                    housing[i] = HOUSING_RENTED
                    months_in_city[i] = min(65535, int(stay_years * 12) + int(uniform(key, i, 51) * 12))
                    if working_age and uniform(key, i, 52) < employment_rate:
                        employed[i] = 1
                        if enrolled:
                            insured_months[i] = months_in_city[i]
                    if months_in_city[i] >= 6 and uniform(key, i, 53) < 0.5:
                        permit[i] = 1
                elif kind == IN_SITU:
                    housing[i] = HOUSING_HOME
                    months_in_city[i] = min(65535, 12 * int(age[i]))
                    if working_age and uniform(key, i, 52) < employment_rate:
                        employed[i] = 1
                elif kind == URBAN_HUKOU:
                    housing[i] = HOUSING_OWNED
            left -= placed
            hh += 1
        if left < 0 and not g_last[g]:
            debt = -left
    return row, hh


# -- the model's migrant workers -------------------------------------------------------------------------

def migrant_worker_mask(people: People) -> np.ndarray:
    """Rows that are migrant workers in the model's sense (PROVENANCE.md, "Migrant workers in the model").

    Alive, rural hukou, living in a town or city, employed (the labour kernel employs ages 16-64 only),
    and member of a household whose head lives in rented, affordable or bought urban housing rather
    than in its own rural home (in-situ townspeople of reclassified areas are not counted). The NBS
    counterpart is the migrant workers living in towns at year-end (进城农民工).
    """
    v = people.view()
    heads = people.head_of[v["household"]]
    head_housing = np.where(heads >= 0, people.columns["housing"][np.maximum(heads, 0)], HOUSING_HOME)
    return ((v["alive"] == 1) & (v["hukou_urban"] == 0) & (v["urban"] == 1) & (v["employed"] == 1)
            & (head_housing != HOUSING_HOME))
