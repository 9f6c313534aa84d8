"""Sweep files and experimental designs: which scenarios a sweep runs.

A sweep file (YAML, validated by pydantic like scenarios) names a base scenario, the factors to vary
(dotted scenario keys such as ``policy.hukou.relaxed_residence_months`` or ``behaviour.settle_takeup``)
with a range or a list of values, a design (full grid, Latin hypercube, Sobol or Morris, sampled with
SALib) and the replications (explicit seeds). In the EMA Workbench's vocabulary the ``policy.*`` factors
are levers and the ``behaviour.*`` factors uncertainties; both are sampled the same way here.

Every design point runs once per seed, with the same seeds at every point (common random numbers), so
differences between points are not blurred by independent noise. A run is identified by
``p<point>-s<seed>``.

Mistakes in a sweep file raise :class:`SweepError` whose text is one line naming the file, the key and
what is allowed.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.policy import Scenario
from sim.scenario_io import ScenarioError, allowed_text, deep_merge, read_yaml_mapping, resolve_raw

METHODS = ("grid", "lhs", "sobol", "morris")
LEVELS = ("national", "tier", "province", "city")
FACTOR_ROOTS = ("policy", "behaviour")


class SweepError(Exception):
    """A user mistake in a sweep file; ``str(err)`` is a single line fit to print."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Factor(_Strict):
    """One varied scenario key: a numeric range ``low``..``high`` or an explicit list of ``values``."""

    low: float | None = Field(None, description="Lower end of the range (inclusive).")
    high: float | None = Field(None, description="Upper end of the range (inclusive).")
    values: list[float | bool | int | str] | None = Field(
        None, min_length=1, description="Explicit values (sampled designs pick one with equal probability).")

    @model_validator(mode="after")
    def _range_or_values(self) -> Factor:
        has_range = self.low is not None or self.high is not None
        if has_range and self.values is not None:
            raise ValueError("give either low/high or values, not both")
        if not has_range and self.values is None:
            raise ValueError("give low and high, or values")
        if has_range and (self.low is None or self.high is None):
            raise ValueError("give both low and high")
        if has_range and not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        return self


class Design(_Strict):
    """How design points are chosen."""

    method: Literal["grid", "lhs", "sobol", "morris"] = Field(
        ..., description="grid: every combination; lhs: Latin hypercube; sobol: Saltelli/Sobol' sequence "
        "(for Sobol indices); morris: elementary-effect trajectories (for Morris screening).")
    samples: int | None = Field(
        None, ge=1, le=1_000_000, description="lhs: number of points; sobol: base sample N, a power of 2 "
        "(N*(D+2) points, N*(2D+2) with second_order); morris: number of trajectories (N*(D+1) points).")
    levels: int = Field(4, ge=2, le=1000, description="grid: points per ranged factor; morris: grid levels.")
    second_order: bool = Field(False, description="sobol: also sample for second-order indices.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of the design sampler.")


class Replications(_Strict):
    """The seeds each design point runs with: an explicit list, or ``count`` seeds from ``first_seed``."""

    seeds: list[int] | None = Field(None, min_length=1, description="Explicit seeds.")
    count: int | None = Field(None, ge=1, le=10_000, description="Number of seeds first_seed, first_seed+1, ...")
    first_seed: int = Field(0, ge=0, le=2**62, description="First seed when count is given.")

    @model_validator(mode="after")
    def _one_way(self) -> Replications:
        if (self.seeds is None) == (self.count is None):
            raise ValueError("give either seeds (a list) or count")
        if self.seeds is not None:
            if len(set(self.seeds)) != len(self.seeds):
                raise ValueError("seeds must be distinct")
            if min(self.seeds) < 0:
                raise ValueError("seeds must be >= 0")
        return self

    def resolved(self) -> list[int]:
        if self.seeds is not None:
            return list(self.seeds)
        return [self.first_seed + i for i in range(self.count or 0)]


