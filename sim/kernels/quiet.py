"""Quiet rows: tiles of rows that the month's middle passes can skip until the next compaction.

Half of the agents are urban-hukou residents living in their town with their household: from one
month to the next they only die, give birth and are counted (and age, in January). The passes of
services and candidate marking, of December's points applicants and of the family flag do nothing to
them, and the last pass only counts them, yet each would test every one of them. :func:`quiet_tiles`
finds the tiles of ``TILE`` consecutive rows in which every living row belongs to such a household
whenever the rows move or age: at the start and after each January's ageing and compaction; those passes
skip the tiles (or count them per city) until the next compaction. The skip changes no result:

- a quiet household's rows all hold an urban hukou, live in a town in their head's city, with their
  head, in its housing, which is not rented or an affordable place; no row has the head role without
  being the head; and its children are given the school status the services pass gives a non-migrant
  of their age (at home if of school age, else none) when the tiles are found, which is what that pass
  would write (a child who just turned 3 or 16 would otherwise keep its household busy all year);
- so labour and migration pass them over (no migrant, no rural hukou), no member follows or shares
  (the head never moves: it holds an urban hukou), none settles, leaves home or rejoins, the services
  pass writes what they hold, and neither allocation acts on them (the seat allocation acts on
  migrant children only, the housing allocation on renting households);
- nothing else writes their rows, and they do not age, before the next January: the settlement of
  members and joiners, the points queue, leavers and the allocations concern other households; a dead
  head is replaced by another row of its block (``promote_heads``), which is in the same household, so
  quiet as well; newborns go to new rows, after every quiet tile (only whole tiles of the rows at the
  time are quiet).
"""

import numpy as np
from numba import njit, prange

from sim.kernels import CHUNK
from sim.kernels.migration import AFFORDABLE, RENTED
from sim.kernels.services import home_school_status
from sim.population import ROLE_HEAD

TILE = 64
TILES_PER_CHUNK = CHUNK // TILE


@njit(inline="always", cache=True)
def _settled_row(i, role, household, head_of, hukou_urban, urban, city, with_head, housing):
    """Living row ``i`` holds an urban hukou and lives with its head in the head's town, in housing that is
    not rented or affordable."""
    h = head_of[household[i]]
    if h < 0:
        return False
    hs = housing[i]
    return (hukou_urban[i] == 1) & (urban[i] == 1) & (city[i] == city[h]) & (with_head[i] == 1) & \
        ((role[i] != ROLE_HEAD) | (h == i)) & (hs == housing[h]) & (hs != RENTED) & (hs != AFFORDABLE)


@njit(parallel=True, cache=True)
def quiet_tiles(alive, age, role, household, head_of, hukou_urban, urban, city, with_head, school, housing, n):
    """Flag per whole tile of the first ``n`` rows: 1 where every living row belongs to a household whose
    living rows are all settled urban residents (see the module docstring); then a 0 for the rest.

    The children of those households get the school status of their age here
    (:func:`sim.kernels.services.home_school_status`): what the next services pass would write, as nothing
    before it reads or changes it.
    """
    busy = np.zeros(len(head_of), np.uint8)  # households with a living row that is not settled
    for i in prange(n):
        if alive[i] == 1 and not _settled_row(i, role, household, head_of, hukou_urban, urban, city, with_head,
                                              housing):
            busy[household[i]] = 1  # threads may set a flag at once, but only ever to 1
    for i in prange(n):
        if alive[i] == 1 and busy[household[i]] == 0:
            school[i] = home_school_status(age[i])
    n_tiles = n // TILE
    quiet = np.zeros(n_tiles + 1, np.uint8)  # the last 0 stands for the rows past whole tiles (is_quiet)
    for t in prange(n_tiles):
        q = 1
        for i in range(t * TILE, (t + 1) * TILE):
            q &= (alive[i] == 0) | (busy[household[i]] == 0)
        quiet[t] = q
    return quiet


def no_quiet_tiles() -> np.ndarray:
    """Flags that take no tile as quiet (before the tiles are found, or to switch the skip off): the
    trailing 0 alone."""
    return np.zeros(1, np.uint8)


@njit(inline="always", cache=True)
def _tile_flag(quiet, t):
    """Flag of tile ``t``: ``quiet`` ends with a 0 that stands for every tile past the whole tiles flagged
    (the partial last one, and the rows of newborns since)."""
    return quiet[min(np.int64(t), len(quiet) - 1)]


@njit(inline="always", cache=True)
def is_quiet(quiet, t):
    """Tile ``t`` is skipped this month."""
    return _tile_flag(quiet, t) == 1


@njit(inline="always", cache=True)
def in_quiet_tile(quiet, i):
    """1 if row ``i`` lies in a quiet tile, else 0 (branch-free, for vectorised loops)."""
    return _tile_flag(quiet, np.int64(i) // TILE)


@njit(inline="always", cache=True)
def n_tiles(n):
    """Tiles covering ``n`` rows, the last one possibly partial."""
    return (n + TILE - 1) // TILE
