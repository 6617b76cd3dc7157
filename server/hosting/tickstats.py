"""Recent tick timings of one match, for the admin API's match view.

A ring of the last :data:`TICKS_KEPT` tick work times (seconds) plus the phase and
system timings of the latest tick. Recording costs one store per tick; percentiles are
computed only when someone asks (``GET /admin/matches/{id}``).
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

TICKS_KEPT = 512


class TickStats:
    """Tick work times of one match (a ring) and its latest phase/system timings."""

    __slots__ = ("_n", "_ring", "last_phase_s", "last_system_s")

    def __init__(self) -> None:
        self._ring = array("d", bytes(8 * TICKS_KEPT))
        self._n = 0
        self.last_phase_s: dict[str, float] = {}
        self.last_system_s: dict[str, float] = {}

    def record(self, work_s: float, result: Any) -> None:
        """One tick took ``work_s`` seconds; ``result`` is its FrameResult (or None)."""
        self._ring[self._n % TICKS_KEPT] = work_s
        self._n += 1
        if result is not None:
            self.last_phase_s = result.phase_s
            self.last_system_s = result.system_s

    def recent_s(self) -> np.ndarray:
        """The kept work times, oldest first (seconds)."""
        ring = np.frombuffer(self._ring, dtype=np.float64)
        if self._n <= TICKS_KEPT:
            return ring[: self._n].copy()
        start = self._n % TICKS_KEPT
        return np.concatenate((ring[start:], ring[:start]))

    def summary(self, spark_points: int = 120) -> dict[str, Any]:
        """p50/p99/max in ms over the kept ticks, the last ``spark_points`` (ms), and the
        latest tick's phase and system timings (ms)."""
        recent = self.recent_s() * 1000.0
        out: dict[str, Any] = {"samples": int(recent.size), "p50_ms": None, "p99_ms": None}
        if recent.size:
            p50, p99 = np.percentile(recent, [50, 99])
            out.update(p50_ms=float(p50), p99_ms=float(p99), max_ms=float(recent.max()))
        out["recent_ms"] = [round(float(v), 4) for v in recent[-spark_points:]]
        out["phases_ms"] = {k: v * 1000.0 for k, v in self.last_phase_s.items()}
        out["systems_ms"] = {k: v * 1000.0 for k, v in self.last_system_s.items()}
        return out
