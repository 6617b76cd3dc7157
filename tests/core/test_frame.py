"""The frame processor and arena systems, stepped directly."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from server.core.frame import InputBatch
from server.core.simulation import Simulation
from server.errors import SystemFailed
from server.gamedef import GameDefinition, SystemStep


def test_frame_moves_entities_by_velocity_over_tick_rate(small_arena: GameDefinition) -> None:
    """Each tick adds velocity // tick_rate to position (fixed point)."""
    sim = Simulation(small_arena)
    sim.spawn_initial()
    sim.step()
    w = sim.world
    before = w.col("position.x").copy()
    vx = w.col("velocity.x").copy()
    sim.step()
    inside = (before + vx // 20 > 0) & (before + vx // 20 < 1000 * 256)
    assert np.array_equal(w.col("position.x")[inside], (before + vx // 20)[inside])


def test_frame_keeps_every_entity_inside_the_world(small_arena: GameDefinition) -> None:
    """After many ticks no entity is outside [0, 1000] units."""
    sim = Simulation(small_arena)
    sim.spawn_initial()
    for _ in range(400):
        sim.step()
    for axis in ("x", "y"):
        p = sim.world.col(f"position.{axis}")
        assert p.min() >= 0
        assert p.max() <= 1000 * 256


def test_frame_applies_inputs_to_player_velocity(small_arena: GameDefinition) -> None:
    """A full-right stick gives the player +speed on x and nothing on y."""
    sim = Simulation(small_arena)
    player = sim.queue_player()
    sim.step()
    inputs = InputBatch(
        np.array([player], np.int64), np.array([127], np.int8), np.array([0], np.int8)
    )
    x0 = int(sim.world.col("position.x")[sim.world.slot_of(player)])
    sim.step(inputs)
    slot = sim.world.slot_of(player)
    assert int(sim.world.col("velocity.x")[slot]) == 80 * 256
    assert int(sim.world.col("velocity.y")[slot]) == 0
    x1 = int(sim.world.col("position.x")[slot])
    assert x1 - x0 == 80 * 256 // 20 or x1 < x0  # moved right (or bounced off the edge)


def test_frame_collide_reverses_overlapping_entities(arena: GameDefinition) -> None:
    """Two entities placed on top of each other swap direction; a distant one does not."""
    defn = replace(arena, spawns=())
    sim = Simulation(defn)
    cmds = sim.processor.commands
    for x, vx in ((100_000, 256), (100_100, -256), (200_000, 256)):
        cmds.spawn("npc", {"position.x": x, "position.y": 50_000, "velocity.x": vx})
    sim.step()
    assert sim.world.col("velocity.x").tolist() == [-256, 256, 256]


def test_frame_times_every_phase_and_system(small_arena: GameDefinition) -> None:
    """The result carries a timing for each phase and each system of the pipeline."""
    sim = Simulation(small_arena)
    sim.spawn_initial()
    result = sim.step()
    assert set(result.phase_s) == {
        "input",
        "pre_update",
        "update",
        "validate",
        "post_update",
        "sync",
    }
    assert set(result.system_s) == {"apply_inputs", "move", "bounce_at_edges", "collide"}
    assert all(v >= 0 for v in result.system_s.values())


def test_frame_wraps_a_system_error_with_system_and_tick(small_arena: GameDefinition) -> None:
    """An exception in a system surfaces as SystemFailed naming the system and tick."""
    defn = replace(
        small_arena,
        pipeline=(*small_arena.pipeline, SystemStep("update", "fail_at_tick", (("tick", 3),))),
    )
    sim = Simulation(defn)
    sim.step()
    sim.step()
    with pytest.raises(SystemFailed, match="fail_at_tick") as info:
        sim.step()
    assert info.value.tick == 3
    assert isinstance(info.value.__cause__, RuntimeError)


@pytest.mark.parametrize("kind", ["grid", "quadtree", "brute"])
def test_frame_runs_with_each_spatial_index(small_arena: GameDefinition, kind: str) -> None:
    """The definition picks the index and the same world results from all three."""
    defn = replace(small_arena, spatial=replace(small_arena.spatial, index=kind))
    sim = Simulation(defn)
    sim.spawn_initial()
    for _ in range(50):
        sim.step()
    ref = Simulation(small_arena)
    ref.spawn_initial()
    for _ in range(50):
        ref.step()
    assert sim.checksum() == ref.checksum()
