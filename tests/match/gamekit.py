"""A small test game using every issue-13 feature, and a decoder for its STATE frames."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from server.core.systems.registry import ParamSpec, TickContext, system
from server.core.world import World
from server.gamedef import GameDefinition, parse_definition

ROOT = Path(__file__).resolve().parent.parent.parent
with (ROOT / "data" / "games" / "arena.toml").open("rb") as _fh:
    ARENA: dict[str, Any] = tomllib.load(_fh)


@system(
    "t13_rules",
    requires=("health", "score"),
    params={
        "end_tick": ParamSpec(int, 0, 0, 10_000, "tick that ends the match (0: never)"),
        "raise_tick": ParamSpec(int, 0, 0, 10_000, "tick at which to raise (0: never)"),
    },
    phases=("post_update",),
)
def t13_rules(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Test rules: fire scores, hp follows the tick, events every tick, end on a tick."""
    if params["raise_tick"] and ctx.tick == params["raise_tick"]:
        raise RuntimeError("plug-in failure")
    m = world.mask("health", "score", "input")
    fire = (world.col("input.buttons")[m] & 1) != 0
    pts = world.col("score.points")
    pts[np.flatnonzero(m)[fire]] += 1
    world.col("health.hp")[m] = 100 - (ctx.tick // 4) % 50
    world.col("ammo.n")[m] = world.col("input.buttons")[m] & 0xFF
    ids = world.netids[m].astype(np.int64)
    ctx.emit("ping", n=ctx.tick)
    if len(ids):
        ctx.emit("hit", target=ids, damage=ctx.tick % 200)
        ctx.emit("mine", owner=ids, left=3)
        ctx.emit("internal", x=1)
    if params["end_tick"] and ctx.tick == params["end_tick"]:
        best = int(np.argmax(pts[m])) if len(ids) else -1
        ctx.end("match", "score_limit", int(ids[best]) if best >= 0 else None)


@system("t13_shots", requires=("life",), phases=("post_update",))
def t13_shots(world: World, ctx: TickContext, params: Mapping[str, Any]) -> None:
    """Every 4th tick one shot at the world's centre; shots live 3 ticks."""
    m = world.mask("life")
    world.col("life.ticks")[m] += 1
    old = np.flatnonzero(m & (world.col("life.ticks") > 3))
    if len(old):
        ctx.commands.despawn(world.col("entity")[old])
    if ctx.tick % 4 == 0:
        ctx.commands.spawn("shot", {"position.x": 500 * 256, "position.y": 500 * 256})


def game_data(mode: str = "state", end_tick: int = 0, raise_tick: int = 0) -> dict[str, Any]:
    """Arena plus inputs, replicated fields, events, rules (a parsed-TOML dict)."""
    d = copy.deepcopy(ARENA)
    d["game"]["max_players"] = 8
    d["spawns"][0]["count"] = 6
    d["components"]["input"] = {"x": "int8", "y": "int8", "buttons": "uint16", "aim": "uint16"}
    d["components"]["health"] = {"hp": "uint8"}
    d["components"]["score"] = {"points": "int32"}
    d["components"]["ammo"] = {"n": "uint8"}
    d["archetypes"]["player"]["components"] += ["health", "score", "ammo"]
    d["components"]["life"] = {"ticks": "int32"}
    d["archetypes"]["shot"] = {"components": ["position", "velocity", "life"]}
    d["input"] = {
        "x": {"type": "stick"},
        "y": {"type": "stick"},
        "buttons": {"type": "buttons", "bits": ["fire", "dash"]},
        "aim": {"type": "angle"},
    }
    d["pipeline"].append(
        {
            "phase": "post_update",
            "system": "t13_rules",
            "params": {"end_tick": end_tick, "raise_tick": raise_tick},
        }
    )
    d["pipeline"].append({"phase": "post_update", "system": "t13_shots"})
    d["sync"]["mode"] = mode
    d["sync"]["replicate"] = {
        "health.hp": {},
        "score.points": {"wire": "uint16"},
        "ammo.n": {"to": "owner"},
    }
    d["events"] = {
        "ping": {"audience": "all", "fields": {"n": "uint32"}},
        "hit": {
            "audience": "interest",
            "at": "target",
            "fields": {"target": "entity", "damage": "uint8"},
        },
        "mine": {"audience": "owner", "fields": {"owner": "entity", "left": "uint8"}},
    }
    d["rules"] = {"score": "score.points", "result_fields": ["health.hp"]}
    return d


def game(mode: str = "state", end_tick: int = 0, raise_tick: int = 0) -> GameDefinition:
    """The test game, parsed."""
    return parse_definition(game_data(mode, end_tick, raise_tick), "t13.toml")


def fields_of(body: dict[str, Any], welcome_fields: list[str]) -> dict[str, dict[int, Any]]:
    """``STATE.r`` as {field name: {net id: value}}."""
    dt = "<u2" if body["w"] == 2 else "<u4"
    wire = {"uint8": "<u1", "uint16": "<u2", "int32": "<i4", "bool": "<u1"}
    out: dict[str, dict[int, Any]] = {}
    for fi, ids, vals in body.get("r", []):
        name, wtype = welcome_fields[fi].split(":")
        keys = np.frombuffer(ids, dt).tolist()
        out[name] = dict(zip(keys, np.frombuffer(vals, wire[wtype]).tolist(), strict=True))
    return out


def events_of(body: dict[str, Any], names: list[str]) -> list[tuple[str, list[list[int]]]]:
    """``STATE.v`` as [(event name, [column values...])] (every column uint8/uint32)."""
    out: list[tuple[str, list[list[int]]]] = []
    for ei, count, cols in body.get("v", []):
        values = []
        for col in cols:
            width = len(col) // count
            values.append(np.frombuffer(col, {1: "<u1", 4: "<u4"}[width]).tolist())
        out.append((names[ei], values))
    return out
