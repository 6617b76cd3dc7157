"""The lockstep conformance kit: checkpoints, frames and the checksum after every frame.

``python -m server.lockstep_vectors OUT`` writes the file docs/lockstep.md §11
describes. Every case is produced by a real lockstep :class:`~server.match.match.Match`
(the server's own collector and replica), so the frames are byte for byte what a client
receives; a second implementation that restores each checkpoint, applies each frame and
matches each checksum agrees with the server.

The cases are deterministic: the same code writes the same file.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

from server.gamedef import GameDefinition, parse_definition
from server.match.handler import LeaveReason
from server.match.match import Match, Seat

FORMAT = "tickwire-lockstep-vectors"
VERSION = 1
GAMES = Path(__file__).resolve().parent.parent / "data" / "games"
ARENA = GAMES / "arena.toml"
RTS = GAMES / "rts.toml"


@dataclass(frozen=True, slots=True)
class Plan:
    """One case: a definition, how it is driven, where the checkpoint is taken."""

    name: str
    about: str
    definition: GameDefinition
    checkpoint_after: int
    frames: int
    seed: int
    joins: dict[int, int]
    """frame -> how many players join before it is built."""
    leaves: dict[int, int]
    """frame -> how many players (oldest first) leave before it is built."""
    rejoin_at: tuple[int, ...] = ()
    """Frames before which the oldest player leaves and a new one joins (same seat)."""
    send_probability: float = 0.3
    tweak: Callable[[Match, np.random.Generator], None] | None = None
    """Edits the world just before the checkpoint (radii, extreme velocities)."""
    orders: Callable[[np.random.Generator], tuple[int, ...]] | None = None
    """A game with ``[input]``: one input's values (``definition.inputs`` order)."""


def lockstep_arena(edit: Callable[[dict[str, Any]], None] | None = None) -> GameDefinition:
    """The shipped arena in lockstep mode, optionally edited as raw TOML data first."""
    data = tomllib.loads(ARENA.read_text())
    data["sync"]["mode"] = "lockstep"
    if edit is not None:
        edit(data)
    return parse_definition(data, f"{ARENA} (lockstep vectors)")


def lockstep_rts(edit: Callable[[dict[str, Any]], None] | None = None) -> GameDefinition:
    """The shipped rts (lockstep already), optionally edited as raw TOML data first."""
    data = tomllib.loads(RTS.read_text())
    if edit is not None:
        edit(data)
    return parse_definition(data, f"{RTS} (lockstep vectors)")


def _rts_orders(rng: np.random.Generator) -> tuple[int, int]:
    """Mostly near the central zone (captures, crowding), some at the edges, some (0, 0)."""
    roll = rng.random()
    if roll < 0.6:
        return int(rng.integers(185, 216)), int(rng.integers(185, 216))
    if roll < 0.9:
        return int(rng.choice([0, 1, 399, 400])), int(rng.integers(0, 401))
    return 0, 0


def _rts_rules(data: dict[str, Any]) -> None:
    """A small 30 Hz world, a round clock with resets and repositioning, all zone modes."""
    data["game"].update(tick_rate_hz=30, seed=5)
    data["world"].update(width_units=60.0, height_units=45.5, subunits_per_unit=100)
    data["sync"]["snapshot_rate_hz"] = 30
    data["components"]["round"] = {"number": "uint16", "live": "bool", "left_s": "uint16"}
    data["components"]["zone"] = {"inside": "uint32"}
    data["archetypes"]["player"]["components"].append("round")
    data["archetypes"]["unit"]["components"].append("zone")
    data["input"]["target_x"]["max"] = 60
    data["input"]["target_y"]["max"] = 45
    data["spatial"]["cell_size_units"] = 5.0
    steps = {p["system"]: p for p in data["pipeline"]}
    steps["spawn_squad"]["params"].update(count=5, spread_units=4.5)
    steps["follow_owner"]["params"].update(speed_units_per_s=55.5, arrive_units=1.3)
    steps["separate"]["params"].update(radius_units=3.7, strength=0.251953125)  # 64.5: a tie
    steps["zones"]["params"].update(x_units=30.0, y_units=22.0, radius_units=6.5, every_s=0.25)
    steps["round_timer"]["params"] = {
        "round_s": 2.0,
        "warmup_s": 0.5,
        "rounds": 0,
        "score_field": "score.points",
        "reset": ["score.points"],
        "reposition": True,
    }
    at = data["pipeline"].index(steps["zones"])
    data["pipeline"][at + 1 : at + 1] = [
        {
            "phase": "post_update",
            "system": "zones",
            "params": {
                "id": 3,
                "mode": "event",
                "x_units": 15.0,
                "y_units": 30.0,
                "width_units": 20.0,
                "height_units": 9.0,
                "who": "owner",
            },
        },
        {
            "phase": "post_update",
            "system": "zones",
            "params": {
                "id": 1,
                "mode": "score",
                "x_units": 45.0,
                "y_units": 10.0,
                "radius_units": 8.0,
                "who": "owner",
                "credit_field": "owner.netid",
                "every_s": 0.1,
                "points": -1,
            },
        },
    ]


