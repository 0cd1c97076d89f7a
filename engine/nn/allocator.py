"""Keep freed memory in the process for reuse (Linux, glibc), instead of returning each large
tensor's memory to the system when it is freed.

PyTorch's CPU tensors come from ``malloc``.  glibc serves every block above its mmap threshold
(at most 32 MiB) with a fresh ``mmap`` and unmaps it on ``free``, and it gives the top of the
heap back above a trim threshold.  A forward pass at 512 px allocates and frees the same
10-80 MiB activations every batch, and each time the kernel zero-fills the pages again on
first touch: page faults, thousands per image (measured in
``benchmarks/results/allocator-cpu.md``).  Serving all blocks from the heap,
keeping up to :data:`KEEP_BYTES` of freed memory there, and one arena for all threads (a
thread's own arena lives in 64 MiB mmapped heaps that glibc unmaps once empty, whatever the
threshold: the app's engine thread and the readers) removes them.

Process-wide and only an allocator setting: results are the same.  Elsewhere (macOS, Windows,
musl) it does nothing, and ``DISTILLFSS_MALLOC=system`` in the environment turns it off.
Called first thing by the entry points (the ``distillfss`` command, the app, the Ray workers),
before threads start, not on import.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

KEEP_BYTES = 1 << 30  # freed memory kept at the top of the heap before glibc trims it
_M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Tell glibc to keep freed memory for reuse; True where it took effect.

    Idempotent; False (and nothing changed) where the C library is not glibc or
    ``DISTILLFSS_MALLOC=system`` is set."""
    global _done
    if _done is None:
        _done = _apply()
    return _done


def _apply() -> bool:
    if os.environ.get("DISTILLFSS_MALLOC") == "system" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # musl has a mallopt that does nothing
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    # mallopt returns 1 on success.
    return all(mallopt(option, value) == 1 for option, value in
               ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, KEEP_BYTES)))


__all__ = ["KEEP_BYTES", "keep_freed_memory"]
