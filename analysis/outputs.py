"""Results folders: tidy Parquet series, a JSON manifest and figures, written atomically.

Everything is written into a hidden temporary folder beside the destination, which is renamed
into place only once complete: an interrupted run leaves no folder that looks like a result.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pandas as pd

PACKAGES = ("citizensim", "mesa", "numba", "numpy", "pandas", "pyarrow", "pydantic", "matplotlib")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages a result depends on (and Python's)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision() -> str | None:
    """The source tree's git commit (with '-dirty' if modified), or None outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return rev.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


class OutputError(Exception):
    """A results folder that cannot go where asked; ``str(err)`` is one line."""


def check_destination(out_dir: Path) -> Path:
    """``out_dir`` if a results folder may be written there, else OutputError: checked before the work starts.

    A new result replaces an earlier one (a folder with a ``manifest.json``, as every result has) or an empty
    folder. Anything else found there, a file or a folder of other things, is left alone: replacing it
    would delete it.
    """
    out_dir = Path(out_dir)
    if out_dir.is_file() or out_dir.is_symlink() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: is a file, not a results folder; choose another --out")
    if out_dir.is_dir() and not (out_dir / "manifest.json").is_file() and any(out_dir.iterdir()):
        raise OutputError(f"{out_dir}: exists and is not a results folder (no manifest.json); it is left alone: "
                          "choose another --out or empty it")
    check_writable(out_dir)
    return out_dir


def check_file_destination(out: Path, example_name: str) -> Path:
    """``out`` if a file (a report, calibrated values) can be written there, else OutputError: checked before
    the work starts, which may take long."""
    out = Path(out)
    if out.is_dir():
        raise OutputError(f"{out}: is a folder; --out names the file to write, e.g. {out / example_name}")
    check_writable(out)
    return out


def check_writable(out: Path) -> None:
    """Make ``out``'s parent folder and an entry in it (removed again), or raise OutputError saying why not."""
    probe = out.parent / f".{out.name}.probe-{os.getpid()}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        probe.mkdir()
        probe.rmdir()
    except OSError as err:
        raise OutputError(f"{out}: cannot write there ({err.strerror or err})") from None


def write_atomically(out_dir: Path, fill: Callable[[Path], None]) -> Path:
    """Call ``fill(tmp_dir)`` to write a result, then move it to ``out_dir`` (replacing an old result; see
    :func:`check_destination`, which raises OutputError for anything else there)."""
    out_dir = check_destination(out_dir)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        fill(tmp)
        if out_dir.exists():
            out_dir.rename(old)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return out_dir


def write_series(path: Path, series: pd.DataFrame) -> None:
    series.to_parquet(path, index=False, engine="pyarrow")


def write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str), encoding="utf-8")


def read_series(result_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(Path(result_dir) / "series.parquet")


def read_manifest(result_dir: Path) -> dict:
    return json.loads((Path(result_dir) / "manifest.json").read_text(encoding="utf-8"))
