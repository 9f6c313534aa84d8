"""The C heap's handling of the month's large scratch arrays (glibc only; elsewhere nothing changes).

Every month the kernels take tens of megabytes of scratch (row masks of one byte per agent, lists of
candidate rows) and free them again. By default glibc gives blocks of that size back to the system when
they are freed (``mmap``/``munmap``, and trimming the top of the heap), so each month the next ones
page-fault their way in anew: 10-15% of an ordinary month at 1:100. :func:`keep_freed_memory` tells
glibc to serve them from the heap and keep what is freed there for the next month;
:func:`release_freed_memory` hands the kept memory back before January's compaction, whose own arrays
set the year's peak of resident memory (at 1:100: 63 bytes per agent, against 62 with glibc's defaults
and 66 without the release).

Both act on the whole process (``mallopt``, ``malloc_trim``), and change no result.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's ceiling for the mmap threshold on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX): larger blocks are
#: always mapped on their own
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
#: free memory at the top of the heap kept rather than trimmed (the largest value ``mallopt`` takes)
_TRIM_THRESHOLD = 2**31 - 1


@functools.cache
def _glibc():
    """glibc's handle if this process runs on it (with ``mallopt`` and ``malloc_trim``), else None."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        return None
    return libc


def keep_freed_memory() -> bool:
    """Serve blocks up to 32 MB from the heap and keep freed memory there. Returns whether it applied."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and \
        bool(libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))


def release_freed_memory() -> None:
    """Give the free memory the heap has kept back to the system (``malloc_trim(0)``)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
