"""Overload degradation: pure logic that turns persistent tick overruns into a level.

Levels: 0 normal; 1 far entities get fewer updates; 2 no new matches; 3 no new joins
(``SERVER_BUSY``). Ticks are judged in windows of ``window_ticks``: a window where more
than ``raise_ratio`` of ticks overran raises the level by one; ``calm_windows``
consecutive windows at or under ``lower_ratio`` lower it by one (hysteresis: the gap
between the two ratios and the calm streak keep the level from flapping).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LEVEL = 3


@dataclass(slots=True)
class DegradeController:
    """Feed it every tick's overrun flag; it answers when the level changes."""

    window_ticks: int = 100
    raise_ratio: float = 0.2
    lower_ratio: float = 0.02
    calm_windows: int = 3
    level: int = 0
    _ticks: int = 0
    _overruns: int = 0
    _calm: int = 0

    def __post_init__(self) -> None:
        if self.window_ticks < 1 or self.calm_windows < 1:
            raise ValueError("window_ticks and calm_windows must be at least 1")
        if not 0 <= self.lower_ratio < self.raise_ratio <= 1:
            raise ValueError("need 0 <= lower_ratio < raise_ratio <= 1")

    def observe(self, overrun: bool) -> int | None:
        """Count one tick; the new level when this tick closed a window that changed it."""
        self._ticks += 1
        self._overruns += overrun
        if self._ticks < self.window_ticks:
            return None
        ratio = self._overruns / self._ticks
        self._ticks = self._overruns = 0
        before = self.level
        if ratio > self.raise_ratio:
            self._calm = 0
            self.level = min(MAX_LEVEL, self.level + 1)
        elif ratio <= self.lower_ratio:
            self._calm += 1
            if self._calm >= self.calm_windows and self.level > 0:
                self.level -= 1
                self._calm = 0
        else:
            self._calm = 0  # neither bad nor calm: hold the level
        return self.level if self.level != before else None

    @property
    def refuse_matches(self) -> bool:
        """Level 2 and up: start no new match."""
        return self.level >= 2

    @property
    def refuse_joins(self) -> bool:
        """Level 3: close new players with SERVER_BUSY."""
        return self.level >= 3
