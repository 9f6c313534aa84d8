"""Sweeps on dask.distributed: designs, sweep-file errors, a 2-worker LocalCluster sweep, a worker
killed mid-sweep, resuming after interruption, retries of failing runs, the SLURM example config,
and the ensemble option of ``citizensim run``.

Runs are tiny (1 agent = 50,000 persons, 12 months) so the whole module takes well under two minutes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from analysis import sweep as sweeps
from analysis.cluster import load_cluster_file, worker_env
from analysis.designs import SweepError, build_design, load_sweep
from sim.cli import app
from sim.scenario_io import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCALE, MONTHS = 50_000, 12


def write_sweep(path: Path, **changes) -> Path:
    spec = {
        "name": "tiny",
        "base": str(ROOT / "scenarios" / "plan-2024.yaml"),
        "scale": SCALE,
        "months": MONTHS,
        "design": {"method": "grid", "levels": 2},
        "factors": {"behaviour.settle_takeup": {"low": 0.006, "high": 0.024},
                    "policy.hukou.abolish_annual_quota": {"values": [False, True]}},
        "replications": {"seeds": [0, 1]},
        "retries": 1,
    }
    spec.update(changes)
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def run_ids(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "runs").iterdir() if not p.name.startswith("."))


# -- designs and sweep files (no cluster) --------------------------------------------------------------
def test_designs_have_the_documented_sizes(tmp_path):
    grid = load_sweep(write_sweep(tmp_path / "g.yaml"))
    design, raw = build_design(grid)
    assert len(raw) == 4 and len(design) == 8
    assert set(design["policy.hukou.abolish_annual_quota"]) == {False, True}
    assert sorted(set(design["behaviour.settle_takeup"])) == [0.006, 0.024]
    assert design["run_id"].is_unique and list(design["seed"][:2]) == [0, 1]

    factors = {"behaviour.settle_takeup": {"low": 0.006, "high": 0.024},
               "policy.hukou.relaxed_residence_months": {"low": 0, "high": 36}}
    sob = load_sweep(write_sweep(tmp_path / "s.yaml", factors=factors,
                                 design={"method": "sobol", "samples": 8, "seed": 3}))
    design, raw = build_design(sob)
    assert len(raw) == 8 * (2 + 2) and len(design) == 2 * len(raw)
    months = design["policy.hukou.relaxed_residence_months"]
    assert months.dtype.kind == "i" and months.between(0, 36).all()
    scenario = sob.scenario({"policy.hukou.relaxed_residence_months": 7, "behaviour.settle_takeup": 0.01}, seed=5)
    assert scenario.policy.hukou.relaxed_residence_months == 7 and scenario.behaviour.settle_takeup == 0.01
    assert scenario.seed == 5 and scenario.scale == SCALE and scenario.months == MONTHS
    assert scenario.policy.hukou.open_residence_months == 0  # inherited from plan-2024.yaml

    # apart from the factors, a run's scenario is what `citizensim run` would use (calibrated behaviour included)
    same = load_scenario(ROOT / "scenarios" / "plan-2024.yaml", scale=SCALE, months=MONTHS, seed=5)
    assert sob.scenario({}, seed=5).model_dump(exclude={"extends"}) == same.model_dump(exclude={"extends"})

    lhs = load_sweep(write_sweep(tmp_path / "l.yaml", factors=factors, design={"method": "lhs", "samples": 10}))
    assert len(build_design(lhs)[1]) == 10


BAD_SWEEPS = [
    ({"desing": {"method": "grid"}}, "unknown key 'desing'", "did you mean 'design'"),
    ({"design": {"method": "halton"}}, "key 'design.method'", "'grid', 'lhs', 'sobol' or 'morris'"),
    ({"design": {"method": "sobol", "samples": 12}}, "key 'design.samples'", "power of 2"),
    ({"factors": {"behaviour.settle_takup": {"low": 0.1, "high": 0.2}}}, "factors.behaviour.settle_takup",
     "did you mean 'behaviour.settle_takeup'"),
    ({"factors": {"behaviour.settle_takeup": {"low": 0.1, "high": 1.5}}}, "factors.behaviour.settle_takeup",
     "from 0 to 1"),
    ({"factors": {"behaviour.settle_takeup": {"low": 0.3, "high": 0.2}}}, "factors.behaviour.settle_takeup",
     "must be below"),
    ({"factors": {"policy.hukou.abolish_annual_quota": {"low": 0, "high": 1}}},
     "factors.policy.hukou.abolish_annual_quota", "list of values"),
    ({"replications": {"seeds": [1, 1]}}, "key 'replications'", "distinct"),
    ({"base": "nowhere.yaml"}, "key 'base'", "not found"),
]


@pytest.mark.parametrize(("changes", "key", "allowed"), BAD_SWEEPS)
def test_bad_sweep_files_give_one_line_and_exit_2(tmp_path, changes, key, allowed):
    path = write_sweep(tmp_path / "bad.yaml", **changes)
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and key in lines[0] and allowed in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


def test_missing_sweep_file_and_bad_yaml(tmp_path):
    result = CliRunner().invoke(app, ["sweep", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and "sweep file not found" in result.stderr
    (tmp_path / "x.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["sweep", str(tmp_path / "x.yaml")])
    assert result.exit_code == 2 and "invalid YAML" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("text, expected", [
    ("kind: slurm\ncores: 16\n", "unknown key 'cores' (allowed keys here: adapt, jobs, kind, options)"),
    ("kind: slurm\nadapt:\n  maximum_job: 4\n", "did you mean 'maximum_jobs'?"),
    ("kind: slurm\njobs: 0\n", "key 'jobs': Input should be greater than or equal to 1"),
    ("- slurm\n", "top level must be a mapping"),
    ("kind: slurm\n", "give either 'jobs'"),
])
def test_cluster_file_mistakes_name_the_key(tmp_path, text, expected):
    from analysis.cluster import ClusterError

    path = tmp_path / "cluster.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ClusterError) as err:
        load_cluster_file(path)
    assert str(err.value).startswith(str(path)) and expected in str(err.value) and "\n" not in str(err.value)


def test_slurm_example_config_exports_numba_threads(tmp_path, monkeypatch):
    from analysis.cluster import jobqueue_cluster

    spec = load_cluster_file(ROOT / "sweeps" / "slurm-example.yaml")
    assert spec.kind == "slurm" and spec.adapt is not None
    spec.options["log_directory"] = str(tmp_path / "logs")
    monkeypatch.chdir(tmp_path)
    cluster = jobqueue_cluster(spec, threads=1)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH" in script and "export NUMBA_NUM_THREADS=1" in script
    assert script.index("NUMBA_NUM_THREADS") < script.index("distributed.cli.dask_worker")
    assert "--nthreads 1" in script


# -- sweeps on a LocalCluster ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    """A 2-worker LocalCluster (one single-threaded process each, NUMBA_NUM_THREADS=1) for several tests."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, env=worker_env(1),
                      dashboard_address=":0") as cluster, Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    """A grid of 4 points x 2 seeds run on a fresh 2-worker LocalCluster."""
    tmp = tmp_path_factory.mktemp("sweep")
    sw = load_sweep(write_sweep(tmp / "tiny.yaml"))
    out = tmp / "out"
    started = []
    summary = sweeps.run_sweep(sw, out, workers=2, on_start=lambda n, total: started.append((n, total)))
    return sw, out, summary, started


