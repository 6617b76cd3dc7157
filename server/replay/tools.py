"""What the replay tool computes besides ``verify``: info, bisect, export, tick-rate re-runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.core.frame import InputBatch
from server.core.simulation import Simulation
from server.core.world import World, import_world
from server.gamedef import GameDefinition
from server.replay.format import ReplayError
from server.replay.replayer import Recording, Resim, tick_batch, ticks


def info(rec: Recording) -> dict[str, Any]:
    """Header facts, duration, players, checkpoints, and how the file ends."""
    h = rec.header
    last_tick = max(
        (int(r.body["t"]) for r in rec.records if r.kind in ("tick", "frame")), default=0
    )
    joins = [r.body for r in rec.records if r.kind == "join"]
    end = rec.ended
    return {
        "file": str(rec.path),
        "format_version": h["format_version"],
        "game": h["game"],
        "mode": h["mode"],
        "match_id": h["match_id"],
        "seed": h["seed"],
        "match_index": h["match_index"],
        "tick_rate_hz": h["tick_rate_hz"],
        "definition_sha256": h["definition_sha256"],
        "started_at": h["started_at"],
        "ticks": last_tick,
        "duration_s": last_tick / h["tick_rate_hz"],
        "players": sorted({int(j["player"]) for j in joins}),
        "joins": len(joins),
        "leaves": sum(1 for r in rec.records if r.kind == "leave"),
        "checkpoints": sum(1 for r in rec.records if r.kind == "checkpoint"),
        "records": len(rec.records),
        "ended": None if end is None else end.body["reason"],
        "complete": end is not None,
    }


def first_difference(a: World, b: World) -> tuple[str, int, int] | None:
    """``(column, slot, netid)`` of the first difference (name order, then slot), or None."""
    if a.count != b.count:
        slot = min(a.count, b.count)
        netid = int(a.netids[slot]) if slot < a.count else int(b.netids[slot])
        return "count", slot, netid
    for (name, ca), (_, cb) in zip(a.canonical_columns(), b.canonical_columns(), strict=True):
        if name == "entity":
            continue
        diff = np.flatnonzero(ca != cb)
        if len(diff):
            slot = int(diff[0])
            return name, slot, int(a.netids[slot])
    return None


def _world_of(definition: GameDefinition, state: dict[str, Any]) -> World:
    sim = Simulation(definition)
    import_world(sim.world, state["world"])
    return sim.world


def bisect_recordings(
    a: Recording, da: GameDefinition, b: Recording, db: GameDefinition
) -> str | None:
    """The first tick where two recordings' worlds differ, with the column and entity."""
    for (ra, sa), (_rb, sb) in zip(ticks(a, da), ticks(b, db), strict=False):
        if sa.sim.checksum() != sb.sim.checksum():
            diff = first_difference(sa.sim.world, sb.sim.world)
            assert diff is not None
            col, slot, netid = diff
            tick = int(ra.body["t"])
            return f"first divergent tick {tick}: column {col}, entity netid {netid} (slot {slot})"
    # The re-simulations agree: compare what each recording server saw at its checkpoints.
    cps_b = {int(r.body["t"]): r for r in b.records if r.kind == "checkpoint"}
    for r in a.records:
        other = cps_b.get(int(r.body.get("t", -1))) if r.kind == "checkpoint" else None
        if other is not None and other.body["checksum"] != r.body["checksum"]:
            wa = _world_of(da, r.body["sim"])
            wb = _world_of(db, other.body["sim"])
            diff = first_difference(wa, wb)
            where = (
                ""
                if diff is None
                else f": column {diff[0]}, entity netid {diff[2]} (slot {diff[1]})"
            )
            return (
                f"re-simulations agree, but the recorded checkpoints differ at tick "
                f"{r.body['t']}{where} (a recording server diverged from this code)"
            )
    return None