def _rts_rule_orders(rng: np.random.Generator) -> tuple[int, int]:
    return int(rng.integers(0, 61)), int(rng.integers(0, 46))


def _rts_radii(match: Match, rng: np.random.Generator) -> None:
    radius = match.sim.world.col("collider.radius")
    radius[:] = rng.integers(0, 600, len(radius)).astype(np.int32) * (rng.random(len(radius)) < 0.5)


def _crowded(data: dict[str, Any]) -> None:
    data["world"].update(width_units=120.0, height_units=120.0)
    data["spawns"][0].update(count=400, speed_units_per_s=60.0)
    data["game"]["max_players"] = 16
    data["spatial"]["cell_size_units"] = 20.0


def _fast(data: dict[str, Any]) -> None:
    data["game"].update(tick_rate_hz=30, max_players=8, seed=77)
    data["world"].update(width_units=200.0, height_units=90.5)
    data["spawns"][0].update(count=300, speed_units_per_s=700.0)
    data["sync"]["snapshot_rate_hz"] = 30
    data["lockstep"]["default_input"] = "zero"
    data["pipeline"][0]["params"] = {"speed_units_per_s": 333.3}
    data["pipeline"][3]["params"] = {"radius_units": 1.7}
    data["spatial"]["cell_size_units"] = 25.0


def _radii_and_extremes(match: Match, rng: np.random.Generator) -> None:
    world = match.sim.world
    n = world.count
    radius = world.col("collider.radius")
    radius[:] = rng.integers(0, 1024, n).astype(np.int32) * (rng.random(n) < 0.5)
    vx, vy = world.col("velocity.x"), world.col("velocity.y")
    fast = rng.random(n) < 0.1
    vx[fast] = rng.integers(-(1 << 24), 1 << 24, int(fast.sum())).astype(np.int32)
    vy[fast] = rng.integers(-(1 << 24), 1 << 24, int(fast.sum())).astype(np.int32)
    vx[:8] = -7  # floor(-7 / 30) = -1, not 0
    vy[:8] = -31


def plans() -> list[Plan]:
    """The shipped cases (docs/lockstep.md §11)."""
    return [
        Plan(
            "arena",
            "the arena as shipped (1000 NPCs), four players, inputs changing",
            lockstep_arena(),
            checkpoint_after=3,
            frames=40,
            seed=1,
            joins={1: 2, 2: 1, 10: 1},
            leaves={25: 1},
        ),
        Plan(
            "crowded",
            "400 NPCs in 120x120 units: collisions and bounces every frame; joins, leaves,"
            " a seat left and re-joined in one frame",
            lockstep_arena(_crowded),
            checkpoint_after=5,
            frames=200,
            seed=2,
            joins={1: 3, 4: 1, 30: 2, 90: 3, 150: 1},
            leaves={60: 2, 120: 1, 170: 2},
            rejoin_at=(75, 140),
        ),
        Plan(
            "radii_and_speed",
            "30 Hz, a 200x90.5 world, mixed collider radii, velocities up to 2**24"
            " subunits/s, negative velocities not divisible by the rate, default_input zero",
            lockstep_arena(_fast),
            checkpoint_after=2,
            frames=150,
            seed=3,
            joins={1: 2, 50: 2},
            leaves={100: 1},
            rejoin_at=(120,),
            send_probability=0.5,
            tweak=_radii_and_extremes,
        ),
        Plan(
            "rts",
            "the rts as shipped: squads spawned, rallied, steered, separated; the central"
            " zone captured; joins, leaves (orphaned units despawned) and a re-join",
            lockstep_rts(),
            checkpoint_after=4,
            frames=260,
            seed=4,
            joins={1: 3, 3: 1, 40: 2, 150: 2},
            leaves={90: 2, 200: 1},
            rejoin_at=(120,),
            send_probability=0.15,
            orders=_rts_orders,
        ),
        Plan(
            "rts_rules",
            "the rts in a 60x45.5 world at 30 Hz, 100 subunits per unit: mixed radii, round"
            " clock with warm-up, score resets and random repositions, event, score (negative"
            " points, clipped at 0) and capture zones",
            lockstep_rts(_rts_rules),
            checkpoint_after=3,
            frames=240,
            seed=6,
            joins={1: 4, 20: 2, 130: 1},
            leaves={70: 1, 180: 2},
            rejoin_at=(100,),
            send_probability=0.2,
            tweak=_rts_radii,
            orders=_rts_rule_orders,
        ),
    ]


