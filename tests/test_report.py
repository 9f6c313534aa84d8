"""Ensembles (`citizensim run --replications`), sensitivity indices and the HTML/PDF report.

The report is rendered headlessly (Agg) from a 2-run ensemble, a single run and a synthetic Sobol
sweep whose outcomes are known functions of the factors (so the indices have known values).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from analysis import sensitivity as sa
from analysis import sweep as sweeps
from analysis.designs import load_sweep
from analysis.report import SECTIONS
from sim.cli import app

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--scale", "50000", "--months", "14"]  # Dec 2024 + 14 months: one full year and a partial one


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def synthetic_sobol_sweep(folder: Path, design: dict | None = None) -> Path:
    """A sweep folder (Sobol by default) whose runs were not simulated: hukou_rate depends on
    settle_takeup only, resident_rate on rural_rights_value only."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"name": "synthetic", "base": str(ROOT / "scenarios" / "plan-2024.yaml"), "months": 60,
            "design": design or {"method": "sobol", "samples": 64, "seed": 7},
            "factors": {"behaviour.settle_takeup": {"low": 0.0, "high": 0.02},
                        "behaviour.rural_rights_value": {"low": 0.2, "high": 0.6}},
            "replications": {"seeds": [0]}}
    (folder / "sweep.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    sw = load_sweep(folder / "sweep.yaml")
    out = folder / "out"
    design = sweeps.prepare(sw, out, resume=False)
    for row in design.to_dict(orient="records"):
        values = {"hukou_rate": 0.48 + 5.0 * row["behaviour.settle_takeup"],
                  "resident_rate": 0.66 + 0.05 * row["behaviour.rural_rights_value"]}
        metrics = pd.DataFrame({"period": "end", "year": 2029, "month": 60, "level": "national", "region": "China",
                                "metric": list(values), "value": list(values.values())})
        run = sweeps.run_dir(out, row["run_id"])
        run.mkdir(parents=True)
        metrics.to_parquet(run / sweeps.METRICS, index=False)
        (run / "manifest.json").write_text(json.dumps({"run_id": row["run_id"]}), encoding="utf-8")
    assert sweeps.collect_results(out) is not None
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    invoke("run", str(ROOT / "scenarios" / "plan-2024.yaml"), *SMALL, "--seed", "1", "--replications", "2",
           "--out", str(tmp / "plan"))
    invoke("run", str(ROOT / "scenarios" / "status-quo.yaml"), *SMALL, "--seed", "1", "--out", str(tmp / "sq"))
    return {"tmp": tmp, "plan": tmp / "plan", "sq": tmp / "sq", "sweep": synthetic_sobol_sweep(tmp)}


def test_run_replications_writes_an_ensemble(inputs):
    series = pd.read_parquet(inputs["plan"] / "series.parquet", filters=[("level", "==", "national")])
    assert sorted(series["run"].unique()) == [1, 2]
    assert series.groupby("run").size().nunique() == 1
    bands = pd.read_parquet(inputs["plan"] / "bands.parquet")
    assert {"mean", "p05", "median", "p95", "runs"} <= set(bands.columns) and bands["runs"].between(0, 2).all()
    assert (bands[bands["metric"] == "resident_rate"]["runs"] == 2).all()  # NaN shares (0/0) are not counted
    b = bands.dropna(subset=["median"])
    assert (b["p05"] <= b["median"] * (1 + 1e-9) + 1e-9).all() and (b["median"] <= b["p95"] * (1 + 1e-9) + 1e-9).all()
    end = bands[(bands["level"] == "national") & (bands["metric"] == "hukou_rate")].iloc[-1]
    runs = series[(series["metric"] == "hukou_rate") & (series["month"] == series["month"].max())]["value"]
    assert end["mean"] == pytest.approx(runs.mean())
    manifest = json.loads((inputs["plan"] / "manifest.json").read_text())
    assert manifest["seeds"] == [1, 2] and manifest["replications"] == 2
    assert (inputs["plan"] / "urbanization.png").stat().st_size > 10_000


def test_sobol_indices_recover_a_known_model(inputs):
    table = sa.analyse(inputs["sweep"])
    st = table[table["measure"] == "ST"].set_index(["outcome", "factor"])["value"]
    assert st["hukou_rate", "behaviour.settle_takeup"] == pytest.approx(1.0, abs=0.1)
    assert st["hukou_rate", "behaviour.rural_rights_value"] == pytest.approx(0.0, abs=0.05)
    assert st["resident_rate", "behaviour.rural_rights_value"] == pytest.approx(1.0, abs=0.1)
    assert set(table["year"]) == {2029}
    result = invoke("sensitivity", str(inputs["sweep"]))
    assert "behaviour.settle_takeup" in result.stdout and "ST" in result.stdout
    assert (inputs["sweep"] / "sensitivity.csv").is_file() and (inputs["sweep"] / "sensitivity.png").is_file()


def test_morris_and_latin_hypercube_designs_rank_the_factors(tmp_path):
    morris = sa.analyse(synthetic_sobol_sweep(tmp_path / "morris", {"method": "morris", "samples": 12, "levels": 4}))
    mu = morris[morris["measure"] == "mu_star"].set_index(["outcome", "factor"])["value"]
    assert mu["hukou_rate", "behaviour.settle_takeup"] == pytest.approx(5.0 * 0.02, rel=1e-6)  # per unit range
    assert mu["hukou_rate", "behaviour.rural_rights_value"] == pytest.approx(0.0, abs=1e-12)
    lhs = sa.analyse(synthetic_sobol_sweep(tmp_path / "lhs", {"method": "lhs", "samples": 100}))
    s1 = lhs[lhs["measure"] == "S1"].set_index(["outcome", "factor"])["value"]
    assert s1["hukou_rate", "behaviour.settle_takeup"] > 0.8 > 0.2 > s1["hukou_rate", "behaviour.rural_rights_value"]
    assert set(lhs["measure"]) == {"delta", "S1"}
    assert (tmp_path / "lhs" / "out").is_dir()


def test_sensitivity_of_an_incomplete_sobol_sweep_is_a_one_line_error(inputs, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(inputs["sweep"], broken)
    shutil.rmtree(next((broken / "runs").iterdir()))
    sweeps.collect_results(broken)
    result = CliRunner().invoke(app, ["sensitivity", str(broken)])
    assert result.exit_code == 2 and "--resume" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_report_renders_every_section(inputs, tmp_path):
    out = tmp_path / "report.html"
    invoke("report", str(inputs["plan"]), str(inputs["sq"]), str(inputs["sweep"]), "--out", str(out), "--pdf")
    page = out.read_text(encoding="utf-8")
    ids = re.findall(r'<section id="([^"]+)">', page)
    assert ids == list(SECTIONS)
    for heading in SECTIONS.values():
        assert f"<h2>{heading.replace(chr(39), '&#x27;')}</h2>" in page
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == 8 and all(src.startswith("data:image/png;base64,") for src in images)
    assert "http://" not in page and "https://" not in page  # self-contained
    assert "NBS" in page and "70%" in page and "plan-2024" in page and "status-quo" in page
    assert "not in this result" in page or "Housing metrics shown" in page
    for setting in ("policy.hukou.relaxed_residence_months", "behaviour.settle_takeup"):
        assert setting in page  # levers differing from the defaults; sensitivity factors
    pdf = out.with_suffix(".pdf")
    assert pdf.read_bytes()[:4] == b"%PDF" and pdf.stat().st_size > 50_000


def test_report_of_one_run_says_what_is_missing(inputs, tmp_path):
    lean = tmp_path / "lean"
    shutil.copytree(inputs["sq"], lean)
    series = pd.read_parquet(lean / "series.parquet")
    dropped = ["children_public_school", "children_left_behind", "migrant_children_public_share",
               "migrant_insured_share"]
    series = series[~series["metric"].isin(dropped)]
    series["metric"] = series["metric"].cat.remove_unused_categories()
    series.to_parquet(lean / "series.parquet", index=False)
    out = tmp_path / "lean.html"
    invoke("report", str(lean), "--out", str(out))
    page = out.read_text(encoding="utf-8")
    assert re.findall(r'<section id="([^"]+)">', page) == list(SECTIONS)
    for metric in dropped:
        assert f"{metric}: not in this result" in page
    assert "Only one result was given" in page and "No sweep folder given" in page


def test_report_rejects_a_folder_that_is_not_a_result(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["report", str(tmp_path / "empty"), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "not a result folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "r.html").exists()


def test_sensitivity_to_an_unwritable_place_is_a_one_line_error(inputs, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    result = CliRunner().invoke(app, ["sensitivity", str(inputs["sweep"]), "--out", str(blocker / "sa")])
    assert result.exit_code == 2 and "cannot write" in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_report_to_a_folder_or_an_unwritable_place_is_a_one_line_error(inputs, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    for out, expected in ((tmp_path, "is a folder"), (blocker / "r.html", "cannot write")):
        result = CliRunner().invoke(app, ["report", str(inputs["sq"]), "--out", str(out)])
        assert result.exit_code == 2 and expected in result.stderr, result.output
        assert len(result.stderr.strip().splitlines()) == 1


def test_province_tiles_cover_every_province(inputs):
    from analysis import figures

    series = pd.read_parquet(inputs["sq"] / "series.parquet", filters=[("level", "==", "province")])
    change, start, end = figures.province_change(series, "hukou_rate")
    assert set(change.index) <= set(figures.TILES) and len(change) == 31
    assert start == "Dec 2024" and end == "Feb 2026" and np.isfinite(change).all()
