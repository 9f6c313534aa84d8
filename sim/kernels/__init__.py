"""Numba kernels, one module per process of the monthly step.

Every kernel is a plain function over arrays. Loops run over fixed-size chunks of agent rows
(``CHUNK``), never over "one chunk per thread": tallies are kept per chunk and summed afterwards,
and every random draw comes from :mod:`sim.rng` keyed by the agent row, so results do not depend
on the number of threads.
"""

CHUNK = 1 << 15


def n_chunks(n: int) -> int:
    """Number of ``CHUNK``-row blocks covering ``n`` rows (at least one)."""
    return max(1, (n + CHUNK - 1) // CHUNK)
