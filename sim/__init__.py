"""citizensim: agent-based simulation of migrant workers' citizenization under the 2024 urbanization plan.

Numba caches each compiled kernel beside its source file and reuses it while that file is unchanged,
but it does not notice a change to a helper that the kernel inlines from another file (the month's
fused passes inline the rules of every process module). So the package keeps its numba cache in a
folder named after a hash of all its sources: any change to any source starts a fresh cache.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

_PACKAGE = Path(__file__).resolve().parent


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _kernel_cache_dir() -> Path:
    """``$NUMBA_CACHE_DIR`` if set, else the package's ``__pycache__`` if writable, else the user cache;
    then a folder for this exact set of sources."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        base = Path(os.environ["NUMBA_CACHE_DIR"])
    elif os.access(_PACKAGE, os.W_OK):
        base = _PACKAGE / "__pycache__" / "numba"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "citizensim" / "numba"
    return base / _sources_digest()


numba.config.CACHE_DIR = str(_kernel_cache_dir())

__all__ = ["CitizenizationModel"]


def __getattr__(name: str):
    """``from sim import CitizenizationModel`` for notebooks, imported on first use (the command line's
    quick paths, such as --help and input errors, do not load the model and its kernels)."""
    if name == "CitizenizationModel":
        from sim.model import CitizenizationModel

        return CitizenizationModel
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
