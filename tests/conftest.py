"""Shared fixtures: small, fast scenarios (a few tens of thousands of agents)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli_support import compile_kernels_ahead
from sim.policy import Scenario
from sim.scenario_io import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SMALL_SCALE = 20_000  # ~70k agents: big enough for stable national rates, small enough for CI


@pytest.fixture
def small_scenario() -> Scenario:
    """The plan scenario at a small scale over 12 months."""
    return load_scenario(SCENARIOS / "plan-2024.yaml", scale=SMALL_SCALE, months=12, seed=1)


@pytest.fixture(scope="session", autouse=True)
def kernels_compiled_ahead() -> None:
    """Compile the kernels in parallel before the first test, as a first run does (sim/compile_ahead.py),
    when the cache lacks them: on a fresh clone about half the time of compiling on first call."""
    compile_kernels_ahead()


def small(path: str, **overrides) -> Scenario:
    """A scenario file from scenarios/ at the small test scale."""
    overrides = {"scale": SMALL_SCALE, "months": 12, "seed": 1, **overrides}
    return load_scenario(SCENARIOS / path, **overrides)
