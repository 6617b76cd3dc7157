"""spawn_squad, rally_to_input, follow_owner and separate; determinism of a mixed world."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from server.core.simulation import Simulation

Builder = Callable[..., Simulation]
Spawn = Callable[..., list[int]]
U = 256

COMPONENTS = {
    "input": {"target_x": "int32", "target_y": "int32"},
    "squad": {"spawned": "uint8"},
    "owner": {"netid": "uint32"},
    "score": {"points": "uint16"},
}
ARCHETYPES = {
    "player": ["position", "input", "squad", "score"],
    "unit": ["position", "velocity", "collider", "owner"],
}
STEPS = [
    ("input", "rally_to_input", {}),
    ("pre_update", "spawn_squad", {"count": 6, "spread_units": 8.0}),
    ("pre_update", "follow_owner", {"speed_units_per_s": 40.0, "arrive_units": 3.0}),
    ("update", "move", {}),
    ("validate", "bounce_at_edges", {}),
    ("post_update", "separate", {"component": "owner", "radius_units": 2.0}),
    (
        "post_update",
        "zones",
        {
            "mode": "capture",
            "x_units": 500.0,
            "y_units": 500.0,
            "radius_units": 30.0,
            "who": "owner",
            "credit_field": "owner.netid",
        },
    ),
]


def rts(build: Builder, seed: int = 7) -> Simulation:
    return build(COMPONENTS, ARCHETYPES, STEPS, seed=seed)


def test_squad_spawns_on_a_ring_and_orphans_are_despawned(build: Builder, spawn: Spawn) -> None:
    """6 units per player with the player's net id; a departed player's units go."""
    sim = rts(build)
    players = spawn(sim, "player", position_x=[100 * U, 700 * U], position_y=[100 * U] * 2)
    sim.step()
    sim.step()
    units = sim.world.col("kind") == 1
    assert sorted(sim.world.col("owner.netid")[units].tolist()) == [1] * 6 + [2] * 6
    d = sim.world.col("position.x")[units][:6].astype(np.int64) - 100 * U
    assert np.abs(d).max() <= 8 * U + 1
    sim.queue_despawn(players[0])  # type: ignore[arg-type]
    sim.step()
    sim.step()
    assert sim.world.col("owner.netid")[sim.world.col("kind") == 1].tolist() == [2] * 6


def test_units_go_to_the_rally_point_and_spread(build: Builder, spawn: Spawn) -> None:
    """After an order to (500, 500), every unit ends near it and no two coincide."""
    sim = rts(build)
    spawn(sim, "player", position_x=[100 * U], position_y=[100 * U])
    sim.step()
    sim.world.col("input.target_x")[0] = 500
    sim.world.col("input.target_y")[0] = 500
    for _ in range(400):
        sim.step()
    units = sim.world.col("kind") == 1
    x = sim.world.col("position.x")[units].astype(np.int64)
    y = sim.world.col("position.y")[units].astype(np.int64)
    dist = np.hypot(x - 500 * U, y - 500 * U) / U
    assert dist.max() < 10.0
    gaps = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) / U
    assert gaps[np.triu_indices(len(x), 1)].min() > 2.0  # separated (radius 2 each: 4 apart)
    assert int(sim.world.col("score.points")[0]) > 0  # the capture zone scored


def test_separate_pushes_coincident_units_apart(build: Builder, spawn: Spawn) -> None:
    """Two units on one spot move apart along x, the lower slot toward -x."""
    sim = build(COMPONENTS, ARCHETYPES, [("post_update", "separate", {"component": "owner"})])
    spawn(sim, "unit", position_x=[300 * U] * 2, position_y=[300 * U] * 2)
    sim.step()
    x = sim.world.col("position.x").tolist()
    assert x[0] < 300 * U < x[1]
    assert sim.world.col("position.y").tolist() == [300 * U] * 2


def test_same_seed_and_orders_give_the_same_checksums(build: Builder, spawn: Spawn) -> None:
    """Two simulations of the rts systems with the same orders agree every 10 ticks."""

    def run() -> list[int]:
        sim = rts(build)
        spawn(
            sim,
            "player",
            position_x=[100 * U, 900 * U, 500 * U],
            position_y=[100 * U, 900 * U, 100 * U],
        )
        sums = []
        for t in range(1, 201):
            if t == 5:
                sim.world.col("input.target_x")[:3] = [500, 510, 490]
                sim.world.col("input.target_y")[:3] = [500, 490, 505]
            sim.step()
            if t % 10 == 0:
                sums.append(sim.checksum())
        return sums

    first, second = run(), run()
    assert first == second
    assert len(set(first)) > 10  # the world really changed
