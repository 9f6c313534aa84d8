"""Results folders: contents of a run, and atomic writing."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from analysis.outputs import OutputError, check_destination, write_atomically
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


def _result(name: str):
    """A fill that writes a result: a manifest and one file ``name``."""
    def fill(tmp):
        (tmp / "manifest.json").write_text("{}")
        (tmp / name).write_text(name)
    return fill


def test_rewrite_replaces_old_result(tmp_path):
    out = tmp_path / "res"
    write_atomically(out, _result("a"))
    write_atomically(out, _result("b"))
    assert sorted(p.name for p in out.iterdir()) == ["b", "manifest.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["res"]
    (tmp_path / "empty").mkdir()
    write_atomically(tmp_path / "empty", _result("c"))  # an empty folder is as good as none
    assert (tmp_path / "empty" / "c").is_file()


def test_what_is_not_a_result_is_never_replaced(tmp_path):
    """A file, or a folder of other things, where the result should go is an error and stays as it was."""
    mine = tmp_path / "notes.txt"
    mine.write_text("keep")
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "draft.tex").write_text("keep")
    for out in (mine, folder):
        with pytest.raises(OutputError, match="choose another --out"):
            write_atomically(out, _result("a"))
    assert mine.read_text() == "keep" and [p.name for p in folder.iterdir()] == ["draft.tex"]
    with pytest.raises(OutputError, match="cannot write"):  # under a file: no folder can be made there
        check_destination(mine / "res")


def test_run_refuses_a_destination_before_running(tmp_path):
    (tmp_path / "draft.tex").write_text("keep")
    result = CliRunner().invoke(app, ["run", str(SCENARIOS / "plan-2024.yaml"), "--scale", str(SMALL_SCALE),
                                      "--months", "12", "--out", str(tmp_path)])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "is not a results folder" in lines[0] and "months" not in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["draft.tex"]


def test_a_run_larger_than_the_free_memory_is_warned_of_and_goes_on(tmp_path, monkeypatch):
    import sim.cli_support

    monkeypatch.setattr(sim.cli_support, "available_memory_bytes", lambda: 1e6)
    result = CliRunner().invoke(app, ["run", str(SCENARIOS / "plan-2024.yaml"), "--scale", "100000",
                                      "--months", "1", "--out", str(tmp_path / "res")])
    assert result.exit_code == 0 and "warning: 1 agent = 100000 persons needs about 0.4 GB" in result.output
    assert (tmp_path / "res" / "manifest.json").is_file()
    monkeypatch.setattr(sim.cli_support, "available_memory_bytes", lambda: 64e9)
    result = CliRunner().invoke(app, ["run", str(SCENARIOS / "plan-2024.yaml"), "--scale", "100000",
                                      "--months", "1", "--out", str(tmp_path / "res")])
    assert result.exit_code == 0 and "warning" not in result.output
