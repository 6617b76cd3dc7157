"""The overload degradation controller, with numbers."""

from __future__ import annotations

from typing import Any

import pytest

from server.gamedef import GameDefinition
from server.net.protocol import CloseCode, MessageType
from server.ops.degrade import DegradeController
from server.testing import TestClient, running_server


def feed(ctl: DegradeController, windows: int, overruns_per_window: int) -> list[int | None]:
    """Feed whole windows with ``overruns_per_window`` overruns each; the changes seen."""
    changes = []
    for _ in range(windows):
        for i in range(ctl.window_ticks):
            change = ctl.observe(i < overruns_per_window)
            if change is not None:
                changes.append(change)
    return changes


def test_controller_raises_one_level_per_bad_window_when_overruns_persist() -> None:
    """Windows of 10 ticks with 3 overruns (30% > 20%) raise the level 1, 2, 3, then hold."""
    ctl = DegradeController(window_ticks=10, raise_ratio=0.2, lower_ratio=0.0, calm_windows=2)
    assert feed(ctl, 5, 3) == [1, 2, 3]
    assert ctl.level == 3
    assert ctl.refuse_joins
    assert ctl.refuse_matches


def test_controller_holds_the_level_when_overruns_are_between_the_ratios() -> None:
    """10% overruns is neither bad (> 20%) nor calm (<= 0%): the level stays where it is."""
    ctl = DegradeController(window_ticks=10, raise_ratio=0.2, lower_ratio=0.0, calm_windows=2)
    feed(ctl, 2, 3)
    assert ctl.level == 2
    assert feed(ctl, 10, 1) == []
    assert ctl.level == 2
    assert ctl.refuse_matches
    assert not ctl.refuse_joins


def test_controller_steps_down_only_after_calm_streaks_when_load_drops() -> None:
    """Back down one level per 2 consecutive calm windows; a bad window resets the streak."""
    ctl = DegradeController(window_ticks=10, raise_ratio=0.2, lower_ratio=0.0, calm_windows=2)
    feed(ctl, 3, 5)
    assert ctl.level == 3
    assert feed(ctl, 1, 0) == []  # one calm window is not enough
    assert feed(ctl, 1, 5) == []  # a bad window at the top: stays 3, streak reset
    assert feed(ctl, 1, 0) == []
    assert feed(ctl, 1, 0) == [2]
    assert feed(ctl, 4, 0) == [1, 0]
    assert feed(ctl, 3, 0) == []  # never below 0
    assert ctl.level == 0


def test_controller_ignores_a_single_slow_tick_when_the_window_is_healthy() -> None:
    """One overrun in a 100-tick window (1%) raises nothing with the defaults (20%)."""
    ctl = DegradeController()
    assert feed(ctl, 5, 1) == []
    assert ctl.level == 0


def test_controller_refuses_settings_when_ratios_overlap() -> None:
    """A lower ratio at or above the raise ratio would flap, so it is refused."""
    with pytest.raises(ValueError, match="lower_ratio"):
        DegradeController(raise_ratio=0.1, lower_ratio=0.1)


async def test_server_refuses_new_players_but_keeps_old_ones_when_degraded_to_level_3(
    small_arena: GameDefinition, closed: Any
) -> None:
    """At level 3 a new hello is closed with SERVER_BUSY, the gauge reads 3, players play on."""
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as old:
        await old.expect(MessageType.WELCOME)
        srv.degrade.level = 3  # what three bad windows in a row produce (tested above)
        srv._set_degradation(3)
        assert not srv.manager.accepting_matches
        match = next(iter(srv.manager.matches.values()))
        assert match.interest.far_every == 2  # level >= 1: far entities every other frame
        async with TestClient.connect(srv.url) as new:
            assert await closed(new, 5) == CloseCode.SERVER_BUSY
        await old.expect(MessageType.STATE)
        exposition = srv.metrics.exposition().decode()
        assert "tickwire_degradation_level 3.0" in exposition
        srv.degrade.level = 0
        srv._set_degradation(0)
        assert srv.manager.accepting_matches
        assert match.interest.far_every == 1
        async with TestClient.connect(srv.url) as later:
            await later.expect(MessageType.WELCOME)