class SweepFile(_Strict):
    """The contents of a sweep YAML file."""

    name: str = Field(..., min_length=1, description="Name of the sweep (default results folder).")
    description: str = ""
    base: str = Field(..., min_length=1, description="Base scenario file, relative to the sweep file.")
    scale: int | None = Field(None, ge=10, le=1_000_000, description="Persons per agent (default: base's).")
    months: int | None = Field(None, ge=1, le=240, description="Months per run (default: base's).")
    design: Design
    factors: dict[str, Factor] = Field(..., min_length=1, description="Dotted scenario key -> range or values.")
    replications: Replications = Replications(seeds=[0])
    retries: int = Field(2, ge=0, le=20, description="Extra attempts for a failed or lost run.")
    threads_per_run: int = Field(1, ge=1, le=1024, description="Numba threads per run on a worker.")
    levels: list[Literal["national", "tier", "province", "city"]] = Field(
        ["national", "tier", "province"], min_length=1, description="Levels kept in the results table.")
    save_series: bool = Field(False, description="Also keep each run's full monthly series.parquet.")
    calibrated: bool = Field(True, description="Put the fitted behaviour of sim/data/calibrated.yaml under the "
                             "base scenario's own behaviour values, as `citizensim run` does.")


# -- one-line errors ------------------------------------------------------------------------------
def _sub_model(model: type[BaseModel] | None, part: Any) -> type[BaseModel] | None:
    if model is None or not isinstance(part, str) or part not in model.model_fields:
        return None
    ann = model.model_fields[part].annotation
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()):  # Optional[Model], dict[str, Model]
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _format_sweep_error(path: Path, err: ValidationError) -> str:
    first = err.errors()[0]
    loc = tuple(first["loc"])
    key = ".".join(str(p) for p in loc)
    owner: type[BaseModel] | None = SweepFile
    parts, i = loc[:-1], 0
    while i < len(parts):
        if owner is SweepFile and parts[i] == "factors":  # factors.<dotted key>.<field>
            owner = Factor if i + 1 < len(parts) else None
            i += 2
            continue
        owner = _sub_model(owner, parts[i])
        i += 1
    last = loc[-1] if loc else ""
    if first["type"] == "extra_forbidden":
        names = sorted(owner.model_fields) if owner is not None else []
        guess = difflib.get_close_matches(str(last), names, n=1)
        hint = f"; did you mean '{guess[0]}'?" if guess else ""
        return f"{path}: unknown key '{key}' (allowed keys here: {', '.join(names)}){hint}"
    if first["type"] == "missing":
        return f"{path}: key '{key}' is required"
    info = owner.model_fields.get(last) if owner is not None and isinstance(last, str) else None
    allowed = ""
    if first["type"] == "literal_error":
        allowed = f" (allowed: {first['ctx']['expected']})"
    elif info is not None:
        allowed = f" ({allowed_text(info)})"
    msg = first["msg"].removeprefix("Value error, ")
    value = first.get("input")
    shown = "" if isinstance(value, dict) or first["type"] == "value_error" else f", got {value!r}"
    return f"{path}: key '{key}': {msg}{shown}{allowed}"


