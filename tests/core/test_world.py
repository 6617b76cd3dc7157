"""The world's storage: columns, generations, deferred commands, stable compaction."""

from __future__ import annotations

import numpy as np
import pytest

from server.core.commands import CommandBuffer
from server.core.world import World
from server.errors import InvalidState
from server.gamedef import GameDefinition


def make_world(defn: GameDefinition, capacity: int = 16) -> World:
    return World(defn.components, defn.archetypes, capacity)


def test_world_spawn_is_deferred_until_commands_apply(arena: GameDefinition) -> None:
    """A queued spawn has an id at once but no slot until the buffer is applied."""
    world = make_world(arena)
    cmds = CommandBuffer(world)
    eid = cmds.spawn("npc", {"position.x": 5})
    assert world.count == 0
    assert not world.is_alive(eid)
    applied = cmds.apply()
    assert world.is_alive(eid)
    assert world.col("position.x")[world.slot_of(eid)] == 5
    assert list(applied.spawned_netids) == [1]


def test_world_rejects_stale_id_when_handle_is_reused(arena: GameDefinition) -> None:
    """A despawned entity's id stays dead even after its handle is reused."""
    world = make_world(arena)
    cmds = CommandBuffer(world)
    old = cmds.spawn("npc")
    cmds.apply()
    cmds.despawn(old)
    cmds.apply()
    new = cmds.spawn("npc")
    cmds.apply()
    assert (old & 0xFFFFFFFF) == (new & 0xFFFFFFFF), "handle should be reused"
    assert not world.is_alive(old)
    assert world.is_alive(new)
    with pytest.raises(InvalidState):
        world.slot_of(old)


def test_world_compacts_stably_when_despawning(arena: GameDefinition) -> None:
    """Survivors keep their relative order and values; netids are never reused."""
    world = make_world(arena, capacity=4)
    cmds = CommandBuffer(world)
    eids = cmds.spawn_many("npc", 10, {"position.x": np.arange(10, dtype=np.int32)})
    cmds.apply()
    cmds.despawn(eids[[1, 4, 7]])
    applied = cmds.apply()
    assert sorted(applied.despawned_netids.tolist()) == [2, 5, 8]
    assert world.col("position.x").tolist() == [0, 2, 3, 5, 6, 8, 9]
    for i in (0, 2, 9):
        assert world.col("position.x")[world.slot_of(eids[i])] == i
    cmds.spawn("npc")
    cmds.apply()
    assert int(world.netids[-1]) == 11


def test_world_grows_capacity_when_full(arena: GameDefinition) -> None:
    """Spawning past the initial capacity keeps every value."""
    world = make_world(arena, capacity=16)
    cmds = CommandBuffer(world)
    cmds.spawn_many("npc", 100, {"velocity.y": np.arange(100, dtype=np.int32)})
    cmds.apply()
    assert world.count == 100
    assert world.col("velocity.y").tolist() == list(range(100))


def test_world_masks_components_by_archetype(arena: GameDefinition) -> None:
    """Only players carry the input component."""
    world = make_world(arena)
    cmds = CommandBuffer(world)
    cmds.spawn_many("npc", 3)
    cmds.spawn("player")
    cmds.apply()
    assert world.mask("input").tolist() == [False, False, False, True]
    assert world.mask("position", "velocity").all()


def test_world_refuses_field_of_missing_component(arena: GameDefinition) -> None:
    """Setting input on an NPC (which has no input component) is a programmer error."""
    world = make_world(arena)
    cmds = CommandBuffer(world)
    cmds.spawn("npc", {"input.x": 1})
    with pytest.raises(InvalidState, match="no component 'input'"):
        cmds.apply()


def test_world_ignores_stale_ids_in_despawn(arena: GameDefinition) -> None:
    """Despawning an id twice removes the entity once and nothing else."""
    world = make_world(arena)
    cmds = CommandBuffer(world)
    a, b = cmds.spawn("npc"), cmds.spawn("npc")
    cmds.apply()
    cmds.despawn(a)
    cmds.despawn(a)
    cmds.apply()
    cmds.despawn(a)
    cmds.apply()
    assert world.count == 1
    assert world.is_alive(b)


def test_spawn_after_despawn_zeroes_fields_not_given(arena: GameDefinition) -> None:
    """A new entity in a slot a despawned one used starts with zero fields, not its data."""
    world = make_world(arena)
    cmds = CommandBuffer(world)
    cmds.spawn("npc")
    first = cmds.spawn("player", {"position.x": 1, "velocity.x": 99, "input.x": -124})
    cmds.apply()
    cmds.despawn(first)
    cmds.apply()
    new = cmds.spawn("player", {"position.x": 7})
    cmds.apply()
    slot = world.slot_of(new)
    assert world.col("position.x")[slot] == 7
    assert world.col("velocity.x")[slot] == 0
    assert world.col("input.x")[slot] == 0