def _decode(payload: bytes) -> dict[str, Any]:
    _, _, body = msgpack.unpackb(payload, raw=False)
    result: dict[str, Any] = body
    return result


def run_plan(plan: Plan) -> dict[str, Any]:
    """Drive one real lockstep match and record the case."""
    match = Match(plan.definition, f"vectors-{plan.name}")
    rng = np.random.default_rng(plan.seed)
    seated: list[Seat] = []
    next_player = 1
    delay = plan.definition.lockstep.input_delay_ticks
    checkpoint: dict[str, Any] | None = None
    frames: list[dict[str, Any]] = []
    checksums: list[int] = []
    for frame in range(1, plan.checkpoint_after + plan.frames + 1):
        for _ in range(plan.leaves.get(frame, 0)):
            if seated:
                match.leave(seated.pop(0), LeaveReason.CONSENTED)
        if frame in plan.rejoin_at and seated:
            match.leave(seated.pop(0), LeaveReason.CONSENTED)
            seated.append(match.join(next_player, object()))
            next_player += 1
        for _ in range(plan.joins.get(frame, 0)):
            seated.append(match.join(next_player, object()))
            next_player += 1
        for seat in seated:
            if rng.random() < plan.send_probability:
                if plan.orders is not None:
                    values = plan.orders(rng)
                    target = match.sim.tick + int(rng.integers(1, delay + 2))
                    match.receive_fields(seat, target, values)
                    continue
                qx, qy = (int(v) for v in rng.integers(-127, 128, 2))
                target = match.sim.tick + int(rng.integers(1, delay + 2))
                match.receive_input(seat, target, qx / 127, qy / 127)
        out = match.tick()
        assert out.broadcast is not None
        if checkpoint is not None:
            frames.append(_decode(out.broadcast[1]))
            checksums.append(match.sim.checksum())
        if frame == plan.checkpoint_after:
            if plan.tweak is not None:
                plan.tweak(match, rng)
            checkpoint = match.lockstep_checkpoint()
    assert checkpoint is not None
    return {
        "name": plan.name,
        "about": plan.about,
        "checkpoint": checkpoint,
        "frames": frames,
        "checksums": np.asarray(checksums, dtype="<u8").tobytes(),
    }


def build_vectors(selected: list[Plan] | None = None) -> dict[str, Any]:
    """The whole kit as a msgpack-ready map."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "cases": [run_plan(p) for p in (selected if selected is not None else plans())],
    }


def write_vectors(path: Path, selected: list[Plan] | None = None) -> int:
    """Write the kit to ``path``; returns the number of bytes written."""
    data: bytes = msgpack.packb(build_vectors(selected), use_bin_type=True)
    path.write_bytes(data)
    return len(data)


def main(argv: list[str] | None = None) -> int:
    """``python -m server.lockstep_vectors OUT``."""
    parser = argparse.ArgumentParser(
        prog="python -m server.lockstep_vectors",
        description="Write the lockstep conformance vectors (docs/lockstep.md §11).",
    )
    parser.add_argument("out", type=Path, help="the msgpack file to write")
    args = parser.parse_args(argv)
    try:
        size = write_vectors(args.out)
    except OSError as exc:
        print(f"lockstep_vectors: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({size} bytes, {len(plans())} cases)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
