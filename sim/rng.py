"""Counter-based random numbers.

Every draw is a pure function of (seed, step, stream, agent index, draw number): a SplitMix64-style
hash, as in Random123/LASER. No generator state is shared between threads, so results are
bit-identical for any numba thread count and any chunking, and a scenario and its counterfactual
run with the same seed see the same draws for the same agent (common random numbers), which keeps
scenario differences low-noise.

Kernels receive a 64-bit ``key`` (made once per kernel call by :func:`stream_key`) and call
:func:`uniform` with the agent index and a small draw number.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


class Stream:
    """Stream identifiers: one per random process so that processes never share draws."""

    DEATH = 1
    BIRTH = 2
    NEWBORN_SEX = 3
    LABOUR = 4
    MIGRATE = 5
    DESTINATION = 6
    RETURN = 7
    SETTLE = 8
    PERMIT = 9
    INSURANCE = 10
    RECLASSIFY = 11
    FAMILY = 12
    SCHOOL = 13
    TRAINING = 14
    HOUSING = 15
    GIG = 16  # fixed per-person draws (gig work, injury cover): keyed by seed only, not by month
    QUOTA = 17  # rounding of each city's points quota to whole agents, once a year
    SYNTHESIS = 100


def _mix_py(z: int) -> int:
    """SplitMix64 finaliser on Python ints (the same bits as :func:`mix64`)."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * _M1) & MASK64
    z = ((z ^ (z >> 27)) * _M2) & MASK64
    return z ^ (z >> 31)


def stream_key(seed: int, step: int, stream: int) -> np.uint64:
    """The 64-bit key for one random process at one step of one run."""
    z = _mix_py(int(seed) * _GOLDEN + 0x632BE59BD9B4E019)
    z = _mix_py(z ^ (int(step) * _GOLDEN + 0x1B873593))
    z = _mix_py(z ^ (int(stream) * _GOLDEN + 0x85EBCA6B))
    return np.uint64(z)


@njit(inline="always", cache=True)
def mix64(z):
    """SplitMix64 finaliser: a bijective avalanche hash of a uint64."""
    z = (z ^ (z >> uint64(30))) * uint64(_M1)
    z = (z ^ (z >> uint64(27))) * uint64(_M2)
    return z ^ (z >> uint64(31))


@njit(inline="always", cache=True)
def uniform(key, index, draw):
    """A float64 in [0, 1) for agent ``index`` and draw number ``draw`` under ``key``."""
    z = mix64(key ^ (uint64(index) * uint64(_GOLDEN)) ^ (uint64(draw) * uint64(0xD6E8FEB86659FD93)))
    return float(z >> uint64(11)) * (1.0 / 9007199254740992.0)


def uniform_array(key: np.uint64, n: int, draw: int = 0) -> np.ndarray:
    """Vectorised draws for agents 0..n-1 (used outside kernels, e.g. in population synthesis)."""
    return _uniform_array(key, n, draw)


@njit(cache=True)
def _uniform_array(key, n, draw):
    out = np.empty(n, np.float64)
    for i in range(n):
        out[i] = uniform(key, i, draw)
    return out
