"""Whole-match views of a batch built in one pass: the same frames as each match alone."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import server.core.batch.frames as whole_views
import server.core.batch.steady_frames as steady_frames
import server.match.batch_frames as batch_frames
from server.core.batch.stepper import step_batch
from server.core.entity import EntityId
from server.core.sync.cells import eps_units
from server.core.sync.state import InterestSync
from server.core.sync.steady import LastBuild
from server.gamedef import GameDefinition
from server.match.handler import LeaveReason
from server.match.match import Match, Seat, TickOutput
from server.net.codec import decode_server_message
from server.net.protocol import MessageType


@pytest.fixture
def small_world(small_arena: GameDefinition) -> GameDefinition:
    """The small arena in a 100 x 100 world seen through a radius of 150: whole views."""
    world = replace(small_arena.world, width_units=100.0, height_units=100.0)
    sync = replace(small_arena.sync, interest_radius_units=150.0)
    return replace(small_arena, world=world, sync=sync)


class Pair:
    """A match run alone and its twin run in the batch, fed the same inputs."""

    def __init__(self, defn: GameDefinition, index: int, players: int) -> None:
        self.alone = Match(defn, f"m{index}", index)
        self.batched = Match(defn, f"m{index}", index)
        self.conns: dict[int, tuple[object, object]] = {}
        for _ in range(players):
            self.join()
        self.alone.start()
        self.batched.start()

    def join(self) -> None:
        pid = len(self.conns) + 1
        conns = (object(), object())
        self.conns[pid] = conns
        self.alone.join(pid, conns[0])
        self.batched.join(pid, conns[1])

    def seats(self, m: Match) -> list[Seat]:
        return [s for s in m.seats if s is not None]

    def inputs(self, rng: np.random.Generator) -> None:
        sticks = rng.uniform(-1, 1, (len(self.seats(self.alone)), 2)).tolist()
        for m in (self.alone, self.batched):
            for seat, (x, y) in zip(self.seats(m), sticks, strict=True):
                m.receive_input(seat, m.tick_count + 1, x, y)

    def leave(self, k: int) -> None:
        for m in (self.alone, self.batched):
            m.leave(self.seats(m)[k], LeaveReason.CONSENTED)

    def despawn_npc(self, k: int) -> None:
        for m in (self.alone, self.batched):
            eid = int(m.sim.world.col("entity")[-1 - k])
            m.sim.queue_despawn(EntityId(eid))


def _frames(out: TickOutput, seat_of: Callable[[object], int]) -> list[tuple[int, bytes]]:
    return [(seat_of(conn), frame) for conn, frame in out.frames]


def _seat_of(m: Match) -> Callable[[object], int]:
    by_conn = {id(s.conn): s.seat for s in m.by_player.values()}
    return lambda conn: by_conn[id(conn)]


def _state(m: Match) -> tuple[Any, ...]:
    sync = m.interest
    last = sync._last
    assert last is not None
    arrays = (last.x, last.y, last.q, last.netid, last.vx, last.vy)
    return (
        tuple(a.tobytes() for a in arrays),
        last.box,
        sync._implicit.tobytes(),
        sync.explicit.handle_netid.tobytes(),
        sync.explicit.sent_q.tobytes(),
        sync.last_stats,
    )


def test_whole_views_in_one_pass_equal_each_match_alone(
    small_world: GameDefinition, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Matches of different sizes (one with net ids past 65535: 4-byte ids), players
    joining (a full snapshot: built alone that tick), leaving, NPCs dying or jumping and a
    slow reader: every tick the same frames, byte for byte, and the same interest state as
    each match built alone; most match-ticks go through the one-pass build, and the
    ticks where nothing but positions changed through its steady shortcut."""
    passed = [0]
    steady = [0]
    real = batch_frames.build_whole_views
    real_steady = whole_views.build_steady

    def counted(*args: Any) -> list[list[bytes] | None]:
        got = real(*args)
        passed[0] += sum(f is not None for f in got)
        return got

    def counted_steady(*args: Any) -> list[list[bytes]] | None:
        got = real_steady(*args)
        steady[0] += got is not None
        return got

    monkeypatch.setattr(batch_frames, "build_whole_views", counted)
    monkeypatch.setattr(whole_views, "build_steady", counted_steady)
    pairs = [Pair(small_world, i, p) for i, p in ((1, 3), (2, 8), (3, 1), (4, 5))]
    for m in (pairs[2].alone, pairs[2].batched):
        m.sim.world._next_netid = 70_000  # the player spawns past 65535
    rng = np.random.default_rng(5)
    slow: set[object] = set()

    def writable(conn: object) -> bool:
        return conn not in slow

    ticks = 30
    for t in range(ticks):
        for p in pairs:
            p.inputs(rng)
        if t == 4:
            pairs[1].join()
        if t == 7:
            pairs[1].leave(2)
        if t in (9, 10):
            pairs[0].despawn_npc(t)
            pairs[3].despawn_npc(0)
        if t == 12:
            slow.update(pairs[3].conns[2])
        if t == 15:
            slow.clear()
        if t == 20:
            pairs.append(Pair(small_world, 9, 2))  # a match joins the batch
        if t in (24, 26):  # an NPC jumps (absolute rows) on a steady tick
            for m in (pairs[1].alone, pairs[1].batched, pairs[2].alone, pairs[2].batched):
                m.sim.world.col("position.x")[-1] = (t - 20) * 10 * 256

        alone = [p.alone.tick(writable) for p in pairs]
        ms = [p.batched for p in pairs]
        inputs = [m.take_inputs() for m in ms]
        results = step_batch([m.sim for m in ms], inputs)
        outs = batch_frames.finish_batch(ms, inputs, results, writable)
        for p, a, b in zip(pairs, alone, outs, strict=True):
            assert isinstance(b, TickOutput)
            assert _frames(b, _seat_of(p.batched)) == _frames(a, _seat_of(p.alone)), (t, p)
            assert p.batched.sim.checksum() == p.alone.sim.checksum()
            assert _state(p.batched) == _state(p.alone), (t, p.alone.match_id)
            assert b.skipped_slow == a.skipped_slow
    assert passed[0] > 0.8 * ticks * 4
    assert steady[0] >= 15


