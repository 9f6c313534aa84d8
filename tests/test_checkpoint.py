"""Checkpoints: a run saved after month 12 and resumed gives exactly the months of an uninterrupted run;
branched into another scenario, it keeps the months before the branch and follows the new levers after."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sim.cli import app
from sim.model import CitizenizationModel

from .conftest import SCENARIOS, SMALL_SCALE

runner = CliRunner()
ARGS = [str(SCENARIOS / "plan-2024.yaml"), "--scale", str(SMALL_SCALE), "--months", "24", "--seed", "5"]


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    whole, resumed, ckpt = tmp_path / "whole", tmp_path / "resumed", tmp_path / "m12.ckpt"
    first = runner.invoke(app, ["run", *ARGS, "--out", str(whole), "--checkpoint", str(ckpt), "--checkpoint-at", "12"])
    assert first.exit_code == 0, first.output
    assert ckpt.is_file()
    second = runner.invoke(app, ["resume", str(ckpt), "--out", str(resumed)])
    assert second.exit_code == 0, second.output
    a = pd.read_parquet(whole / "series.parquet")
    b = pd.read_parquet(resumed / "series.parquet")
    assert a["month"].max() == 24
    pd.testing.assert_frame_equal(a, b)


def test_bad_checkpoint_is_a_one_line_error(tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a pickle")
    for path in (junk, tmp_path / "missing.ckpt"):
        result = runner.invoke(app, ["resume", str(path), "--out", str(tmp_path / "out")])
        assert result.exit_code == 2
        assert len([ln for ln in result.output.splitlines() if ln.strip()]) == 1
        assert not (tmp_path / "out").exists()


def test_checkpoint_month_must_fall_inside_the_run_and_needs_a_file(tmp_path):
    result = runner.invoke(app, ["run", *ARGS, "--checkpoint", str(tmp_path / "c"), "--checkpoint-at", "24"])
    assert result.exit_code == 2 and "--checkpoint-at" in result.output
    result = runner.invoke(app, ["run", *ARGS, "--checkpoint-at", "6"])  # where to save it is missing
    assert result.exit_code == 2 and "only with --checkpoint FILE" in result.output
    result = runner.invoke(app, ["run", *ARGS, "--checkpoint", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "is a folder" in result.output and not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A 24-month run of the plan and its checkpoint after month 12."""
    folder = tmp_path_factory.mktemp("saved")
    whole, ckpt = folder / "whole", folder / "m12.ckpt"
    result = runner.invoke(app, ["run", *ARGS, "--out", str(whole), "--checkpoint", str(ckpt), "--checkpoint-at", "12"])
    assert result.exit_code == 0, result.output
    return pd.read_parquet(whole / "series.parquet"), ckpt


def _branch(tmp_path, ckpt, text: str):
    path = tmp_path / "branch.yaml"
    path.write_text(text, encoding="utf-8")
    return runner.invoke(app, ["resume", str(ckpt), "--scenario", str(path), "--out", str(tmp_path / "out")])


def _national(series: pd.DataFrame, metric: str) -> pd.Series:
    return series[(series["level"] == "national") & (series["metric"] == metric)].set_index("month")["value"]


def test_branch_into_the_same_scenario_changes_nothing(tmp_path, saved_run):
    whole, ckpt = saved_run
    result = _branch(tmp_path, ckpt, f"extends: {SCENARIOS / 'plan-2024.yaml'}\nname: same\nmonths: 24\n")
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(whole, pd.read_parquet(tmp_path / "out" / "series.parquet"))


def test_branch_into_the_status_quo_keeps_the_past_and_changes_the_future(tmp_path, saved_run):
    whole, ckpt = saved_run
    result = _branch(tmp_path, ckpt, f"extends: {SCENARIOS / 'status-quo.yaml'}\nname: late\nmonths: 24\n")
    assert result.exit_code == 0, result.output
    branch = pd.read_parquet(tmp_path / "out" / "series.parquet")
    past = whole["month"] <= 12
    pd.testing.assert_frame_equal(whole[past].reset_index(drop=True),
                                  branch[branch["month"] <= 12].reset_index(drop=True))
    # the plan's easier settlement stops at the branch: fewer settle in the second year
    plan, quo = _national(whole, "settlements"), _national(branch, "settlements")
    assert quo.loc[13:24].sum() < 0.9 * plan.loc[13:24].sum()


@pytest.mark.parametrize("text, key", [
    ("start_year: 2021\n", "'start_year'"),  # another period: not the same population
    ("months: 12\n", "'months'"),  # nothing left to run
])
def test_branch_that_cannot_continue_the_run_is_a_one_line_error(tmp_path, saved_run, text, key):
    _, ckpt = saved_run
    result = _branch(tmp_path, ckpt, f"extends: {SCENARIOS / 'plan-2024.yaml'}\nname: bad\n{text}")
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "branch.yaml" in lines[0] and key in lines[0], result.output
    assert not (tmp_path / "out").exists()


def test_branch_continues_jobs_and_wages_at_new_growth_rates(small_scenario):
    """Jobs and wages compound from the start: a branch rebases them so that they go on from where they are."""
    model = CitizenizationModel(small_scenario)
    for _ in range(5):
        model.step()
    st, m = model.city_state, model.steps
    jobs_now = st.jobs * (1 + st.job_growth) ** (m / 12)
    faster = small_scenario.behaviour.model_copy(update={"labour_demand_growth": 0.08})
    model.branch(small_scenario.model_copy(update={"behaviour": faster}))
    assert np.all(st.job_growth >= 0.08)
    np.testing.assert_allclose(st.jobs * (1 + st.job_growth) ** (m / 12), jobs_now, rtol=1e-12)
    assert model.running and model.scenario.behaviour.labour_demand_growth == 0.08


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(month=st.integers(1, 11))
def test_branching_into_the_same_scenario_at_any_month_changes_nothing(small_scenario, month):
    """Whatever month it happens in (mid-year too: quotas, tiers, jobs and wages carried over), a branch into
    the scenario the model already has leaves every month of the national series as it was."""
    def national(model):
        return [model.national(name) for name in ("urban_residents", "urban_hukou", "settlements", "arrivals")]

    sc = small_scenario.model_copy(update={"scale": 100_000})
    straight, branched = CitizenizationModel(sc), CitizenizationModel(sc)
    for m in range(1, sc.months + 1):
        straight.step()
        branched.step()
        if m == month:
            branched.branch(sc.model_copy())
        assert national(branched) == national(straight), f"month {m} after a branch at month {month}"
