"""A pure fixed-rate tick clock: deadlines at ``start + n * dt``, numbers only.

Deadlines are absolute, so the time spent running ticks never shifts later ticks
(no cumulative drift). Catch-up policy when the caller falls behind: at most
``max_catchup_ticks`` due ticks are run back to back; any further missed deadlines
are skipped (counted in :attr:`TickClock.skipped_total`) and the schedule continues
from the next future deadline. The runner passes in "now" from its event loop's clock;
this module never reads a clock itself, so it is tested with plain numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DueTick:
    """A deadline that has come: its index, when it was due, and how late ``now`` is."""

    index: int
    deadline_s: float
    lateness_s: float


class TickClock:
    """Schedules tick ``n`` at ``start_s + n / tick_rate_hz``."""

    def __init__(self, start_s: float, tick_rate_hz: float, max_catchup_ticks: int = 3) -> None:
        if tick_rate_hz <= 0:
            raise ValueError("tick_rate_hz must be positive")
        if max_catchup_ticks < 1:
            raise ValueError("max_catchup_ticks must be at least 1")
        self.start_s = start_s
        self.dt_s = 1.0 / tick_rate_hz
        self.max_catchup_ticks = max_catchup_ticks
        self.next_index = 0
        self.skipped_total = 0
        self.late_total = 0
        """Ticks that ran more than one period after their deadline (catch-up ticks)."""

    def deadline(self, n: int) -> float:
        """When tick index ``n`` is due (seconds, same clock as ``start_s``)."""
        return self.start_s + n * self.dt_s

    @property
    def next_deadline_s(self) -> float:
        """When the next tick is due."""
        return self.deadline(self.next_index)

    def due(self, now_s: float) -> list[DueTick]:
        """The ticks to run now, oldest first (empty if the next deadline is in the future).

        Skips (and counts) deadlines beyond ``max_catchup_ticks`` so a stall does not
        turn into an unbounded burst.
        """
        if now_s < self.next_deadline_s:
            return []
        # Index of the newest deadline that has passed; the 1e-9 absorbs float rounding
        # when now is exactly on a deadline.
        newest = math.floor((now_s - self.start_s) / self.dt_s + 1e-9)
        count = newest - self.next_index + 1
        if count > self.max_catchup_ticks:
            skip = count - self.max_catchup_ticks
            self.skipped_total += skip
            self.next_index += skip
            count = self.max_catchup_ticks
        out = []
        for _ in range(count):
            d = self.deadline(self.next_index)
            lateness = now_s - d
            if lateness > self.dt_s:
                self.late_total += 1
            out.append(DueTick(self.next_index, d, lateness))
            self.next_index += 1
        return out
