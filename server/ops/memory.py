"""The server process's heap: keep freed memory for the next tick, give it back to the OS
a few times a minute (glibc only; elsewhere -- musl, macOS -- both do nothing).

**Keeping** (:func:`retain_freed_heap`, once at start-up). Every tick allocates and frees
numpy temporaries of tens to hundreds of KB (a batch's candidate pairs, a build's visible
pairs). glibc's defaults adapt: chunks over its mmap threshold (128 KB at first) get
their own mapping, unmapped on free, and once the free space at the top of the heap
exceeds its trim threshold the heap shrinks -- so the next tick's temporaries land on
fresh pages and fault every one of them in again. On this project's VMs a fault costs
microseconds: the batched sweep of 100 matches' 5,800 entities took 1.65 ms with the
defaults and 0.56-0.61 ms with the heap kept (docs/benchmarks.md, "Session 10"). With
``retain_mb`` > 0, allocations under 16 MB come from the heap (``M_MMAP_THRESHOLD``) and
up to ``retain_mb`` MB of free space stays at its top (``M_TRIM_THRESHOLD``). Setting
either disables glibc's adaptation; ``MALLOC_*`` variables in the environment win (the
operator chose), and 0 keeps glibc's defaults.

**Giving back** (:class:`HeapTrimmer`). A lockstep match sends every joining client a
``CHECKPOINT`` of the whole world (~110 KB at 1000 entities and 1000 players) and every
outgoing copy is freed once the kernel took it. glibc keeps such freed chunks inside its
heap, so a thousand joins left the server ~25 MB above what it holds live (measured: 132
MB -> 109 MB RSS after one trim, 2-3 ms). :meth:`HeapTrimmer.maybe_trim` calls
``malloc_trim(0)``, which also releases whole free pages in the middle of the heap, at
most once per ``interval_s``: what is kept for the ticks is kept between trims only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable
from typing import Any

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameters (malloc.h)."""
HEAP_BELOW_MB = 16
"""With the heap kept, allocations under this size come from it rather than a mapping."""


def _libc_function(name: str) -> Any:
    """A function of the C library, or None where it has none (not glibc)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return getattr(libc, name)
    except (OSError, AttributeError):
        return None


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    trim: Callable[[int], int] | None = _libc_function("malloc_trim")
    return trim


def retain_freed_heap(retain_mb: int) -> str:
    """Keep up to ``retain_mb`` MB of freed heap for reuse (module docstring); returns
    what was done, for the start-up log: ``"kept"``, ``"off"`` (0), ``"environment"``
    (``MALLOC_TRIM_THRESHOLD_`` or ``MALLOC_MMAP_THRESHOLD_`` set) or ``"unavailable"``
    (no glibc ``mallopt``, or it refused). Process-wide: for the process's owner."""
    if retain_mb < 0:
        raise ValueError(f"heap_retain_mb must be >= 0, not {retain_mb}")
    if retain_mb == 0:
        return "off"
    if any(k in os.environ for k in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")):
        return "environment"
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return "unavailable"
    below = min(retain_mb, HEAP_BELOW_MB) << 20
    if not (mallopt(M_MMAP_THRESHOLD, below) and mallopt(M_TRIM_THRESHOLD, retain_mb << 20)):
        return "unavailable"
    return "kept"


class HeapTrimmer:
    """Calls ``malloc_trim(0)`` at most once per ``interval_s`` (0 or less: never)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._trim = _malloc_trim() if interval_s > 0 else None
        self._last_s: float | None = None
        self.trims = 0

    @property
    def available(self) -> bool:
        """Whether this process can trim (glibc, and an interval set)."""
        return self._trim is not None

    def maybe_trim(self, now_s: float) -> bool:
        """Trim if ``interval_s`` passed since the last trim (the first call only starts
        the clock); whether it trimmed."""
        if self._trim is None:
            return False
        if self._last_s is None:
            self._last_s = now_s
            return False
        if now_s - self._last_s < self.interval_s:
            return False
        self._last_s = now_s
        self._trim(0)
        self.trims += 1
        return True
