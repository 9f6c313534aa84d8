"""Numba kernels, one module per process of the monthly step.

Every kernel is a plain function over arrays. Loops run over fixed-size chunks of agent rows
(``CHUNK``), never over "one chunk per thread": tallies are kept per chunk and summed afterwards,
and every random draw comes from :mod:`sim.rng` keyed by the agent row, so results do not depend
on the number of threads.
"""

import numpy as np
from numba import njit

CHUNK = 1 << 15
#: rows of a list (a few thousand households' members) per parallel task
ROWS_PER_TASK = 1 << 10


@njit(inline="always", cache=True)
def n_tasks(length):
    """Parallel tasks of ``ROWS_PER_TASK`` rows covering a list of ``length`` rows (at least one)."""
    return max(1, (length + ROWS_PER_TASK - 1) // ROWS_PER_TASK)


def n_chunks(n: int) -> int:
    """Number of ``CHUNK``-row blocks covering ``n`` rows (at least one)."""
    return max(1, (n + CHUNK - 1) // CHUNK)


@njit(cache=True)
def sum_chunks(tally):
    """Sum of a (chunks x rows x cities) tally over its chunks."""
    # Scalar loops (not tally.sum(axis=0), not array expressions, which parallel=True would turn into
    # one parallel region per chunk): much faster to compile and to run.
    out = np.zeros(tally.shape[1:], np.int64)
    for c in range(tally.shape[0]):
        for s in range(tally.shape[1]):
            for k in range(tally.shape[2]):
                out[s, k] += tally[c, s, k]
    return out