def test_mirrors_of_batched_whole_views_equal_the_worlds(small_world: GameDefinition) -> None:
    """A client mirror fed only a batched match's frames holds exactly that match's
    entities (net id -> quantized position), tick by tick, through deaths and a join."""
    ms = []
    for i, players in enumerate((2, 4, 6), start=1):
        m = Match(small_world, f"b{i}", i)
        for p in range(players):
            m.join(10 * i + p, object())
        m.start()
        ms.append(m)
    mirrors: list[dict[int, int]] = [{} for _ in ms]
    rng = np.random.default_rng(2)
    for t in range(20):
        for m in ms:
            for seat in [s for s in m.seats if s is not None]:
                x, y = rng.uniform(-1, 1, 2).tolist()
                m.receive_input(seat, m.tick_count + 1, x, y)
        if t == 6:
            ms[1].sim.queue_despawn(EntityId(int(ms[1].sim.world.col("entity")[-1])))
        if t == 8:
            ms[2].join(999, object())
        inputs = [m.take_inputs() for m in ms]
        results = step_batch([m.sim for m in ms], inputs)
        outs = batch_frames.finish_batch(ms, inputs, results)
        for m, out, mirror in zip(ms, outs, mirrors, strict=True):
            assert isinstance(out, TickOutput)
            first = min(m.by_player.values(), key=lambda s: s.seat)
            frame = next(f for c, f in out.frames if c is first.conn)
            kind, body = decode_server_message(frame)
            assert kind is MessageType.STATE
            _apply(mirror, body)
            world = m.sim.world
            q = m.quantizer.packed(world).tolist()
            assert mirror == dict(zip(world.netids.tolist(), q, strict=True)), (t, m.match_id)


