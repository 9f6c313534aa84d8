"""Results folders: contents of a run, and atomic writing."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from analysis.outputs import write_atomically
from sim.cli import app

from .conftest import SCENARIOS, SMALL_SCALE


def test_run_writes_series_manifest_and_figure(tmp_path):
    out = tmp_path / "res"
    result = CliRunner().invoke(app, ["run", str(SCENARIOS / "plan-2024.yaml"), "--scale", str(SMALL_SCALE),
                                      "--months", "12", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"series.parquet", "manifest.json", "urbanization.png"}
    series = pd.read_parquet(out / "series.parquet")
    assert list(series.columns) == ["month", "date", "level", "region", "metric", "value"]
    assert set(series["level"]) == {"national", "tier", "province", "city"}
    for level, regions in (("national", {"China"}), ("tier", {"open", "relaxed", "points"})):
        sel = series[(series["level"] == level) & series["metric"].isin(["resident_rate", "hukou_rate"])]
        assert set(sel["region"]) == regions
        assert sel["month"].nunique() == 13
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["scale"] == SMALL_SCALE
    assert manifest["scenario"]["name"] == "plan-2024"
    assert manifest["versions"]["numba"] and manifest["versions"]["mesa"]
    assert manifest["wall_seconds"] > 0


def test_interrupted_write_leaves_nothing(tmp_path):
    out = tmp_path / "res"

    def crash(tmp):
        (tmp / "series.parquet").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(out, crash)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_rewrite_replaces_old_result(tmp_path):
    out = tmp_path / "res"
    write_atomically(out, lambda tmp: (tmp / "a").write_text("1"))
    write_atomically(out, lambda tmp: (tmp / "b").write_text("2"))
    assert [p.name for p in out.iterdir()] == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["res"]
