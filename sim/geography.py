"""Places: provinces, prefecture-level cities, settlement tiers, potential regions, metro circles.

Loaded once from ``sim/data/cities.csv`` and ``sim/data/provinces.csv`` (sources in PROVENANCE.md)
into plain arrays indexed by city number, which is what the numba kernels take.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

DATA_DIR = Path(str(resources.files("sim") / "data"))

#: The plan's seven potential regions (三.(一)), English key -> Chinese name.
POTENTIAL_REGIONS: dict[str, str] = {
    "jizhongnan": "冀中南",
    "wanbei": "皖北",
    "luxinan": "鲁西南",
    "yudongnan": "豫东南",
    "xiangxinan": "湘西南",
    "yuexi": "粤西",
    "chuandong": "川东",
}

#: Settlement tiers of 二.(二).1, by urban-district (城区) resident population.
TIER_NAMES = ("under 3M (open)", "3-5M (relaxed)", "over 5M (points)")
TIER_KEYS = ("open", "relaxed", "points")

REGIONS = ("East", "Central", "West", "Northeast")


def tier_of(district_pop: np.ndarray, open_below: float, points_above: float) -> np.ndarray:
    """Tier 0/1/2 of each city: open below ``open_below``, points-based above ``points_above``."""
    pop = np.asarray(district_pop, dtype=np.float64)
    return np.where(pop < open_below, 0, np.where(pop <= points_above, 1, 2)).astype(np.int8)


def haversine_km(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Great-circle distances between all pairs of points, in km (float32 matrix)."""
    lo, la = np.radians(lon), np.radians(lat)
    dlo = lo[:, None] - lo[None, :]
    dla = la[:, None] - la[None, :]
    a = np.sin(dla / 2) ** 2 + np.cos(la[:, None]) * np.cos(la[None, :]) * np.sin(dlo / 2) ** 2
    return (2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))).astype(np.float32)


@dataclass(frozen=True)
class Geography:
    """Static attributes of the ~340 prefecture-level units and 31 provinces."""

    city_code: np.ndarray
    city_name: list[str]
    province: np.ndarray  # int16 index into province arrays
    pop_2020: np.ndarray
    urban_pop_2020: np.ndarray
    district_pop_2020: np.ndarray
    age_shares: np.ndarray  # (n_cities, 3): 0-14, 15-59, 60+
    household_size: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    distance_km: np.ndarray
    potential_region: np.ndarray  # int8, -1 none, else index into POTENTIAL_REGIONS
    metro_circle: np.ndarray  # int16, -1 none, else index into metro_names
    metro_core: np.ndarray  # bool
    metro_names: list[str]
    province_code: np.ndarray
    province_name: list[str]
    province_name_en: list[str]
    province_region: np.ndarray  # int8 index into REGIONS
    province_pop_2020: np.ndarray
    province_urban_share_2020: np.ndarray
    province_income: np.ndarray  # urban per-capita disposable income, yuan/yr
    province_housing_price: np.ndarray  # yuan per m2

    @property
    def n_cities(self) -> int:
        return len(self.city_code)

    @property
    def n_provinces(self) -> int:
        return len(self.province_code)

    @property
    def city_region(self) -> np.ndarray:
        return self.province_region[self.province]

    @classmethod
    def load(cls, data_dir: Path | None = None) -> Geography:
        data_dir = Path(data_dir) if data_dir else DATA_DIR
        prov = pd.read_csv(data_dir / "provinces.csv").sort_values("province_code").reset_index(drop=True)
        cities = pd.read_csv(data_dir / "cities.csv").sort_values("city_code").reset_index(drop=True)
        prov_index = {code: i for i, code in enumerate(prov["province_code"])}
        region_index = {r: i for i, r in enumerate(REGIONS)}
        pr_index = {k: i for i, k in enumerate(POTENTIAL_REGIONS)}
        metro = cities["metro_circle"].fillna("").astype(str)
        metro_names = sorted(m for m in metro.unique() if m)
        metro_index = {m: i for i, m in enumerate(metro_names)}
        lon = cities["lon"].to_numpy(np.float64)
        lat = cities["lat"].to_numpy(np.float64)
        return cls(
            city_code=cities["city_code"].to_numpy(np.int64),
            city_name=cities["name"].astype(str).tolist(),
            province=cities["province_code"].map(prov_index).to_numpy(np.int16),
            pop_2020=cities["pop_2020"].to_numpy(np.float64),
            urban_pop_2020=cities["urban_pop_2020"].to_numpy(np.float64),
            district_pop_2020=cities["district_pop_2020"].to_numpy(np.float64),
            age_shares=cities[["age_0_14", "age_15_59", "age_60p"]].to_numpy(np.float64),
            household_size=cities["household_size_2020"].to_numpy(np.float64),
            lon=lon,
            lat=lat,
            distance_km=haversine_km(lon, lat),
            potential_region=cities["potential_region"]
            .fillna("")
            .map(lambda k: pr_index.get(k, -1))
            .to_numpy(np.int8),
            metro_circle=metro.map(lambda m: metro_index.get(m, -1)).to_numpy(np.int16),
            metro_core=cities["metro_core"].fillna(0).astype(bool).to_numpy(),
            metro_names=metro_names,
            province_code=prov["province_code"].to_numpy(np.int64),
            province_name=prov["name"].astype(str).tolist(),
            province_name_en=prov["name_en"].astype(str).tolist(),
            province_region=prov["region"].map(region_index).to_numpy(np.int8),
            province_pop_2020=prov["pop_2020"].to_numpy(np.float64),
            province_urban_share_2020=prov["urban_share_2020"].to_numpy(np.float64),
            province_income=prov["income_urban_2020"].to_numpy(np.float64),
            province_housing_price=prov["housing_price_2020"].to_numpy(np.float64),
        )
