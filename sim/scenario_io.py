"""Reading scenario YAML files: ``extends:`` inheritance and one-line error messages."""

from __future__ import annotations

import difflib
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import BaseModel, ValidationError

from sim.policy import Scenario


class ScenarioError(Exception):
    """A user mistake in a scenario file; ``str(err)`` is a single line fit to print."""


def deep_merge(base: dict, override: dict) -> dict:
    """``override`` on top of ``base``, merging nested mappings key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml_mapping(path: Path, kind: str = "scenario", error: type[Exception] = ScenarioError) -> dict:
    """The mapping in a YAML file (empty file: ``{}``); a missing file or bad YAML raises ``error`` in one line."""
    if not path.is_file():
        raise error(f"{path}: {kind} file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise error(f"{path}: invalid YAML{where}: {getattr(err, 'problem', err)}") from None
    except UnicodeDecodeError as err:
        raise error(f"{path}: not a UTF-8 text file (byte {err.start}); save the {kind} file as UTF-8") from None
    except OSError as err:  # a folder, or no permission to read
        raise error(f"{path}: cannot read the {kind} file ({err.strerror or err})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{path}: top level must be a mapping of keys to values")
    return data


def resolve_raw(path: Path, _seen: tuple[Path, ...] = ()) -> dict:
    """The scenario's mapping with every ``extends:`` parent merged underneath it."""
    path = Path(path)
    if path.resolve() in _seen:
        raise ScenarioError(f"{path}: key 'extends': circular inheritance")
    data = read_yaml_mapping(path)
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: key 'extends': must be a path string")
    parent_path = (path.parent / parent).resolve()
    if not parent_path.is_file():
        raise ScenarioError(f"{path}: key 'extends': file not found: {parent}")
    base = resolve_raw(parent_path, _seen + (path.resolve(),))
    base.pop("name", None)
    base.pop("description", None)
    return deep_merge(base, data)


def _alternatives(ann: Any) -> tuple:
    """The types a union annotation allows (``Block | None``: Block and NoneType); any other: itself."""
    return get_args(ann) if get_origin(ann) in (Union, types.UnionType) else (ann,)


def _model_at(loc: tuple, root: type[BaseModel] = Scenario) -> type[BaseModel] | None:
    """The settings block (pydantic model) reached from ``root`` by following the keys in ``loc``
    (an optional block, ``Block | None``, counts as the block)."""
    model: type[BaseModel] | None = root
    for part in loc:
        info = model.model_fields.get(part) if model is not None and isinstance(part, str) else None
        ann = info.annotation if info is not None else None
        blocks = [a for a in _alternatives(ann) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = blocks[0] if blocks else None
    return model


def _bound(x: float) -> str:
    """A bound as a user writes it: whole numbers in full (1000000, not 1e+06), others short (0.005, 5e-05)."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def allowed_text(info: Any) -> str:
    """'allowed: <type> from a to b' (or the choices, or the type) for a field, from its pydantic constraints."""
    extra = info.json_schema_extra
    if isinstance(extra, dict) and "allowed" in extra:
        return f"allowed: {extra['allowed']}"
    lo = hi = None
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge | annotated_types.Gt):
            lo = getattr(meta, "ge", None) if isinstance(meta, annotated_types.Ge) else meta.gt
        if isinstance(meta, annotated_types.Le | annotated_types.Lt):
            hi = getattr(meta, "le", None) if isinstance(meta, annotated_types.Le) else meta.lt
    ann = next((a for a in _alternatives(info.annotation) if a is not type(None)), info.annotation)  # no None
    kind = getattr(ann, "__name__", str(ann))
    if lo is not None and hi is not None:
        return f"allowed: {kind} from {_bound(lo)} to {_bound(hi)}"
    if kind == "Literal" or str(info.annotation).startswith("typing.Literal"):
        return f"allowed: {', '.join(map(str, info.annotation.__args__))}"
    return f"allowed: {kind}"


def format_validation_error(path: Path, err: ValidationError, root: type[BaseModel] = Scenario) -> str:
    """One line for the first validation error of a file validated as ``root``: file, dotted key, what is
    wrong, what is allowed."""
    errors = err.errors()
    # a mistyped key shows as "unknown" and, if required, as "missing" too: name the typo, with a suggestion
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(first["loc"])
    key = ".".join(str(p) for p in loc)
    owner = _model_at(loc[:-1], root)
    if first["type"] == "extra_forbidden":
        names = sorted(owner.model_fields) if owner is not None else []
        guess = difflib.get_close_matches(str(loc[-1]), names, n=1)
        hint = f"; did you mean '{guess[0]}'?" if guess else ""
        return f"{path}: unknown key '{key}' (allowed keys here: {', '.join(names)}){hint}"
    info = owner.model_fields.get(loc[-1]) if owner is not None else None
    if info is None and loc and loc[0] in root.model_fields:  # inside a mapping field: name the field
        key, info = str(loc[0]), root.model_fields[loc[0]]
    allowed = f" ({allowed_text(info)})" if info is not None else ""
    if first["type"] == "missing":  # the input is the whole mapping around the key: no use to show
        return f"{path}: key '{key}' is required{allowed}"
    value = first.get("input")
    return f"{path}: key '{key}': {first['msg']}, got {value!r}{allowed}"


CALIBRATED = Path(__file__).resolve().parent / "data" / "calibrated.yaml"


def calibrated_defaults(path: Path | None = None) -> dict:
    """What ``sim/data/calibrated.yaml`` puts under every scenario: ``behaviour`` (the fitted behavioural
    parameters) and ``mobility_shocks`` (fitted historical shocks); ``{}`` if there is no such file.

    A scenario file's own values override them. Written by ``citizensim calibrate`` (method and fit in
    the same file; PROVENANCE.md).
    """
    path = Path(path) if path else CALIBRATED
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {key: dict(data[key]) for key in ("behaviour", "mobility_shocks") if data.get(key)}


def load_scenario(path: str | Path, calibrated: bool = True, **overrides: Any) -> Scenario:
    """Read, merge and validate a scenario file; ``overrides`` replace top-level keys (e.g. seed).

    With ``calibrated`` (the default) the behaviour and mobility shocks of ``sim/data/calibrated.yaml`` lie
    underneath the file's own values.
    """
    path = Path(path)
    raw = resolve_raw(path)
    if calibrated:
        raw = deep_merge(calibrated_defaults(), raw)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(format_validation_error(path, err)) from None