def _apply(mirror: dict[int, int], body: dict[str, Any]) -> None:
    """docs/protocol.md STATE: entered, changed (steps or absolute), left."""
    dtype = "<u2" if body["w"] == 2 else "<u4"
    if body["f"]:
        mirror.clear()
    e = np.frombuffer(body["e"], dtype=dtype).tolist()
    p = np.frombuffer(body["p"], dtype="<u4").tolist()
    mirror.update(zip(e, p, strict=True))
    c = np.frombuffer(body["c"], dtype=dtype).tolist()
    d = np.frombuffer(body["d"], dtype=np.int8).reshape(-1, 2).tolist()
    for netid, (dx, dy) in zip(c, d, strict=True):
        old = mirror[netid]
        mirror[netid] = ((old & 0xFFFF) + dx) | (((old >> 16) + dy) << 16)
    m = np.frombuffer(body["m"], dtype=dtype).tolist()
    mirror.update(zip(m, np.frombuffer(body["q"], dtype="<u4").tolist(), strict=True))
    for netid in np.frombuffer(body["l"], dtype=dtype).tolist():
        del mirror[netid]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=4),
            st.tuples(st.floats(-5, 40), st.floats(-5, 40), st.floats(0, 120), st.floats(0, 120)),
            st.tuples(st.floats(-5, 40), st.floats(-5, 40), st.floats(0, 120), st.floats(0, 120)),
            st.sampled_from([0.6, 0.9, 1 - 1e-13, 1.0, 1 + 1e-13, 1.1, 1.5]),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_the_steady_view_test_is_the_general_passs(matches: list[Any]) -> None:
    """The steady shortcut's whole-view test (boxes' diagonals against the bound, in whole
    arrays, the exact rule where that is not sure) decides as the general pass's rule
    (per match ``eps_units`` and ``**`` in Python floats, every viewer's corner test),
    radii near the diagonal included."""
    ms, refs, bx, lb, vx, vy, pvx, pvy, seat_m = [], [], [], [], [], [], [], [], []
    for j, (viewers, (x0, y0, w, h), (lx0, ly0, lw, lh), factor) in enumerate(matches):
        box = (x0, y0, x0 + w, y0 + h)
        last = (lx0, ly0, lx0 + lw, ly0 + lh)
        radius = math.hypot(max(w, lw), max(h, lh)) * factor + 1e-9
        for v in viewers:  # viewers are entities of their match: inside both boxes
            vx.append(box[0] + v[0] * w)
            vy.append(box[1] + v[1] * h)
            pvx.append(last[0] + v[0] * lw)
            pvy.append(last[1] + v[1] * lh)
            seat_m.append(j)
        for group in (ms, refs):
            sync = InterestSync(radius)
            sync._last = LastBuild(*(np.zeros(0),) * 6, last)  # type: ignore[arg-type]
            group.append(SimpleNamespace(interest=sync, seats=list(range(len(viewers)))))
        bx.append(box)
        lb.append(last)
    seats = np.array(seat_m, dtype=np.int64)
    views = SimpleNamespace(
        bx=np.array(lb), seat_m=seats, nvx=np.array(pvx), nvy=np.array(pvy),
        seat_at=np.arange(len(seats)),
    )  # fmt: skip
    boxes = [tuple(b) for b in bx]
    got = steady_frames._views_whole(
        ms,
        views,
        np.array(bx),
        boxes,
        np.array(vx),
        np.array(vy),  # type: ignore[arg-type]
    )
    ok = True
    for j, r in enumerate(refs):  # frames._build's rule, as written there
        sync = r.interest
        radius = sync.radius_units
        lim = (radius - eps_units(boxes[j])) ** 2
        if sync._small(len(r.seats)) and not sync._whole_world(radius, boxes[j]):
            ok = False
        for k in np.flatnonzero(seats == j).tolist():
            for b, x, y in ((bx[j], vx[k], vy[k]), (lb[j], pvx[k], pvy[k])):
                fx = max(abs(x - b[0]), abs(x - b[2]))
                fy = max(abs(y - b[1]), abs(y - b[3]))
                ok &= fx * fx + fy * fy <= lim
    assert got == ok


@settings(max_examples=6, deadline=None)
@given(
    st.lists(st.integers(1, 6), min_size=2, max_size=4),
    st.sampled_from([0, 3, 40]),
    st.integers(0, 2**32 - 1),
)
def test_random_batches_build_the_frames_of_each_match_alone(
    small_arena: GameDefinition, players: list[int], npcs: int, seed: int
) -> None:
    """Random layouts (matches, players, NPCs) and random joins, leaves, deaths and jumps
    on random ticks: the batch pass (general and steady) gives every match the frames
    and interest state it gets alone, tick by tick."""
    world = replace(small_arena.world, width_units=100.0, height_units=100.0)
    sync = replace(small_arena.sync, interest_radius_units=150.0)
    defn = replace(
        small_arena, world=world, sync=sync, spawns=(replace(small_arena.spawns[0], count=npcs),)
    )
    pairs = [Pair(defn, i + 1, p) for i, p in enumerate(players)]
    rng = np.random.default_rng(seed)
    for t in range(12):
        for p in pairs:
            p.inputs(rng)
        p = pairs[int(rng.integers(len(pairs)))]
        event = rng.integers(8)
        if event == 0:
            p.join()
        elif event == 1 and len(p.seats(p.alone)) > 1:
            p.leave(int(rng.integers(len(p.seats(p.alone)))))
        elif event == 2 and p.alone.sim.world.count > len(p.seats(p.alone)):
            p.despawn_npc(0)
        elif event == 3 and p.alone.sim.world.count:
            y = int(rng.integers(0, 100 * 256))
            for m in (p.alone, p.batched):
                m.sim.world.col("position.y")[0] = y
        alone = [p.alone.tick() for p in pairs]
        ms = [p.batched for p in pairs]
        inputs = [m.take_inputs() for m in ms]
        outs = batch_frames.finish_batch(ms, inputs, step_batch([m.sim for m in ms], inputs))
        for p, a, b in zip(pairs, alone, outs, strict=True):
            assert isinstance(b, TickOutput)
            assert _frames(b, _seat_of(p.batched)) == _frames(a, _seat_of(p.alone)), (t, p)
            assert _state(p.batched) == _state(p.alone), (t, p.alone.match_id)