# -- scenario keys ---------------------------------------------------------------------------------
def scenario_leaves(model: type[BaseModel] = Scenario, prefix: str = "") -> dict[str, Any]:
    """Every leaf setting of the scenario under policy/behaviour: dotted key -> pydantic FieldInfo."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        if not prefix and name not in FACTOR_ROOTS:
            continue
        sub = _sub_model(model, name)
        if sub is not None:
            out.update(scenario_leaves(sub, key + "."))
        else:
            out[key] = info
    return out


def _kind(info: Any) -> str:
    ann = info.annotation
    if ann is bool:
        return "bool"
    if ann is int:
        return "int"
    if ann is float:
        return "float"
    return "other"


def set_dotted(mapping: dict, key: str, value: Any) -> dict:
    """A copy of nested ``mapping`` with the dotted ``key`` set to ``value``."""
    head, *rest = key.split(".")
    out = dict(mapping)
    if rest:
        inner = out.get(head)
        out[head] = set_dotted(inner if isinstance(inner, dict) else {}, ".".join(rest), value)
    else:
        out[head] = value
    return out


def _to_python(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


# -- the loaded sweep ------------------------------------------------------------------------------
class Sweep:
    """A validated sweep: the file's settings, the resolved base scenario and the factor types."""

    def __init__(self, path: Path, spec: SweepFile, base_raw: dict) -> None:
        self.path = path
        self.spec = spec
        self.base_raw = base_raw
        leaves = scenario_leaves()
        self.kinds = {key: _kind(leaves[key]) for key in spec.factors}

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def factor_names(self) -> list[str]:
        return list(self.spec.factors)

    def scenario_raw(self, values: dict[str, Any], seed: int) -> dict:
        """The mapping of one run's scenario: the base with the factor values and seed applied."""
        raw = dict(self.base_raw)
        for key, value in values.items():
            raw = set_dotted(raw, key, _to_python(value))
        raw["seed"] = int(seed)
        return raw

    def scenario(self, values: dict[str, Any], seed: int) -> Scenario:
        return Scenario.model_validate(self.scenario_raw(values, seed))

    def problem(self) -> dict:
        """The SALib problem: numeric ranges as given, value lists as [0, number of values)."""
        bounds = []
        for f in self.spec.factors.values():
            bounds.append([f.low, f.high] if f.values is None else [0.0, float(len(f.values))])
        return {"num_vars": len(bounds), "names": self.factor_names, "bounds": bounds}

    def fingerprint(self, design: pd.DataFrame) -> str:
        """A hash of what the sweep computes (base scenario, settings, design) to guard --resume."""
        payload = json.dumps({"base": self.base_raw, "spec": self.spec.model_dump(mode="json",
                              exclude={"description", "retries", "threads_per_run"}),
                              "design": design.astype(str).to_dict(orient="list")}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _calibrated_defaults() -> dict:
    """The fitted values that ``load_scenario`` puts under every scenario ({} if there are none)."""
    try:
        from sim.scenario_io import calibrated_defaults
    except ImportError:  # an engine without calibration
        return {}
    return calibrated_defaults()


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file: schema, base scenario, factor keys and every factor's extremes."""
    path = Path(path)
    data = read_yaml_mapping(path, "sweep", SweepError)
    try:
        spec = SweepFile.model_validate(data)
    except ValidationError as err:
        raise SweepError(_format_sweep_error(path, err)) from None

    base_path = (path.parent / spec.base).resolve()
    if not base_path.is_file():
        raise SweepError(f"{path}: key 'base': scenario file not found: {spec.base}")
    try:
        base_raw = resolve_raw(base_path)
        if spec.calibrated:
            base_raw = deep_merge(_calibrated_defaults(), base_raw)
        base_raw = deep_merge(base_raw, {k: v for k, v in (("scale", spec.scale), ("months", spec.months))
                                         if v is not None})
        base_raw.pop("extends", None)
        Scenario.model_validate(base_raw)
    except ScenarioError as err:
        raise SweepError(f"{path}: key 'base': {err}") from None
    except ValidationError as err:
        first = err.errors()[0]
        raise SweepError(f"{path}: key 'base': {base_path.name}: key "
                         f"'{'.'.join(map(str, first['loc']))}': {first['msg']}") from None

    leaves = scenario_leaves()
    for key, factor in spec.factors.items():
        where = f"{path}: key 'factors.{key}'"
        if key not in leaves:
            guess = difflib.get_close_matches(key, list(leaves), n=1, cutoff=0.6)
            hint = f"; did you mean '{guess[0]}'?" if guess else ""
            roots = " or ".join(f"'{r}.'" for r in FACTOR_ROOTS)
            raise SweepError(f"{where}: not a scenario setting (factors are dotted keys under {roots}, "
                             f"e.g. 'behaviour.settle_takeup'){hint}")
        kind = _kind(leaves[key])
        if factor.values is None and kind not in ("int", "float"):
            raise SweepError(f"{where}: a {kind} setting takes a list of values, not low/high "
                             f"(e.g. values: [false, true])")
        trials = factor.values if factor.values is not None else [factor.low, factor.high]
        for label, value in zip(["values"] * len(trials) if factor.values is not None else ["low", "high"],
                                trials, strict=True):
            if kind == "int" and factor.values is None:
                value = round(value)
            try:
                Scenario.model_validate(set_dotted(base_raw, key, value))
            except ValidationError as err:
                first = err.errors()[0]
                raise SweepError(f"{where}: {label} {value!r} is not valid: "
                                 f"{first['msg']} ({allowed_text(leaves[key])})") from None
    if spec.design.method == "sobol":
        n = spec.design.samples
        if n is None:
            raise SweepError(f"{path}: key 'design.samples' is required for method sobol (a power of 2)")
        if n & (n - 1):
            raise SweepError(f"{path}: key 'design.samples': sobol needs a power of 2, got {n} "
                             f"(allowed: 1, 2, 4, ... e.g. {2 ** max(0, round(math.log2(n)))})")
    if spec.design.method in ("lhs", "morris") and spec.design.samples is None:
        raise SweepError(f"{path}: key 'design.samples' is required for method {spec.design.method}")
    if spec.design.method == "morris" and len(spec.factors) < 2:
        raise SweepError(f"{path}: key 'factors': morris needs at least 2 factors")
    return Sweep(path, spec, base_raw)


# -- designs ---------------------------------------------------------------------------------------
def sample(sweep: Sweep) -> np.ndarray:
    """The raw design matrix (points x factors) in the SALib problem's space."""
    d = sweep.spec.design
    problem = sweep.problem()
    if d.method == "grid":
        axes = []
        for f in sweep.spec.factors.values():
            if f.values is not None:
                axes.append(np.arange(len(f.values)) + 0.5)
            else:
                axes.append(np.linspace(f.low, f.high, d.levels))
        return np.array(list(itertools.product(*axes)), dtype=np.float64)
    if d.method == "lhs":
        from SALib.sample import latin

        return latin.sample(problem, d.samples, seed=d.seed)
    if d.method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, d.samples, calc_second_order=d.second_order, seed=d.seed)
    from SALib.sample import morris

    return morris.sample(problem, d.samples, num_levels=d.levels, seed=d.seed)


