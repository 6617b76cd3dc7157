"""fire_projectile, damage_on_contact, health and lifetime, stepped in a small world."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from server.core.simulation import Simulation

Builder = Callable[..., Simulation]
Spawn = Callable[..., list[int]]
U = 256  # subunits per unit

COMPONENTS = {
    "input": {"x": "int8", "y": "int8", "aim": "uint16", "buttons": "uint16"},
    "weapon": {"ready_at": "int32"},
    "health": {"hp": "int16", "alive": "bool", "respawn_at": "int32", "last_by": "uint32"},
    "owner": {"netid": "uint32"},
    "lifetime": {"age": "int32"},
    "damage": {"amount": "int32"},
}
ARCHETYPES = {
    "player": ["position", "velocity", "collider", "input", "weapon", "health"],
    "projectile": ["position", "velocity", "collider", "owner", "lifetime", "damage"],
}


def shooter_sim(build: Builder, **params: object) -> Simulation:
    fire = {"cooldown_s": 0.5, "speed_units_per_s": 100.0, "damage": 30, **params}
    return build(
        COMPONENTS,
        ARCHETYPES,
        [
            ("pre_update", "health", {"respawn_s": 1.0}),
            ("pre_update", "fire_projectile", fire),
            ("update", "move", {}),
            ("update", "lifetime", {"ticks": 40}),
            ("post_update", "damage_on_contact", {"radius_units": 1.0}),
        ],
    )


def col(sim: Simulation, key: str) -> list[int]:
    return [int(v) for v in sim.world.col(key)]


def test_fire_spawns_aimed_projectiles_with_owner_and_cooldown(
    build: Builder, spawn: Spawn
) -> None:
    """Holding fire for 20 ticks at 20 Hz with a 0.5 s cooldown fires twice, along +y."""
    sim = shooter_sim(build)
    spawn(sim, "player", position_x=[100 * U], position_y=[100 * U])
    sim.step()
    sim.world.col("input.buttons")[:] = 0b1
    sim.world.col("input.aim")[:] = 16384  # a quarter turn: +y
    fired = []
    for _ in range(20):
        result = sim.step()
        fired += [f for name, f in result.events if name == "fired"]
    assert len(fired) == 2
    assert [int(f["by"][0]) for f in fired] == [1, 1]
    proj = sim.world.col("kind") == 1
    assert col(sim, "owner.netid")[1:] == [1, 1]
    assert sim.world.col("velocity.x")[proj].tolist() == [0, 0]
    assert sim.world.col("velocity.y")[proj].tolist() == [100 * U, 100 * U]
    assert sorted(int(f["projectile"][0]) for f in fired) == sim.world.netids[proj].tolist()


def test_no_fire_without_the_bit_or_while_dead(build: Builder, spawn: Spawn) -> None:
    """Another bit does not fire; a dead shooter does not fire."""
    sim = shooter_sim(build, bit=1)
    spawn(sim, "player", position_x=[100 * U, 300 * U], position_y=[100 * U, 300 * U])
    sim.step()
    sim.world.col("input.buttons")[:] = [0b01, 0b10]
    sim.world.col("health.alive")[1] = False
    sim.world.col("health.respawn_at")[1] = 10_000
    sim.step()
    assert sim.world.count == 2


def test_projectile_hits_the_nearest_other_player_once(build: Builder, spawn: Spawn) -> None:
    """The hit lowers hp, names target/by/damage, despawns the projectile; owner unhurt."""
    sim = shooter_sim(build)
    spawn(sim, "player", position_x=[100 * U, 105 * U, 107 * U], position_y=[100 * U] * 3)
    sim.step()  # health spawns everyone; place them back
    sim.world.col("position.x")[:] = [100 * U, 105 * U, 107 * U]
    sim.world.col("position.y")[:] = 100 * U
    spawn(
        sim,
        "projectile",
        position_x=[104 * U],
        position_y=[100 * U],
        owner_netid=[1],
        damage_amount=[30],
    )
    hits = []
    for _ in range(2):
        hits += [f for name, f in sim.step().events if name == "hit"]
    assert len(hits) == 1
    assert hits[0]["target"].tolist() == [2]
    assert hits[0]["by"].tolist() == [1]
    assert hits[0]["damage"].tolist() == [30]
    assert col(sim, "health.hp") == [100, 70, 100]
    assert col(sim, "health.last_by") == [0, 1, 0]
    assert sim.world.count == 3


def test_death_then_respawn_after_the_delay(build: Builder, spawn: Spawn) -> None:
    """hp <= 0 -> died (by = last_by), frozen, respawned with max hp after 1 s (20 ticks)."""
    sim = shooter_sim(build)
    spawn(sim, "player", position_x=[100 * U, 500 * U], position_y=[100 * U] * 2)
    first = sim.step()
    assert [f["target"].tolist() for n, f in first.events if n == "respawned"] == [[1, 2]]
    sim.world.col("health.hp")[1] = -5
    sim.world.col("health.last_by")[1] = 1
    sim.world.col("velocity.x")[1] = 999
    died = [f for n, f in sim.step().events if n == "died"]
    assert [(f["target"].tolist(), f["by"].tolist()) for f in died] == [([2], [1])]
    assert col(sim, "velocity.x")[1] == 0
    respawned_at = None
    for _ in range(25):
        result = sim.step()
        if any(n == "respawned" for n, _ in result.events):
            respawned_at = sim.tick
    assert respawned_at == 2 + 20
    assert col(sim, "health.hp") == [100, 100]
    assert col(sim, "health.alive") == [1, 1]


def test_lifetime_despawns_after_n_ticks(build: Builder, spawn: Spawn) -> None:
    """A projectile with lifetime 40 is seen for 40 ticks."""
    sim = shooter_sim(build)
    spawn(sim, "projectile", position_x=[10 * U], position_y=[10 * U])
    seen = 0
    for _ in range(50):
        sim.step()
        seen += sim.world.count
    assert seen == 40


def test_despawn_outside_removes_only_the_chosen_component(build: Builder, spawn: Spawn) -> None:
    """Outside entities with ``lifetime`` go; a player outside stays (bounce's job)."""
    sim = build(
        COMPONENTS,
        ARCHETYPES,
        [("validate", "despawn_outside", {"component": "lifetime", "margin_units": 1.0})],
    )
    spawn(sim, "projectile", position_x=[-2 * U, 500 * U, 1000 * U + 10], position_y=[5 * U] * 3)
    spawn(sim, "player", position_x=[-50 * U], position_y=[5 * U])
    sim.step()
    sim.step()
    assert sim.world.col("kind").tolist() == [1, 1, 0]
    assert np.array_equal(sim.world.col("position.x")[:2], [500 * U, 1000 * U + 10])
