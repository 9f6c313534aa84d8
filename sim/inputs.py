"""Default input tables other than places: demography and the national history (see PROVENANCE.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.geography import DATA_DIR


@dataclass(frozen=True)
class Demography:
    """Monthly event probabilities by single year of age 0..100, and the age-sex distribution."""

    death_prob_male: np.ndarray
    death_prob_female: np.ndarray
    birth_prob: np.ndarray  # per woman per month
    age_weights: np.ndarray  # (101, 2): population shares, male and female

    @property
    def death_prob(self) -> np.ndarray:
        """Monthly death probability by (sex, age): row 0 male, row 1 female."""
        return np.stack([self.death_prob_male, self.death_prob_female])

    @classmethod
    def load(cls, data_dir: Path | None = None, table: str = "demography.csv") -> Demography:
        """The demography ``table`` (a file of ``data_dir``; see ``Scenario.demography``)."""
        t = pd.read_csv(Path(data_dir or DATA_DIR) / table).sort_values("age")
        if list(t["age"]) != list(range(101)):
            raise ValueError(f"{table} must have one row per age 0..100")

        def monthly_survival(q: pd.Series) -> np.ndarray:
            """A yearly probability of an event that happens once (death) as a monthly one."""
            return 1.0 - (1.0 - np.clip(q.to_numpy(np.float64), 0.0, 1.0)) ** (1.0 / 12.0)

        return cls(
            death_prob_male=monthly_survival(t["mortality_male"]),
            death_prob_female=monthly_survival(t["mortality_female"]),
            # Births per woman in a year, a rate of a repeatable event: a twelfth of it each month keeps the
            # yearly expectation (the survival form gave 2.6-4.2% more births a year at the fertile ages).
            birth_prob=np.clip(t["fertility"].to_numpy(np.float64), 0.0, 1.0) / 12.0,
            age_weights=t[["pop_share_male", "pop_share_female"]].to_numpy(np.float64),
        )


def load_history(data_dir: Path | None = None) -> pd.DataFrame:
    """National yearly history (NBS): population, resident and hukou urbanization, migrant workers, and the
    migrant workers' average age (``migrant_avg_age``, from ``migrant_profile.csv``; empty where unpublished)."""
    d = Path(data_dir or DATA_DIR)
    history = pd.read_csv(d / "national_history.csv")
    profile = pd.read_csv(d / "migrant_profile.csv")
    age = profile.loc[profile["item"] == "avg_age", ["year", "value"]].rename(columns={"value": "migrant_avg_age"})
    return history.merge(age, on="year", how="left").sort_values("year", ignore_index=True)
