"""Numba kernels, one module per process of the monthly step.

Every kernel is a plain function over arrays. Loops run over fixed-size chunks of agent rows
(``CHUNK``), never over "one chunk per thread": tallies are kept per chunk, or per block of
consecutive chunks (:func:`block_span`), and summed afterwards, and every random draw comes from
:mod:`sim.rng` keyed by the agent row, so results do not depend on the number of threads.
"""

import numpy as np
from numba import njit

CHUNK = 1 << 15
#: Tallies over all rows are kept per block of consecutive chunks, at most this many blocks: a tally per
#: chunk (431 chunks x 19 counts x 362 cities at 1:100, 24 MB) cost more to zero and sum than a tenth of
#: the counting itself. The blocks are fixed by the chunks, not by the threads, and the tallies are
#: integers: their sums are the same however the rows are grouped.
TALLY_BLOCKS = 16
#: rows of a list (a few thousand households' members) per parallel task
ROWS_PER_TASK = 1 << 10


@njit(inline="always", cache=True)
def n_tasks(length):
    """Parallel tasks of ``ROWS_PER_TASK`` rows covering a list of ``length`` rows (at least one)."""
    return max(1, (length + ROWS_PER_TASK - 1) // ROWS_PER_TASK)


@njit(inline="always", cache=True)
def n_blocks(n_chunks):
    """Tally blocks over ``n_chunks`` chunks (:data:`TALLY_BLOCKS`, or one per chunk where fewer)."""
    return min(TALLY_BLOCKS, n_chunks)


@njit(inline="always", cache=True)
def block_span(b, n_chunks):
    """Chunks ``first`` to ``last - 1`` of tally block ``b``: consecutive, as even as can be."""
    blocks = n_blocks(n_chunks)
    return b * n_chunks // blocks, (b + 1) * n_chunks // blocks


def n_chunks(n: int) -> int:
    """Number of ``CHUNK``-row blocks covering ``n`` rows (at least one)."""
    return max(1, (n + CHUNK - 1) // CHUNK)


@njit(cache=True)
def sum_chunks(tally):
    """Sum of a (chunks or blocks x rows x cities) tally over its chunks or blocks."""
    # Scalar loops (not tally.sum(axis=0), not array expressions, which parallel=True would turn into
    # one parallel region per chunk): much faster to compile and to run.
    out = np.zeros(tally.shape[1:], np.int64)
    for c in range(tally.shape[0]):
        for s in range(tally.shape[1]):
            for k in range(tally.shape[2]):
                out[s, k] += tally[c, s, k]
    return out
