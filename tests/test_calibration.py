"""Calibration and backtest (analysis/calibrate.py, analysis/backtest.py, sim/data/calibrated.yaml).

* 2023 and 2024 are out-of-sample: the objective refuses them and never contains them.
* The calibrated parameters fit the fitting years better than the uncalibrated defaults (same seeds,
  common random numbers, 1 agent = 20,000 persons), and a tiny calibration run does not worsen the fit.
* calibrated.yaml is the default behaviour of scenario files; a file's own values override it.
* ``citizensim backtest`` writes the table (out-of-sample years marked) and the figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from analysis.calibrate import (
    BACKTEST_SCENARIO,
    DIFF_STEP,
    FIT_YEARS,
    FITTED,
    OUT_OF_SAMPLE_YEARS,
    Objective,
    calibrate,
    calibrated_values,
    default_value,
    fit_targets,
    forward_jacobian,
    residuals,
)
from sim.cli import app
from sim.inputs import load_history
from sim.policy import Behaviour
from sim.scenario_io import CALIBRATED, load_scenario

SCALE = 20_000


def test_out_of_sample_years_are_never_fitted():
    assert not set(FIT_YEARS) & set(OUT_OF_SAMPLE_YEARS)
    assert set(OUT_OF_SAMPLE_YEARS) == {2023, 2024}
    history = load_history()
    targets = fit_targets(history)
    assert set(targets["year"]) == set(FIT_YEARS)
    assert not targets["year"].isin(OUT_OF_SAMPLE_YEARS).any()
    for years in ((2021, 2023), (2024,), (2022, 2023, 2024)):
        with pytest.raises(ValueError, match="out-of-sample"):
            fit_targets(history, years)
    # the published 2023 hukou rate exists in the data but must not be a target
    assert np.isfinite(history.loc[history["year"] == 2023, "hukou_rate"]).all()
    # resident 2021-22, hukou 2021 (2022 unpublished), migrant workers 2021-22, their ageing 2021-22
    assert len(targets) == 7
    ageing = targets[targets["metric"] == "migrant_ageing"].set_index("year")["official"]
    assert ageing.to_dict() == pytest.approx({2021: 41.7 - 41.4, 2022: 42.3 - 41.4})



def test_forward_jacobian_steps_every_log_parameter_alike():
    """The same step in each log-parameter, also at 0 (a factor of 1), backward at an upper bound."""
    calls = []

    def fun(x):
        calls.append(x.copy())
        return np.array([2.0 * x[0] + x[1], x[1] ** 2])

    x = np.array([0.0, -5.7])
    jac = forward_jacobian(fun, x, lo=np.array([-1.0, -9.0]), hi=np.array([1.0, -5.6]))
    assert jac[:, 0] == pytest.approx([2.0, 0.0])
    assert jac[0, 1] == pytest.approx(1.0)
    assert jac[1, 1] == pytest.approx(2 * -5.7 - DIFF_STEP)  # backward: x + step would pass -5.6
    assert [c[0] - x[0] for c in calls[1:]] == pytest.approx([DIFF_STEP, 0.0])
    assert calls[2][1] - x[1] == pytest.approx(-DIFF_STEP)


def test_calibrated_parameters_fit_better_than_defaults():
    calibrated = calibrated_values()
    assert set(calibrated) == set(FITTED)
    base = load_scenario(BACKTEST_SCENARIO, calibrated=False)
    obj = Objective(base, fit_targets(load_history()), seeds=[11], scale=SCALE)
    before = residuals(obj.table({name: default_value(name) for name in FITTED}))
    after = residuals(obj.table(calibrated))
    assert after @ after < 0.5 * (before @ before)


def test_tiny_calibration_run_does_not_worsen_the_fit():
    result = calibrate(scale=100_000, seeds=(5,), max_evals=6, workers=1)
    assert result.loss_after <= result.loss_before
    assert len(result.evaluations) <= 7
    assert set(result.values) == set(FITTED)
    assert set(result.table_after["year"]) <= set(FIT_YEARS)
    for name, value in result.values.items():
        lo, hi = FITTED[name]
        assert lo <= value <= hi


def test_calibrated_yaml_is_the_scenario_default(tmp_path):
    data = yaml.safe_load(CALIBRATED.read_text(encoding="utf-8"))
    assert data["method"]["out_of_sample_years"] == [2023, 2024]
    assert set(data["method"]["fit_years"]) == set(FIT_YEARS)
    sc = load_scenario(BACKTEST_SCENARIO)
    for name, value in data["behaviour"].items():
        assert getattr(sc.behaviour, name) == pytest.approx(value)
    own = tmp_path / "own.yaml"
    own.write_text(f"name: own\nextends: {BACKTEST_SCENARIO}\nbehaviour:\n  migrate_hazard: 0.0123\n")
    sc = load_scenario(own)
    assert sc.behaviour.migrate_hazard == 0.0123
    assert sc.behaviour.return_hazard == pytest.approx(data["behaviour"]["return_hazard"])
    assert load_scenario(own, calibrated=False).behaviour.return_hazard == Behaviour().return_hazard
    for year, factor in data["mobility_shocks"].items():
        assert sc.mobility_factor(year) == pytest.approx(factor)
    assert load_scenario(own, calibrated=False).mobility_shocks == {}


def test_backtest_command_writes_table_and_figure(tmp_path):
    out = tmp_path / "bt"
    res = CliRunner().invoke(app, ["backtest", str(BACKTEST_SCENARIO), "--scale", "50000", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "out-of-sample" in res.output
    table = pd.read_csv(out / "backtest.csv")
    assert sorted(table["year"].unique()) == [2021, 2022, 2023, 2024]
    assert set(table.loc[table["year"].isin(OUT_OF_SAMPLE_YEARS), "sample"]) == {"out-of-sample"}
    assert set(table.loc[table["year"].isin(FIT_YEARS), "sample"]) == {"fit"}
    assert set(table["metric"]) == {"resident_rate", "hukou_rate", "migrant_workers", "migrant_ageing"}
    ageing = table[table["metric"] == "migrant_ageing"].set_index("year")
    assert ageing.loc[2024, "official"] == pytest.approx(43.2 - 41.4)
    assert ageing["simulated"].between(-5, 5).all()  # years since end-2020, not an age
    assert (out / "backtest.png").stat().st_size > 10_000
    assert (out / "backtest.md").read_text().count("\n") >= 6
    res = table[table["metric"] == "resident_rate"]
    assert (res["error"].abs() < 3).all()  # pp; a sanity bound at this coarse scale, not the target


def test_backtest_over_seeds_gives_their_mean_and_each_seeds_range(tmp_path):
    out = tmp_path / "bt"
    res = CliRunner().invoke(app, ["backtest", str(BACKTEST_SCENARIO), "--scale", "50000", "--seeds", "1,2",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "backtest.csv")
    runs = pd.read_csv(out / "simulated.csv")
    assert set(runs["seed"]) == {1, 2} and (table["seeds"] == 2).all()
    mean = runs.groupby(["year", "metric"])["simulated"].mean()
    for r in table.itertuples():
        assert r.simulated == pytest.approx(mean[r.year, r.metric])
        if np.isfinite(r.error):
            assert r.error_min - 1e-9 <= r.error <= r.error_max + 1e-9
    assert (table["error_max"] > table["error_min"]).any()  # the seeds differ
    assert " to " in (out / "backtest.md").read_text()


@pytest.mark.parametrize("args", [["--seed", "1", "--seeds", "1,2"], ["--seeds", "1,x"], ["--seeds", "-1"]])
def test_backtest_rejects_bad_seed_options_in_one_line(args, tmp_path):
    res = CliRunner().invoke(app, ["backtest", str(BACKTEST_SCENARIO), "--scale", "50000", *args,
                                   "--out", str(tmp_path / "bt")])
    assert res.exit_code == 2
    assert "seed" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "bt").exists()


def test_calibrate_refuses_an_unusable_out_before_fitting(tmp_path):
    result = CliRunner().invoke(app, ["calibrate", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "is a folder" in result.output and "eval" not in result.output


def test_calibrate_command_writes_the_values_and_prints_the_backtest(tmp_path):
    out = tmp_path / "calibrated.yaml"
    result = CliRunner().invoke(app, ["calibrate", "--scale", "100000", "--seeds", "5", "--max-evals", "2",
                                      "--workers", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert set(yaml.safe_load(out.read_text())["behaviour"]) <= set(FITTED)
    table = [ln for ln in result.output.splitlines() if ln.startswith("| 20")]
    assert [ln.split(" | ")[1] for ln in table] == ["fit", "fit", "out-of-sample", "out-of-sample"]
