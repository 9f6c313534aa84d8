"""Run one scenario end to end and write its results folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numba
import pandas as pd

from analysis import outputs, plots
from sim.checkpoint import save_checkpoint
from sim.inputs import load_history
from sim.metrics import tidy_series
from sim.model import FLOWS, CitizenizationModel
from sim.policy import Scenario
from sim.population import People


@dataclass
class RunResult:
    model: CitizenizationModel
    series: pd.DataFrame
    init_seconds: float
    step_seconds: float


def run_scenario(scenario: Scenario, data_dir: Path | None = None,
                 on_month: Callable[[int], None] | None = None, checkpoint_at: int | None = None,
                 checkpoint: Path | None = None) -> RunResult:
    """Build the model, step it through the scenario's months and tabulate the results.

    With ``checkpoint_at`` and ``checkpoint``, the model is also saved after that month.
    """
    t0 = time.perf_counter()
    model = CitizenizationModel(scenario, data_dir=data_dir)
    return finish_run(model, time.perf_counter() - t0, on_month, checkpoint_at, checkpoint)


def finish_run(model: CitizenizationModel, init_seconds: float, on_month: Callable[[int], None] | None = None,
               checkpoint_at: int | None = None, checkpoint: Path | None = None) -> RunResult:
    """Step ``model`` until its last month (saving it after ``checkpoint_at``) and tabulate the results."""
    t1 = time.perf_counter()
    while model.running:
        model.step()
        if checkpoint is not None and model.steps == checkpoint_at:
            save_checkpoint(model, checkpoint)
        if on_month is not None:
            on_month(model.steps)
    t2 = time.perf_counter()
    series = tidy_series(model.records, FLOWS, model.geo, model.scale, model.scenario.start_year)
    return RunResult(model, series, init_seconds, t2 - t1)


def manifest(result: RunResult, extra: dict | None = None) -> dict:
    """What produced a result: the resolved scenario, seed, scale, versions, revision, timings."""
    m = result.model
    return {
        "scenario": m.scenario.model_dump(mode="json"),
        "seed": m.scenario.seed,
        "scale": m.scale,
        "months": m.scenario.months,
        "agents_at_start": int(m.records[0][0][0].sum()),
        "bytes_per_agent": People.bytes_per_agent(),
        "threads": numba.get_num_threads(),
        "versions": outputs.package_versions(),
        "git_revision": outputs.git_revision(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "init_seconds": round(result.init_seconds, 3),
        "step_seconds": round(result.step_seconds, 3),
        **(extra or {}),
    }


def write_run(result: RunResult, out_dir: Path, data_dir: Path | None = None, extra: dict | None = None) -> Path:
    """Write series.parquet, manifest.json and urbanization.png to ``out_dir`` atomically."""

    def fill(tmp: Path) -> None:
        outputs.write_series(tmp / "series.parquet", result.series)
        fig = plots.plot_urbanization(result.series, load_history(data_dir),
                                      title=f"Urbanization rates, China - scenario '{result.model.scenario.name}'")
        plots.save(fig, tmp / "urbanization.png")
        outputs.write_json(tmp / "manifest.json", manifest(result, extra))

    return outputs.write_atomically(out_dir, fill)