def _apply(sweep: Sweep, key: str, x: float) -> Any:
    f = sweep.spec.factors[key]
    if f.values is not None:
        return f.values[min(int(math.floor(x)), len(f.values) - 1)]
    if sweep.kinds[key] == "int":
        return int(round(x))
    return float(x)


def build_design(sweep: Sweep) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(design, sample): one row per run (run_id, point, seed, factor values as applied) and one row
    per design point with the raw sampled values that sensitivity analysis needs."""
    x = sample(sweep)
    names = sweep.factor_names
    raw = pd.DataFrame(x, columns=names)
    raw.insert(0, "point", np.arange(len(raw)))
    applied = {key: [_apply(sweep, key, v) for v in raw[key]] for key in names}
    seeds = sweep.spec.replications.resolved()
    width = max(5, len(str(len(raw) - 1)))
    rows = []
    for point in range(len(raw)):
        for seed in seeds:
            row = {"run_id": f"p{point:0{width}d}-s{seed}", "point": point, "seed": seed}
            row.update({key: applied[key][point] for key in names})
            rows.append(row)
    design = pd.DataFrame(rows)
    return design, raw


def describe(sweep: Sweep, design: pd.DataFrame) -> str:
    n_points = design["point"].nunique()
    n_seeds = design["seed"].nunique()
    return (f"{sweep.name}: {sweep.spec.design.method} design, {len(sweep.factor_names)} factors, "
            f"{n_points} points x {n_seeds} seeds = {len(design)} runs")
