"""The pure tick clock, driven with plain numbers: deadlines, catch-up, skips."""

from __future__ import annotations

import pytest

from server.core.clock import TickClock


def test_clock_deadlines_never_drift_when_ticks_run_late() -> None:
    """Tick n is due at start + n*dt whatever time earlier ticks took."""
    clock = TickClock(start_s=100.0, tick_rate_hz=20)
    now = 100.0
    for n in range(200):
        due = clock.due(now)
        assert [d.index for d in due] == [n]
        assert due[0].deadline_s == pytest.approx(100.0 + n * 0.05)
        now = clock.next_deadline_s + 0.004  # every tick starts 4 ms late
    assert clock.deadline(200) == pytest.approx(110.0)


def test_clock_returns_nothing_before_the_deadline() -> None:
    """No tick is due before its deadline."""
    clock = TickClock(start_s=0.0, tick_rate_hz=60)
    assert len(clock.due(0.0)) == 1
    assert clock.due(1 / 60 - 1e-6) == []


def test_clock_reports_lateness_per_tick() -> None:
    """Lateness is now minus the tick's deadline."""
    clock = TickClock(start_s=0.0, tick_rate_hz=10)
    clock.due(0.0)
    (tick,) = clock.due(0.1375)
    assert tick.lateness_s == pytest.approx(0.0375)


def test_clock_catches_up_at_most_k_ticks_then_skips() -> None:
    """After a 1 s stall at 20 Hz, the newest 3 due ticks run; the other 17 are skipped."""
    clock = TickClock(start_s=0.0, tick_rate_hz=20, max_catchup_ticks=3)
    clock.due(0.0)
    due = clock.due(1.02)  # deadlines 1..20 have passed
    assert [d.index for d in due] == [18, 19, 20]
    assert clock.skipped_total == 17
    assert clock.next_deadline_s == pytest.approx(1.05)
    assert clock.late_total == 2  # ticks 18 and 19 start over one period late


def test_clock_runs_all_missed_ticks_within_catchup_budget() -> None:
    """Two missed deadlines with a budget of three run back to back, none skipped."""
    clock = TickClock(start_s=0.0, tick_rate_hz=20, max_catchup_ticks=3)
    clock.due(0.0)
    assert [d.index for d in clock.due(0.101)] == [1, 2]
    assert clock.skipped_total == 0


def test_clock_rejects_nonsense_settings() -> None:
    """A zero tick rate or catch-up budget is refused."""
    with pytest.raises(ValueError, match="tick_rate_hz"):
        TickClock(0.0, 0)
    with pytest.raises(ValueError, match="max_catchup_ticks"):
        TickClock(0.0, 20, max_catchup_ticks=0)