def read_checksum_log(path: Path) -> dict[int, int]:
    """A client's checksums: JSON lines or a JSON list of ``{frame, checksum}``."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        rows = (
            json.loads(text)
            if text.lstrip().startswith("[")
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
        return {int(r["frame"]): int(r["checksum"]) for r in rows}
    except (ValueError, KeyError, TypeError) as exc:
        raise ReplayError(f"{path}: not a checksum log of {{frame, checksum}}: {exc}") from None


def bisect_log(rec: Recording, definition: GameDefinition, log: dict[int, int]) -> str | None:
    """The first frame whose re-simulated checksum differs from the client's log."""
    for r, resim in ticks(rec, definition):
        frame = int(r.body["t"])
        if frame in log and log[frame] != resim.sim.checksum():
            return (
                f"first divergent frame {frame}: client {log[frame]:#018x}, "
                f"recording {resim.sim.checksum():#018x} (a checksum log names no column)"
            )
    return None


def positions(rec: Recording, definition: GameDefinition, every: int = 1) -> Iterator[NDArray[Any]]:
    """Rows ``(tick, netid, kind, x, y)`` (world units) every ``every`` ticks."""
    scale = float(definition.world.subunits_per_unit)
    for r, resim in ticks(rec, definition):
        tick = int(r.body["t"])
        if tick % every:
            continue
        w = resim.sim.world
        yield np.column_stack(
            (
                np.full(w.count, tick, dtype=np.float64),
                w.netids.astype(np.float64),
                w.col("kind").astype(np.float64),
                w.col("position.x") / scale,
                w.col("position.y") / scale,
            )
        )


def export(rec: Recording, definition: GameDefinition, out: Path, every: int = 1) -> int:
    """Write positions over time as CSV (``.csv``) or NPZ (``.npz``); returns the row count."""
    chunks = list(positions(rec, definition, every))
    rows = np.concatenate(chunks) if chunks else np.zeros((0, 5))
    if out.suffix == ".npz":
        np.savez_compressed(
            out,
            tick=rows[:, 0].astype(np.int64),
            netid=rows[:, 1].astype(np.int64),
            kind=rows[:, 2].astype(np.int64),
            x=rows[:, 3],
            y=rows[:, 4],
        )
    else:
        np.savetxt(out, rows, fmt=["%d", "%d", "%d", "%.5f", "%.5f"], delimiter=",",
                   header="tick,netid,kind,x,y", comments="")  # fmt: skip
    return len(rows)


def rerun_at_rate(rec: Recording, definition: GameDefinition, rate_hz: int) -> dict[str, Any]:
    """Re-run a state-sync match's inputs at ``rate_hz``; compare the outcome with the original.

    Input at original tick ``t`` lands on tick ``round(t * rate_hz / original rate)``
    (the latest wins when several land on one tick); joins and leaves keep their order.
    The outcome compared: every entity's final position (net ids are the same, since
    joins happen in the same order).
    """
    if rec.header["mode"] != "state":
        raise ReplayError(f"{rec.path}: --tick-rate re-runs state-sync matches only")
    old = int(rec.header["tick_rate_hz"])
    base = Resim(rec, definition)
    for r in rec.records[1:]:
        base.apply(r)
    fast = replace(definition, tick_rate_hz=rate_hz)
    other = Resim(rec, fast)
    pending: InputBatch | None = None
    for r in rec.records[1:]:
        if r.kind in ("join", "leave"):
            other.apply(r)
        elif r.kind == "tick":
            target = round(int(r.body["t"]) * rate_hz / old)
            if "e" in r.body:
                pending = tick_batch(r.body)
            while other.sim.tick < target:
                other.sim.step(pending)
                pending = None
    wa, wb = base.sim.world, other.sim.world
    common, ia, ib = np.intersect1d(wa.netids, wb.netids, return_indices=True)
    scale = float(definition.world.subunits_per_unit)
    dx = (wa.col("position.x")[ia].astype(np.int64) - wb.col("position.x")[ib]) / scale
    dy = (wa.col("position.y")[ia].astype(np.int64) - wb.col("position.y")[ib]) / scale
    dist = np.hypot(dx, dy)
    return {
        "original_hz": old,
        "rerun_hz": rate_hz,
        "ticks": [base.sim.tick, other.sim.tick],
        "entities": [wa.count, wb.count],
        "compared": len(common),
        "mean_displacement_units": float(dist.mean()) if len(dist) else 0.0,
        "max_displacement_units": float(dist.max()) if len(dist) else 0.0,
        "identical": base.sim.checksum() == other.sim.checksum(),
    }
