"""Checkpoints: a model saved after some month and resumed later gives exactly the same remaining months.

The whole model (person columns, city state, records, step count, data collector) is pickled: every
random draw is a function of (seed, month, stream, agent), so no generator state needs special care.
Files are written atomically. Pickle runs code on loading: load only checkpoints you made.
"""

from __future__ import annotations

import os
import pickle
from importlib import metadata
from pathlib import Path

from sim.model import CitizenizationModel

FORMAT = 4


class CheckpointError(Exception):
    """A checkpoint file that cannot be used; ``str(err)`` is one line."""


def _version() -> str:
    try:
        return metadata.version("citizensim")
    except metadata.PackageNotFoundError:
        return "unknown"


def save_checkpoint(model: CitizenizationModel, path: Path) -> Path:
    """Write ``model`` to ``path`` (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    payload = {"format": FORMAT, "version": _version(), "model": model}
    try:
        with open(tmp, "wb") as fh:
            pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path) -> CitizenizationModel:
    """The model saved in ``path``; raises CheckpointError for a missing, foreign or other-version file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        with open(path, "rb") as fh:
            payload = pickle.load(fh)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means "not a usable checkpoint"
        raise CheckpointError(f"{path}: not a citizensim checkpoint ({type(err).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a citizensim checkpoint of format {FORMAT}")
    if payload.get("version") != _version():
        raise CheckpointError(f"{path}: written by citizensim {payload.get('version')}, this is {_version()}")
    return payload["model"]
