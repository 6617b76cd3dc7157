"""TickContext.emit / end and how the frame processor carries them out of a tick."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from server.core.commands import CommandBuffer
from server.core.determinism import match_rng
from server.core.simulation import Simulation
from server.core.systems.registry import SYSTEMS, Ending, TickContext, system
from server.core.world import World
from server.gamedef import GameDefinition, SystemStep


def _ctx(defn: GameDefinition) -> TickContext:
    world = World(defn.components, defn.archetypes)
    return TickContext(1, 20, defn, CommandBuffer(world), match_rng(0))


def test_emit_broadcasts_scalars_to_the_array_length(arena: GameDefinition) -> None:
    """Arrays give n events; scalar fields repeat n times; arrays are copied."""
    ctx = _ctx(arena)
    target = np.array([5, 6, 7], dtype=np.int64)
    ctx.emit("hit", target=target, by=2, damage=10.5)
    target[0] = 99
    ((name, fields),) = ctx.events
    assert name == "hit"
    assert fields["target"].tolist() == [5, 6, 7]
    assert fields["by"].tolist() == [2, 2, 2]
    assert fields["damage"].tolist() == [10.5, 10.5, 10.5]


def test_emit_of_scalars_only_is_one_event_and_empty_arrays_none(arena: GameDefinition) -> None:
    """All-scalar emits one event; a zero-length batch is dropped; order is kept."""
    ctx = _ctx(arena)
    ctx.emit("round_started", round=1)
    ctx.emit("hit", target=np.zeros(0, np.int64), by=1)
    ctx.emit("died", target=np.array([3], np.int64))
    assert [name for name, _ in ctx.events] == ["round_started", "died"]
    assert ctx.events[0][1]["round"].tolist() == [1]


def test_emit_rejects_ragged_or_2d_fields(arena: GameDefinition) -> None:
    """Arrays of different lengths, or 2-D arrays, are a ValueError naming the field."""
    ctx = _ctx(arena)
    with pytest.raises(ValueError, match="'by'"):
        ctx.emit("hit", target=np.arange(3), by=np.arange(2))
    with pytest.raises(ValueError, match="2-D"):
        ctx.emit("hit", target=np.zeros((2, 2)))
    assert ctx.events == []


def test_end_match_overrides_round_and_first_of_a_kind_wins(arena: GameDefinition) -> None:
    """A round ending is replaced by a match ending, never the other way round."""
    ctx = _ctx(arena)
    ctx.end("round", "time")
    ctx.end("round", "later")
    assert ctx.ending == Ending("round", "time", None)
    ctx.end("match", "score_limit", winner=np.int64(4))  # type: ignore[arg-type]
    ctx.end("round", "time")
    assert ctx.ending == Ending("match", "score_limit", 4)
    assert type(ctx.ending.winner) is int
    with pytest.raises(ValueError, match="kind"):
        ctx.end("game", "x")  # type: ignore[arg-type]


@pytest.fixture
def emitting_system() -> Iterator[str]:
    """A throwaway system that emits at every tick and ends the match at tick 3."""

    name = "_test_emit_and_end"

    @system(name)
    def emit_and_end(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
        ctx.emit("tick_seen", tick=ctx.tick, count=np.full(2, world.count, np.int64))
        if ctx.tick == 3:
            ctx.end("match", "test", winner=1)

    yield name
    del SYSTEMS[name]


def test_frame_result_carries_events_and_ending(
    arena: GameDefinition, emitting_system: str
) -> None:
    """Each step's FrameResult has that tick's events (fresh list) and its ending."""
    defn = replace(arena, spawns=(), pipeline=(SystemStep("update", emitting_system),))
    sim = Simulation(defn)
    results = [sim.step() for _ in range(3)]
    assert [r.events[0][1]["tick"].tolist() for r in results] == [[1, 1], [2, 2], [3, 3]]
    assert all(len(r.events) == 1 for r in results)
    assert [r.ending for r in results] == [None, None, Ending("match", "test", 1)]