def test_two_worker_sweep_finishes_with_all_rows(finished_sweep):
    sw, out, summary, started = finished_sweep
    design = pd.read_parquet(out / "design.parquet")
    assert started == [(8, 8)] and summary.ok and sorted(summary.executed) == sorted(design["run_id"])
    assert run_ids(out) == sorted(design["run_id"])
    res = sweeps.read_results(out)
    per_run = res.groupby("run_id").size()
    assert sorted(per_run.index) == sorted(design["run_id"]) and per_run.nunique() == 1
    assert {"point", "seed", "behaviour.settle_takeup", "policy.hukou.abolish_annual_quota"} <= set(res.columns)
    assert set(res["period"]) == {"start", "year", "end"} and set(res["level"]) == {"national", "tier", "province"}
    end = res[(res["period"] == "end") & (res["level"] == "national") & (res["metric"] == "hukou_rate")]
    assert end["value"].between(0.3, 0.8).all() and end["value"].nunique() > 1
    # yearly flows are sums of the monthly flows: 12 months -> one year equal to the whole period
    settle = res[(res["level"] == "national") & (res["metric"] == "settlements") & (res["period"] != "start")]
    by = settle.pivot_table(index="run_id", columns="period", values="value", observed=True)
    assert np.allclose(by["year"], by["end"])
    manifest = json.loads((out / "runs" / design["run_id"][0] / "manifest.json").read_text())
    assert manifest["threads"] == 1 and manifest["seed"] == 0 and manifest["run_id"] == design["run_id"][0]
    state = json.loads((out / "sweep.json").read_text())
    assert state["status"] == "complete" and state["runs_done"] == 8 and state["failures"] == {}


