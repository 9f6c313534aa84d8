"""From per-city monthly tallies to a tidy table: month x level x region x metric -> value.

Levels are ``national``, ``tier`` (the city's tier in that month), ``province`` and ``city``.
Counts are in persons (agents x scale); rates are ratios of counts over the same cities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.cities import CITY_STOCKS
from sim.geography import TIER_KEYS
from sim.kernels.tally import STOCKS

#: rate name -> (numerator, denominator), all names of stocks
RATES: dict[str, tuple[str, str]] = {
    "resident_rate": ("urban_residents", "residents"),
    "hukou_rate": ("urban_hukou", "residents"),
    "migrant_insured_share": ("insured_migrant_workers", "migrant_workers"),
    "migrant_permit_share": ("permit_holders", "migrants"),
    "migrant_children_public_share": ("children_public_school", "accompanying_children"),
    "children_accompanying_share": ("accompanying_children", "migrant_children"),
    "public_seat_use": ("children_public_school", "all_public_seats"),
    "migrant_employment_rate": ("migrant_workers", "working_age_migrants"),
    "migrant_skilled_share": ("skilled_migrant_workers", "migrant_workers"),
    "migrant_affordable_share": ("migrants_affordable_housing", "migrants"),
}
#: derived count -> the two counts it sums (in order: later entries may use earlier ones)
DERIVED_COUNTS: dict[str, tuple[str, str]] = {
    "accompanying_children": ("children_public_school", "children_private_school"),
    "migrant_children": ("accompanying_children", "children_left_behind"),
    "all_public_seats": ("public_school_seats", "preschool_seats"),
}


def _metrics(counts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add derived counts, rates and the resident-hukou gap to a dict of count arrays."""
    for name, (a, b) in DERIVED_COUNTS.items():
        counts[name] = counts[a] + counts[b]
    out = dict(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, (num, den) in RATES.items():
            out[name] = np.where(counts[den] > 0, counts[num] / np.maximum(counts[den], 1), np.nan)
    out["urbanization_gap"] = out["resident_rate"] - out["hukou_rate"]
    return out


def _one_hot(group: np.ndarray, n_groups: int) -> np.ndarray:
    return (group[..., None] == np.arange(n_groups)).astype(np.float64)


def tidy_series(records, flow_names, geo, scale: int, start_year: int) -> pd.DataFrame:
    """The tidy time series of a run from ``model.records`` (one entry per month, month 0 first)."""
    names = list(STOCKS) + list(CITY_STOCKS) + list(flow_names)
    values = np.stack([np.vstack([s, f]) for s, f, _ in records]).astype(np.float64) * scale  # month x name x city
    tiers = np.stack([t for _, _, t in records]).astype(np.int64)  # month x city
    n_months = len(records)
    memberships = {  # level -> (month x city x group one-hot, labels)
        "national": (_one_hot(np.zeros((n_months, geo.n_cities), np.int64), 1), ["China"]),
        "tier": (_one_hot(tiers, len(TIER_KEYS)), list(TIER_KEYS)),
        "province": (_one_hot(np.broadcast_to(geo.province.astype(np.int64), tiers.shape), geo.n_provinces),
                     list(geo.province_name_en)),
        "city": (_one_hot(np.broadcast_to(np.arange(geo.n_cities), tiers.shape), geo.n_cities),
                 list(geo.city_name)),
    }
    frames = []
    for level, (onehot, labels) in memberships.items():
        table = np.einsum("mkc,mcg->mkg", values, onehot)
        metrics = _metrics({name: table[:, k, :] for k, name in enumerate(names)})
        for metric, vals in metrics.items():
            frames.append(pd.DataFrame({
                "month": np.repeat(np.arange(n_months), len(labels)),
                "level": level,
                "region": np.tile(labels, n_months),
                "metric": metric,
                "value": vals.ravel(),
            }))
    df = pd.concat(frames, ignore_index=True)
    year = start_year + (df["month"] - 1) // 12
    moy = (df["month"] - 1) % 12 + 1
    df.insert(1, "date", pd.to_datetime({"year": year, "month": moy, "day": 1}) + pd.offsets.MonthEnd(0))
    for col in ("level", "region", "metric"):
        df[col] = df[col].astype("category")
    return df
