"""Struct-of-arrays person state.

One row per agent, one numpy array per attribute, small dtypes (as in Starsim/LASER and mesa-frames):
a Python object per person cannot reach millions of agents, a column of ``uint8`` can. Arrays are
preallocated with spare capacity for births; ``n`` counts the rows in use and dead agents keep their
row (``alive == 0``) until :meth:`People.compact` removes them once a year.

Households are contiguous blocks of rows (head first) after construction and after every compaction,
so a family's members are adjacent in memory; ``head_of[household]`` gives the row of each
household's head, which is how members follow the head when the family moves or settles. An adult
child who leaves home (:mod:`sim.kernels.migration`) heads a new household with a new id
(:meth:`People.split_leavers`); its row stays where it is until the next compaction, so household ids
of ``split_base`` or more mark rows that sit inside another family's block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from sim.kernels.select import nonzero_rows

# name -> (dtype, meaning). The order is the documentation order.
FIELDS: dict[str, tuple[type, str]] = {
    "alive": (np.uint8, "1 while the agent is alive"),
    "age": (np.uint8, "age in completed years"),
    "sex": (np.uint8, "0 male, 1 female"),
    "household": (np.int32, "household id (index into head_of)"),
    "role": (np.uint8, "0 head, 1 spouse, 2 child, 3 elder"),
    "with_head": (np.uint8, "1 if the agent lives with (and moves with) the household head"),
    "origin_city": (np.int16, "prefecture of the rural home (contracted land, homestead)"),
    "hukou_city": (np.int16, "prefecture of hukou registration"),
    "hukou_urban": (np.uint8, "1 if the hukou is an urban (non-agricultural / town) registration"),
    "city": (np.int16, "prefecture where the agent lives now"),
    "urban": (np.uint8, "1 if the agent lives in the urban part of its current prefecture"),
    "skill": (np.uint8, "education / skill level 0 (primary or less) .. 3 (college+)"),
    "employed": (np.uint8, "1 if in non-farm employment"),
    "months_in_city": (np.uint16, "months of residence in the current prefecture"),
    "permit": (np.uint8, "1 if holding a residence permit (juzhuzheng) in the current prefecture"),
    "insured_months": (np.uint16, "months of urban employee social-insurance contributions"),
    "housing": (np.uint8, "0 own home at origin (rural or reclassified), 1 market rental / dormitory, "
                "2 affordable rental, 3 bought urban home"),
    "school": (np.uint8, "children 3-15: 0 not of school age, 1 at school where the hukou is, 2 left behind, "
               "3 accompanying in a public school, 4 accompanying in a private school"),
    "land": (np.uint8, "bit 0 contracted land, bit 1 homestead"),
}

ROLE_HEAD, ROLE_SPOUSE, ROLE_CHILD, ROLE_ELDER = 0, 1, 2, 3


@dataclass
class People:
    """Columns of person state with ``n`` rows in use out of ``capacity``."""

    columns: dict[str, np.ndarray]
    n: int
    head_of: np.ndarray  # int32 row of the head of each household id
    split_base: int = 0  # household ids from here on were split off since the last compaction
    block_rows: int = 0  # rows in household blocks at the last compaction; the rest are newborns since

    @classmethod
    def empty(cls, capacity: int) -> People:
        cols = {name: np.zeros(capacity, dtype) for name, (dtype, _) in FIELDS.items()}
        return cls(columns=cols, n=0, head_of=np.zeros(0, np.int32))

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("columns")
        if cols is not None and name in cols:
            return cols[name]
        raise AttributeError(name)

    @property
    def capacity(self) -> int:
        return len(self.columns["alive"])

    @property
    def n_alive(self) -> int:
        return int(self.columns["alive"][: self.n].sum(dtype=np.int64))

    @staticmethod
    def bytes_per_agent() -> int:
        """Bytes of person state per agent row (excluding spare capacity and household index)."""
        return sum(np.dtype(dtype).itemsize for dtype, _ in FIELDS.values())

    def nbytes(self) -> int:
        """Bytes held by all columns (including spare capacity) and the household index."""
        return sum(a.nbytes for a in self.columns.values()) + self.head_of.nbytes

    def ensure_capacity(self, needed: int) -> None:
        """Grow every column to hold at least ``needed`` rows (by at least 25%)."""
        if needed <= self.capacity:
            return
        new_cap = max(needed, int(self.capacity * 1.25) + 1)
        for name, arr in self.columns.items():
            grown = np.zeros(new_cap, arr.dtype)
            grown[: self.n] = arr[: self.n]
            self.columns[name] = grown

    def compact(self) -> np.ndarray:
        """Drop dead rows and restore contiguous households (head first), keeping capacity. Returns a flag per
        household id (ids are kept): 1 where a newborn became head because the household's block died out.

        A stable counting sort by household id: rows are already grouped except newborns appended
        since the last compaction, which join the end of their household's block. O(n), and the
        order does not depend on the thread count. Every head must be alive, as after
        :meth:`promote_heads` (the model compacts at the start of January, before the month's deaths).
        """
        # Heads are alive (promoted each month); a household whose block died out gets its first living
        # row among the newborns since, as rebuild_heads would choose: each block then starts with its head.
        headed = np.zeros(len(self.head_of), np.uint8)
        _head_households_without_one(self.head_of, self.columns["household"], self.columns["role"],
                                     self.columns["alive"], self.block_rows, self.n, headed)
        n = self.n
        cols = self.columns
        source, head_of, ends = _compaction_order(cols["household"], cols["alive"], self.head_of, n,
                                                  len(self.head_of))
        m = len(source)
        # The sort key needs no gather: its new values are the ids in order, written over the old ones.
        _fill_households(cols["household"], ends)
        cols["household"][m:n] = 0
        # The other columns one width at a time: the first is gathered into a fresh array, each next one into
        # the array of the column before it (its pages are already mapped: a fresh array page-faults its way
        # in, which costs more than the gather itself). The memory peak stays one column above the rest.
        others = [name for name in cols if name != "household"]
        for width in sorted({cols[name].itemsize for name in others}):
            spare = None
            for name in [name for name in others if cols[name].itemsize == width]:
                arr = cols[name]
                if spare is None:
                    spare = np.zeros(len(arr), arr.dtype)  # calloc: pages past the living rows stay untouched
                else:
                    spare = spare.view(arr.dtype)
                    spare[m:n] = 0  # rows past the living ones read as zero, as in a fresh array
                _gather(arr[:n].view(f"u{width}"), source, spare.view(f"u{width}"))  # two compiled kernels
                cols[name], spare = spare, arr
        self.n = m
        self.head_of = head_of
        self.split_base = len(head_of)
        self.block_rows = self.n
        return headed[:len(head_of)]

    def promote_heads(self, family: np.ndarray, family_age_min: int, family_age_max: int) -> np.ndarray:
        """Give households whose head died a new head (the next living member of the block). A child of
        ``family_age_min``..``family_age_max`` promoted head no longer counts in its household's ``family``
        flag (see :func:`sim.kernels.demography.deaths_mothers_and_families`), which is recounted. Returns
        a flag per household: 1 where a new head took over."""
        cols = self.columns
        promoted = np.zeros(len(self.head_of), np.uint8)
        _promote_heads(self.head_of, cols["household"], cols["role"], cols["alive"], cols["age"], family,
                       family_age_min, family_age_max, self.split_base, self.block_rows, promoted)
        return promoted

    def split_leavers(self, rows: np.ndarray) -> None:
        """Give each adult child who left home this month (``rows``, ascending; :func:`is_leaver`) a
        household of its own. New ids are issued in row order, so they do not depend on the thread count."""
        if len(rows):
            cols = self.columns
            cols["household"][rows] = np.arange(len(self.head_of), len(self.head_of) + len(rows), dtype=np.int32)
            cols["with_head"][rows] = 1
            self.head_of = np.concatenate((self.head_of, rows.astype(np.int32)))

    def rebuild_heads(self) -> None:
        """Recompute ``head_of`` and promote a new head in households whose head died."""
        n_households = int(self.columns["household"][: self.n].max()) + 1 if self.n else 0
        self.head_of = _rebuild_heads(
            self.columns["household"], self.columns["role"], self.columns["alive"], self.n, n_households
        )
        self.split_base = n_households  # blocks are contiguous again (or were never split)
        self.block_rows = self.n

    def view(self) -> dict[str, np.ndarray]:
        """The rows in use, as a dict of array views (for tests and analysis)."""
        return {name: arr[: self.n] for name, arr in self.columns.items()}


@njit(cache=True)
def _rebuild_heads(household, role, alive, n, n_households):
    """Head row per household; where the head is dead, the oldest-role survivor (first row) becomes head."""
    head_of = np.full(n_households, -1, np.int32)
    for i in range(n):
        if alive[i] == 0:
            continue
        h = household[i]
        if head_of[h] < 0 or (role[i] == 0 and role[head_of[h]] != 0):
            head_of[h] = i
    for h in range(n_households):
        j = head_of[h]
        if j >= 0 and role[j] != 0:
            role[j] = 0
    return head_of


@njit(cache=True)
def _head_households_without_one(head_of, household, role, alive, block_rows, n, headed):
    """The first living row of each household without a head (its block died out; the row is a newborn
    since the last compaction) becomes its head (flagged in ``headed``)."""
    for i in range(block_rows, n):
        h = household[i]
        if alive[i] and head_of[h] < 0:
            head_of[h] = i
            role[i] = 0
            headed[h] = 1


@njit(cache=True)
def _compaction_order(household, alive, head_of, n, n_households):
    """Source row of each output row (living rows grouped by household id, head first, stable), the
    households' heads after the reordering (the first row of each block, -1 for households that died
    out; ids up to the largest with a living row, as :meth:`People.rebuild_heads` would find them), and
    one past the last output row of every household id.

    32-bit rows and offsets: this is the year's memory peak (the person columns, ``source`` and one
    column's reordered copy), and rows are counted in int32 everywhere (``head_of``).
    """
    start = np.zeros(n_households + 1, np.int32)  # first: sizes, shifted by one
    for i in range(n):
        if alive[i]:
            start[household[i] + 1] += 1
    last = -1  # the largest id with a living row
    new_head = np.full(n_households, -1, np.int32)
    for h in range(n_households):  # running sum in place: start[h] = first output row of household h
        if start[h + 1] > 0:
            last = h
            new_head[h] = start[h]
        start[h + 1] += start[h]
    source = np.empty(start[-1], np.int32)
    for h in range(n_households):
        if head_of[h] >= 0:
            source[start[h]] = head_of[h]
            start[h] += 1
    for i in range(n):
        h = household[i]
        if alive[i] and head_of[h] != i:
            source[start[h]] = i
            start[h] += 1
    return source, new_head[:last + 1], start[:n_households]  # a view: a copy would page-fault in anew


@njit(parallel=True, cache=True)
def _fill_households(household, ends):
    """``household[ends[h - 1]:ends[h]] = h`` for every id ``h`` (``ends[-1]`` read as 0): the sorted ids
    after the compaction, from one past the last output row of each household."""
    for h in prange(len(ends)):
        first = ends[h - 1] if h > 0 else 0
        for k in range(first, ends[h]):
            household[k] = h


@njit(parallel=True, cache=True)
def _gather(column, source, out):
    """``out[:m] = column[source]`` (``m = len(source)``), in parallel."""
    for k in prange(len(source)):
        out[k] = column[source[k]]


@njit(parallel=True, cache=True)
def _promote_heads(head_of, household, role, alive, age, family, family_age_min, family_age_max, split_base,
                   block_rows, promoted):
    """Where a head died, the next living row of its household block becomes head (else -1).

    The block ends at the first row of another household or at the newborns since the last compaction
    (:func:`block_end`): a household whose block died out has no head until January. When the new head
    was a child counted in the ``family`` flag, the flag is recounted over the rest of the block (rows
    before the new head are dead, and newborns are not of those ages).
    """
    for h in prange(len(head_of)):
        j = head_of[h]
        if j < 0 or alive[j]:
            continue
        head_of[h] = -1
        end = block_end(j, household, split_base, block_rows)
        for k in range(j + 1, end):
            if household[k] == h and alive[k]:
                head_of[h] = k
                promoted[h] = 1
                was_counted = role[k] == 2 and family_age_min <= age[k] <= family_age_max
                role[k] = 0
                if was_counted:
                    family[h] = 0
                    for m in range(k + 1, end):
                        if household[m] == h and alive[m] and role[m] == 2 and \
                                family_age_min <= age[m] <= family_age_max:
                            family[h] = 1
                            break
                break


@njit(inline="always", cache=True)
def follow_head(i, head, with_head, alive, role, city, urban, months_in_city, permit):
    """A member living with its head (row ``head``, -1 for none), where the head is not, takes the head's
    place and residence record. Rows with the head role never follow (this month's leavers still carry
    their old household)."""
    h = max(head, 0)
    # One rarely-true branch: members almost always are where their head is already.
    if (head >= 0) & alive[i] & with_head[i] & (role[i] != ROLE_HEAD) & \
            ((city[i] != city[h]) | (urban[i] != urban[h])):
        city[i] = city[h]
        urban[i] = urban[h]
        months_in_city[i] = months_in_city[h]
        permit[i] = permit[h]


@njit(inline="always", cache=True)
def block_end(h, household, split_base, block_rows):
    """One past the last row of the block that head ``h`` leads: after the last compaction a household's
    rows follow its head (earlier rows of the block are dead), and rows split off since (ids >=
    ``split_base``) are skipped; a head among the newborns since (rows >= ``block_rows``) leads no block
    (returns ``h``), like every newborn."""
    if h >= block_rows:
        return h
    hh = household[h]
    k = h + 1
    while k < block_rows and (household[k] == hh or household[k] >= split_base):
        k += 1
    return k


@njit(cache=True)
def household_rows(selected, head_of, household, split_base, block_rows, n):
    """The rows of the households with ``selected[id] != 0``, ascending within each part: every selected
    head's block (:func:`block_end`; none for a household without a head), then the newborns since the last
    compaction. Lets a kernel that concerns a few thousand households visit their members instead of every
    row."""
    households = nonzero_rows(selected)
    ends = np.empty(len(households), np.int64)
    size = n - block_rows
    for j in range(len(households)):
        h = head_of[households[j]]
        ends[j] = block_end(h, household, split_base, block_rows) if h >= 0 else h
        size += ends[j] - h
    rows = np.empty(size, np.int64)
    k = 0
    for j in range(len(households)):
        for i in range(head_of[households[j]], ends[j]):
            if household[i] == households[j]:
                rows[k] = i
                k += 1
    for i in range(block_rows, n):
        if selected[household[i]] != 0:
            rows[k] = i
            k += 1
    return rows[:k]


@njit(inline="always", cache=True)
def is_leaver(i, head, alive, role):
    """A living row with the head role that is not its household's head (row ``head``): an adult child who
    left home this month (marked by the migration kernel) and awaits :meth:`People.split_leavers`."""
    return (role[i] == ROLE_HEAD) & (alive[i] == 1) & (head != i)