def test_resume_reruns_only_the_missing_runs(finished_sweep, client, tmp_path):
    sw, out, _, _ = finished_sweep
    with pytest.raises(sweeps.SweepStateError, match="--resume"):
        sweeps.run_sweep(sw, out, workers=1)
    removed = ["p00001-s1", "p00003-s0"]
    kept = [r for r in run_ids(out) if r not in removed]
    stamps = {r: (out / "runs" / r / "manifest.json").stat().st_mtime_ns for r in kept}
    for r in removed:
        import shutil

        shutil.rmtree(out / "runs" / r)
    (out / "runs" / ".p00002-s0.tmp-12345").mkdir()  # debris of a run killed while writing
    summary = sweeps.run_sweep(sw, out, scheduler=client.scheduler.address, resume=True)  # as --scheduler
    assert sorted(summary.executed) == removed and sorted(summary.skipped) == kept
    assert {r: (out / "runs" / r / "manifest.json").stat().st_mtime_ns for r in kept} == stamps
    assert run_ids(out) == sorted(kept + removed) and not list((out / "runs").glob(".*"))
    assert sweeps.read_results(out)["run_id"].nunique() == 8
    # a changed sweep file cannot resume into the same folder
    changed = load_sweep(write_sweep(tmp_path / "changed.yaml", replications={"seeds": [0, 2]}))
    with pytest.raises(sweeps.SweepStateError, match="changed"):
        sweeps.run_sweep(changed, out, workers=1, resume=True)


def test_killing_a_worker_mid_sweep_still_finishes_every_run_once(client, tmp_path):
    sw = load_sweep(write_sweep(tmp_path / "tiny.yaml"))  # 8 runs
    out = tmp_path / "out"
    killed: list[int] = []
    pids = client.run(os.getpid)

    def kill_one(outcome, done, total):
        if killed:
            return
        busy = [w for w, keys in client.processing().items() if keys]
        if busy:
            killed.append(pids[busy[0]])
            os.kill(pids[busy[0]], signal.SIGKILL)

    summary = sweeps.run_sweep(sw, out, client=client, on_result=kill_one)
    deadline = time.time() + 60
    while len(client.scheduler_info()["workers"]) < 2 and time.time() < deadline:
        time.sleep(0.2)
    new_pids = client.run(os.getpid)
    assert killed and killed[0] not in new_pids.values()  # the nanny restarted the killed worker
    design = pd.read_parquet(out / "design.parquet")
    assert summary.ok and run_ids(out) == sorted(design["run_id"])
    res = sweeps.read_results(out, filters=[("level", "==", "national"), ("period", "==", "end"),
                                            ("metric", "==", "hukou_rate")])
    assert len(res) == len(design) and res["run_id"].is_unique
    assert not list((out / "runs").glob(".*"))


class FlakyRunner:
    """Fails one run always and another on its first attempt; runs the rest."""

    def __init__(self, marks: Path) -> None:
        self.marks = marks

    def __call__(self, task):
        mark = self.marks / task.run_id
        first = not mark.exists()
        mark.touch()
        if task.run_id == "p00000-s0" or (task.run_id == "p00001-s0" and first):
            raise RuntimeError(f"injected failure in {task.run_id}")
        return sweeps.execute_run(task)


