"""Checkpoints: a run saved after month 12 and resumed gives exactly the months of an uninterrupted run."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from sim.cli import app

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
