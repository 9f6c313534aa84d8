"""Scenario files: inheritance, and one-line errors with exit code 2 for every user mistake."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from sim.cli import app, cli
from sim.scenario_io import ScenarioError, load_scenario

from .conftest import SCENARIOS

runner = CliRunner()


def _error_line(tmp_path, text: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "out").exists()  # no partial results
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("args, expected", [
    (["run", "scenarios/plan-2024.yaml", "--replications", "0"], "'--replications'"),
    (["run", "scenarios/plan-2024.yaml", "--scale", "many"], "'--scale'"),
    (["run"], "Missing argument 'scenario'"),
    (["runx"], "No such command 'runx'"),
])
def test_command_line_usage_errors_are_one_line(monkeypatch, capsys, args, expected):
    """The script's own entry point turns typer's framed usage errors into one line, exit code 2."""
    monkeypatch.setattr(sys, "argv", ["citizensim", *args])
    with pytest.raises(SystemExit) as stopped:
        cli()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], err
    if "--replications" in args:
        assert lines[0].endswith("(allowed: 1 to 10000)")


@pytest.mark.parametrize("wrapped", [False, True])
def test_ctrl_c_exits_130_with_one_line(monkeypatch, capfd, wrapped):
    """Ctrl-C: typer's silent exit code 130, or inside a numba kernel a SystemError caused by the interrupt."""
    import sim.cli

    def interrupted(**_):
        if not wrapped:
            return 130
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as err:
            raise SystemError("returned a result with an exception set") from err

    monkeypatch.setattr(sim.cli, "app", interrupted)
    with pytest.raises(SystemExit) as stopped:
        cli()
    assert stopped.value.code == 130
    assert capfd.readouterr().err.strip().startswith("interrupted: no results folder is left half-written")


def test_version_names_the_package_version():
    from importlib import metadata

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith(f"citizensim {metadata.version('citizensim')}")


def test_plan_extends_status_quo():
    plan = load_scenario(SCENARIOS / "plan-2024.yaml")
    quo = load_scenario(SCENARIOS / "status-quo.yaml")
    assert plan.name == "plan-2024" and quo.name == "status-quo"
    assert plan.policy.hukou.relaxed_residence_months < quo.policy.hukou.relaxed_residence_months
    assert plan.months == quo.months == 60


def test_unknown_key_names_file_key_and_suggestion(tmp_path):
    line = _error_line(tmp_path, "name: x\npolicy:\n  hukuo:\n    open_below: 1\n")
    assert "bad.yaml" in line and "policy.hukuo" in line and "did you mean 'hukou'" in line


def test_empty_file_names_the_required_key(tmp_path):
    line = _error_line(tmp_path, "")
    assert line.endswith("key 'name' is required (allowed: str)")  # not the merged defaults it was given


def test_file_that_is_not_utf8_is_a_one_line_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes("name: 城镇化\n".encode("gb18030"))
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2 and "not a UTF-8 text file" in result.output
    assert len([ln for ln in result.output.splitlines() if ln.strip()]) == 1


def test_out_of_range_value_names_allowed_range(tmp_path):
    line = _error_line(tmp_path, "name: x\nbehaviour:\n  settle_takeup: 3\n")
    assert "behaviour.settle_takeup" in line and "from 0 to 1" in line
    line = _error_line(tmp_path, "name: x\nscale: 5\n")
    assert "'scale'" in line and "from 10 to 1000000)" in line  # as written in a file, not 1e+06


@pytest.mark.parametrize("shocks", ["{2022: 9}", "{abc: 0.5}", "3", "{1900: 0.5}"])
def test_bad_mobility_shock_names_key_and_allowed_values(tmp_path, shocks):
    line = _error_line(tmp_path, f"name: x\nmobility_shocks: {shocks}\n")
    assert "'mobility_shocks'" in line and "years 2000 to 2100 to factors from 0 to 5" in line


def test_unknown_demography_table_names_the_tables(tmp_path):
    line = _error_line(tmp_path, "name: x\ndemography: census.csv\n")
    assert "'demography'" in line and "demography.csv, demography_2020.csv" in line


def test_the_backtest_runs_on_the_demography_known_by_its_fitting_years():
    """The backtest's mortality and fertility come from 2020-2022 (demography_2020.csv), the projections'
    from 2023-2024."""
    assert load_scenario(SCENARIOS / "backtest-2020.yaml").demography == "demography_2020.csv"
    assert load_scenario(SCENARIOS / "plan-2024.yaml").demography == "demography.csv"


def test_wrong_type_is_rejected(tmp_path):
    line = _error_line(tmp_path, "name: x\nmonths: many\n")
    assert "'months'" in line and "int" in line


def test_missing_file(tmp_path):
    result = runner.invoke(app, ["run", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "not found" in result.output


def test_invalid_yaml(tmp_path):
    line = _error_line(tmp_path, "name: [unclosed\n")
    assert "invalid YAML" in line


def test_missing_parent(tmp_path):
    line = _error_line(tmp_path, "name: x\nextends: nowhere.yaml\n")
    assert "extends" in line and "nowhere.yaml" in line


def test_bad_thread_count(tmp_path):
    result = runner.invoke(app, ["run", str(SCENARIOS / "plan-2024.yaml"), "--threads", "0"])
    assert result.exit_code == 2 and "--threads" in result.output


def test_override_out_of_range():
    with pytest.raises(ScenarioError, match="scale"):
        load_scenario(SCENARIOS / "plan-2024.yaml", scale=1)