def test_failing_runs_are_retried_then_reported(tmp_path):
    from distributed import Client, LocalCluster

    sw = load_sweep(write_sweep(tmp_path / "tiny.yaml", replications={"seeds": [0]}, retries=2))
    (tmp_path / "marks").mkdir()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        outcomes = []
        summary = sweeps.run_sweep(sw, tmp_path / "out", client=client, runner=FlakyRunner(tmp_path / "marks"),
                                   on_result=lambda o, d, n: outcomes.append(o))
    assert list(summary.failed) == ["p00000-s0"] and "injected failure" in summary.failed["p00000-s0"]
    assert summary.attempts["p00000-s0"] == 3 and summary.attempts["p00001-s0"] == 2
    assert sorted(summary.executed) == ["p00001-s0", "p00002-s0", "p00003-s0"]
    assert [o["status"] for o in outcomes].count("failed") == 1
    state = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert state["status"] == "incomplete" and list(state["failures"]) == ["p00000-s0"]
    assert sweeps.read_results(tmp_path / "out")["run_id"].nunique() == 3


def test_interrupted_cli_sweep_resumes_with_only_the_missing_runs(tmp_path):
    """Kill a running `citizensim sweep` (and its local cluster), then continue it with --resume."""
    path = write_sweep(tmp_path / "tiny.yaml")  # 8 runs
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", "from sim.cli import app; app()", "sweep", str(path), "--workers", "2",
           "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    log = (tmp_path / "stderr.txt").open("wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if (out / "runs").is_dir() and len(run_ids(out)) >= 2:
                break
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the CLI, its nanny and worker: one process group
        proc.wait(timeout=30)
        log.close()
    done_before = run_ids(out)
    assert 2 <= len(done_before) < 8, (tmp_path / "stderr.txt").read_text()[-2000:]
    assert not (out / sweeps.RESULTS).exists()
    resumed = subprocess.run([*cmd, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{len(done_before)} of 8 runs already done; running {8 - len(done_before)}" in resumed.stderr
    assert f"{8 - len(done_before)} runs done, {len(done_before)} skipped" in resumed.stderr
    assert len(run_ids(out)) == 8 and sweeps.read_results(out)["run_id"].nunique() == 8


def test_sweep_without_resume_refuses_an_existing_sweep_folder(finished_sweep):
    sw, out, _, _ = finished_sweep
    result = CliRunner().invoke(app, ["sweep", str(sw.path), "--out", str(out)])
    assert result.exit_code == 2 and "--resume" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_sweep_refuses_a_file_or_an_unwritable_out_before_starting(finished_sweep, tmp_path):
    sw, _, _, _ = finished_sweep
    blocker = tmp_path / "blocker"
    blocker.write_text("keep")
    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "draft.tex").write_text("keep")
    for out, expected, *resume in ((blocker, "is a file"), (blocker / "sweep", "cannot write"),
                                   (papers, "holds no sweep", "--resume")):
        result = CliRunner().invoke(app, ["sweep", str(sw.path), "--out", str(out), *resume])
        assert result.exit_code == 2 and expected in result.stderr, result.output
        assert len(result.stderr.strip().splitlines()) == 1
    assert blocker.read_text() == "keep" and [p.name for p in papers.iterdir()] == ["draft.tex"]


def test_sweep_with_a_malformed_scheduler_address_is_a_one_line_error(finished_sweep, tmp_path):
    sw, _, _, _ = finished_sweep
    result = CliRunner().invoke(app, ["sweep", str(sw.path), "--scheduler", "localhost", "--out",
                                      str(tmp_path / "s")])
    assert result.exit_code == 2 and "option --scheduler" in result.stderr, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "s").exists()


def test_sweep_errors_on_unknown_design_method_via_api(tmp_path):
    with pytest.raises(SweepError, match="design.method"):
        load_sweep(write_sweep(tmp_path / "x.yaml", design={"method": "random"}))
