"""Dask clusters for sweeps: a LocalCluster on this machine, an existing scheduler, or a batch-system
cluster through dask-jobqueue (SLURM, PBS, SGE, LSF) described in a small YAML file.

Each Dask worker is one process with one thread, so it runs one simulation at a time; the numba
thread count of that process is set explicitly through ``NUMBA_NUM_THREADS`` in the worker's
environment (local workers: the nanny's ``env``; jobqueue workers: the job script's prologue), and
again by :func:`analysis.sweep.execute_run` with ``numba.set_num_threads`` for workers started by
someone else.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.scenario_io import format_validation_error, read_yaml_mapping

JOBQUEUE_CLASSES = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster"}


class ClusterError(Exception):
    """A user mistake in a cluster file or scheduler option; one line."""


class Adapt(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minimum_jobs: int = Field(0, ge=0)
    maximum_jobs: int = Field(..., ge=1)


class ClusterFile(BaseModel):
    """A batch-system cluster: which dask-jobqueue class, how many jobs, and its keyword arguments."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["slurm", "pbs", "sge", "lsf"] = Field(..., description="Batch system (dask-jobqueue class).")
    jobs: int | None = Field(None, ge=1, le=100_000, description="Fixed number of batch jobs to submit.")
    adapt: Adapt | None = Field(None, description="Scale between minimum_jobs and maximum_jobs with the load.")
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="Keyword arguments of the dask-jobqueue cluster class.")


def worker_env(threads: int) -> dict[str, str]:
    """Environment of a worker process: explicit thread counts for numba and the BLAS libraries."""
    return {"NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def default_workers(threads: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, threads))


def load_cluster_file(path: Path) -> ClusterFile:
    """The cluster file at ``path``; ClusterError (one line, naming the key) for any mistake in it."""
    path = Path(path)
    data = read_yaml_mapping(path, "cluster", ClusterError)
    try:
        spec = ClusterFile.model_validate(data)
    except ValidationError as err:
        raise ClusterError(format_validation_error(path, err, ClusterFile)) from None
    if (spec.jobs is None) == (spec.adapt is None):
        raise ClusterError(f"{path}: give either 'jobs' (a fixed number) or 'adapt' (minimum_jobs/maximum_jobs)")
    return spec


def jobqueue_cluster(spec: ClusterFile, threads: int):
    """Build (but do not scale) the dask-jobqueue cluster a cluster file describes."""
    import dask_jobqueue

    cls = getattr(dask_jobqueue, JOBQUEUE_CLASSES[spec.kind])
    options = dict(spec.options)
    prologue = list(options.pop("job_script_prologue", []) or [])
    prologue = [f"export {k}={v}" for k, v in worker_env(threads).items()] + prologue
    options.setdefault("processes", options.get("cores", 1))  # one single-threaded worker per core
    return cls(job_script_prologue=prologue, **options)


@contextlib.contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None, threads: int = 1,
                cluster_file: Path | None = None, dashboard: bool = True) -> Iterator[Any]:
    """A ``distributed.Client`` on: the scheduler at ``scheduler`` (an address or a scheduler JSON
    file), a jobqueue cluster from ``cluster_file``, or a new LocalCluster of ``workers`` processes."""
    from distributed import Client, LocalCluster

    if scheduler is not None and cluster_file is not None:
        raise ClusterError("options --scheduler and --cluster: give one, not both")
    cluster = None
    try:
        if scheduler is not None:
            if Path(scheduler).is_file():
                client = Client(scheduler_file=scheduler, timeout="30s")
            else:
                try:
                    client = Client(scheduler, timeout="30s")
                except ValueError as err:  # not an address (distributed parses it)
                    raise ClusterError(f"option --scheduler: {err} (allowed: an address such as "
                                       "tcp://host:8786, or a scheduler JSON file)") from None
        elif cluster_file is not None:
            spec = load_cluster_file(cluster_file)
            cluster = jobqueue_cluster(spec, threads)
            if spec.jobs is not None:
                cluster.scale(jobs=spec.jobs)
            else:
                cluster.adapt(minimum_jobs=spec.adapt.minimum_jobs, maximum_jobs=spec.adapt.maximum_jobs)
            client = Client(cluster)
        else:
            cluster = LocalCluster(n_workers=workers or default_workers(threads), threads_per_worker=1,
                                   processes=True, env=worker_env(threads),
                                   dashboard_address=":8787" if dashboard else None,
                                   silence_logs=logging.ERROR)
            client = Client(cluster)
    except OSError as err:  # unreachable scheduler, timeouts
        if cluster is not None:
            cluster.close()
        raise ClusterError(f"cannot reach the Dask scheduler {scheduler or ''}: {err}".replace("  ", " ")) from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
