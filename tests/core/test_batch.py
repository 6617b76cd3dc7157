"""Batched stepping (server.core.batch): no pair crosses matches, and a match steps the
same bits alone or batched, whatever the other matches do."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.batch.plane import MatchPlaneIndex
from server.core.batch.stepper import can_batch, step_batch
from server.core.entity import EntityId
from server.core.pipeline import Pipeline, ScheduledSystem
from server.core.simulation import LockstepReplica, Simulation
from server.core.spatial.brute import BruteForceIndex
from server.core.spatial.pairs import grid_pairs, pairs_within, sweep_pairs
from server.core.systems.registry import SystemSpec, TickContext
from server.core.world import World
from server.errors import SystemFailed
from server.gamedef import GameDefinition, SystemStep, load_definition
from server.gamedef.load import override_sync_mode
from server.match.handler import LeaveReason
from server.match.match import Match, TickOutput
from server.net.codec import decode_server_message
from server.net.protocol import MessageType
from tests.conftest import ROOT

SCALE = 256.0

match_points = st.lists(
    st.lists(
        st.tuples(st.integers(-3000, 30000), st.integers(-3000, 30000)), min_size=0, max_size=25
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(match_points, st.floats(0.5, 60.0))
def test_plane_pairs_are_each_matchs_own_pairs(points: list[list[Any]], distance: float) -> None:
    """Against per-match brute force: the same pairs, none across matches (in or out of
    the world's bounds, empty and one-entity matches included)."""
    xs = np.array([p[0] for m in points for p in m], dtype=np.float64) / SCALE
    ys = np.array([p[1] for m in points for p in m], dtype=np.float64) / SCALE
    counts = np.array([len(m) for m in points], dtype=np.int64)
    a, b = MatchPlaneIndex(xs, ys, counts).candidate_pairs(distance)
    expected_a: list[int] = []
    expected_b: list[int] = []
    start = 0
    for n in counts.tolist():
        brute = BruteForceIndex()
        brute.rebuild(np.arange(n, dtype=np.int64), xs[start : start + n], ys[start : start + n])
        ba, bb = brute.candidate_pairs(distance)
        expected_a += (ba + start).tolist()
        expected_b += (bb + start).tolist()
        start += n
    got = sorted(zip(a.tolist(), b.tolist(), strict=True))
    assert got == sorted(zip(expected_a, expected_b, strict=True))
    match_of = np.repeat(np.arange(len(counts)), counts)
    assert (match_of[a] == match_of[b]).all()


def _seated(defn: GameDefinition, match_id: str, index: int, players: int) -> Match:
    m = Match(defn, match_id, index)
    for p in range(players):
        m.join(index * 100 + p, object())
    m.start()
    return m


def _inputs(m: Match, tick: int, rng: np.random.Generator) -> None:
    for seat in [s for s in m.seats if s is not None]:
        x, y = rng.uniform(-1, 1, 2).tolist()
        m.receive_input(seat, tick, x, y)


def _frames(out: TickOutput) -> list[bytes]:
    return [frame for _, frame in out.frames]


def _batched_round(matches: list[Match]) -> list[TickOutput]:
    inputs = [m.take_inputs() for m in matches]
    results = step_batch([m.sim for m in matches], inputs)
    outs = []
    for m, batch, result in zip(matches, inputs, results, strict=True):
        assert not isinstance(result, SystemFailed)
        outs.append(m.finish_tick(batch, result))
    return outs


def test_a_match_steps_the_same_alone_or_batched(small_arena: GameDefinition) -> None:
    """One recorded input log, run alone and batched beside matches that join, leave and
    have other sizes: the same checksum every tick and the same frames, byte for byte."""
    assert can_batch(small_arena)
    ticks = 40
    log = np.random.default_rng(7)
    recorded = [log.uniform(-1, 1, (4, 2)).tolist() for _ in range(ticks)]

    def play(m: Match, tick: int) -> None:
        seats = [s for s in m.seats if s is not None]
        for seat, (x, y) in zip(seats, recorded[tick], strict=False):
            m.receive_input(seat, m.tick_count + 1, x, y)

    alone = _seated(small_arena, "m", 3, 4)
    alone_log = []
    for t in range(ticks):
        play(alone, t)
        out = alone.tick()
        alone_log.append((alone.sim.checksum(), _frames(out)))

    crowded = replace(small_arena, spawns=(replace(small_arena.spawns[0], count=90),))
    same = _seated(small_arena, "m", 3, 4)
    others = [_seated(small_arena, "o1", 1, 2), _seated(small_arena, "o2", 2, 8)]
    big = _seated(crowded, "o3", 4, 1)  # another definition: batched on its own
    rng = np.random.default_rng(1)
    for t in range(ticks):
        play(same, t)
        for o in others:
            _inputs(o, o.tick_count + 1, rng)
        if t == 3:  # an NPC of another match despawns
            others[0].sim.queue_despawn(EntityId(int(others[0].sim.world.col("entity")[0])))
        if t == 5:
            others[1].leave(
                next(s for s in others[1].seats if s is not None), LeaveReason.CONSENTED
            )
        if t == 9:
            others[0].join(999, object())
        if t == 12:
            others.append(_seated(small_arena, "late", 5, 3))  # joins the batch mid-run
        outs = _batched_round([others[0], same, *others[1:]])
        big.tick()
        assert (same.sim.checksum(), _frames(outs[1])) == alone_log[t], f"tick {t + 1}"
    assert others[1].players == 7
    assert others[0].players == 3
    assert others[0].sim.world.count == 50 - 1 + 3


def test_a_raising_batched_system_fails_only_its_match(small_arena: GameDefinition) -> None:
    """A batched system raises on one match's data: the batch is retried one match at a
    time, that match fails with its own SystemFailed, the others step as if alone."""

    def explode(world: World, ctx: TickContext, params: Any) -> None:
        if (world.col("position.x") == 4242).any():
            raise RuntimeError("bad data")

    spec = SystemSpec("explode_on", explode, (), {}, frozenset({"update"}), "", ())
    extra = ScheduledSystem(Pipeline.from_definition(small_arena).by_phase[2][0], spec, {})
    sims = [Simulation(small_arena, i) for i in range(3)]
    twins = [Simulation(small_arena, i) for i in range(3)]
    for s in sims + twins:
        s.spawn_initial()
        s.apply_commands()
        s.processor.rebuild_index()
        by_phase = list(s.processor.pipeline.by_phase)
        phase, systems = by_phase[2]
        by_phase[2] = (phase, (*systems, replace(extra, phase=phase)))
        s.processor.pipeline = Pipeline(tuple(by_phase))
    step_batch(sims, [None] * 3)
    for s in twins:
        s.step()
    sims[1].world.col("position.x")[0] = 4242 - sims[1].world.col("velocity.x")[0] // 20
    results = step_batch(sims, [None] * 3)
    assert isinstance(results[1], SystemFailed)
    assert results[1].system == "explode_on"
    for i in (0, 2):
        twins[i].step()
        assert not isinstance(results[i], SystemFailed)
        assert sims[i].checksum() == twins[i].checksum()


def test_batches_of_any_composition_over_time_step_as_alone(small_arena: GameDefinition) -> None:
    """Worlds stay stacked across ticks (their columns are views of the batch's arrays):
    batches that change from tick to tick (subsets, another order, some matches alone),
    spawns and despawns, and inputs naming dead ids give every match the checksum of a
    twin that always steps alone."""
    from server.core.batch.stack import stack_of
    from server.core.frame import InputBatch

    n = 5
    sims = [Simulation(small_arena, i) for i in range(n)]
    twins = [Simulation(small_arena, i) for i in range(n)]
    players: list[list[EntityId]] = [[] for _ in range(n)]
    for i in range(n):
        for s in (sims[i], twins[i]):
            s.spawn_initial()
        for _ in range(1 + i):
            e = sims[i].queue_player()
            assert twins[i].queue_player() == e
            players[i].append(e)
    rng = np.random.default_rng(11)
    reused = 0
    for t in range(40):
        inputs: list[InputBatch | None] = []
        for i in range(n):
            ids = [e for e in players[i] if rng.random() < 0.8]  # some seats send nothing
            sticks = rng.integers(-127, 128, (2, len(ids))).astype(np.int8)
            batch = InputBatch(np.array(ids, dtype=np.int64), sticks[0], sticks[1])
            inputs.append(batch if ids or rng.random() < 0.5 else None)
        if t in (6, 21):  # a player leaves; its id stays in the inputs (dead: skipped)
            for s in (sims[2], twins[2]):
                s.queue_despawn(players[2][0])
        if t in (9, 30):  # a player joins another match
            e = sims[4].queue_player()
            assert twins[4].queue_player() == e
            players[4].append(e)
        if t == 14:  # an NPC despawns
            npc = EntityId(int(sims[0].world.col("entity")[3]))
            for s in (sims[0], twins[0]):
                s.queue_despawn(npc)
        order = [int(i) for i in rng.permutation(n)] if t % 7 == 3 else list(range(n))
        batched = [i for i in order if t % 5 != 2 or i != 1]  # match 1 alone at times
        if t % 11 == 4:
            batched = batched[:2]
        before = stack_of([sims[i].world for i in batched])
        results = step_batch([sims[i] for i in batched], [inputs[i] for i in batched])
        reused += before is not None
        assert not any(isinstance(r, SystemFailed) for r in results)
        for i in set(range(n)) - set(batched):
            sims[i].step(inputs[i])
        for i in range(n):
            twins[i].step(inputs[i])
            assert sims[i].checksum() == twins[i].checksum(), (t, i, batched)
    assert reused > 10  # steady ticks reuse the stack


def test_which_definitions_batch(small_arena: GameDefinition) -> None:
    """The arena's systems batch; a definition with any other system steps per match."""
    assert can_batch(small_arena)
    faulty = replace(
        small_arena,
        pipeline=(*small_arena.pipeline, SystemStep("update", "fail_at_tick", (("tick", 3),))),
    )
    assert not can_batch(faulty)
    for game in ("shooter", "tag", "rts"):
        assert not can_batch(load_definition(ROOT / "data" / "games" / f"{game}.toml"))


def test_lockstep_replicas_batch_with_their_own_checksums(small_arena: GameDefinition) -> None:
    """The server's replicas of several lockstep matches step as one batch; each match's
    checksum equals a lone client replica's, fed only that match's frames."""
    defn = override_sync_mode(small_arena, "lockstep")
    assert can_batch(defn)
    matches = [Match(defn, f"l{i}", i) for i in range(1, 4)]
    lone = []
    for i, m in enumerate(matches, start=1):
        replica = LockstepReplica(Simulation(defn, i))
        replica.sim.spawn_initial()
        replica.sim.apply_commands()
        lone.append(replica)
        for p in range(2 + i):
            m.join(10 * i + p, object())
        m.start()
    rng = np.random.default_rng(3)
    for t in range(30):
        for m in matches:
            for seat in [s for s in m.seats if s is not None]:
                x, y = rng.uniform(-1, 1, 2).tolist()
                m.receive_input(seat, m.collector.next_frame, x, y)  # type: ignore[union-attr]
        if t == 10:
            first = next(s for s in matches[1].seats if s is not None)
            matches[1].leave(first, LeaveReason.CONSENTED)
        outs = _batched_round(matches)
        for m, out, replica in zip(matches, outs, lone, strict=True):
            assert out.broadcast is not None
            kind, body = decode_server_message(out.broadcast[1])
            assert kind is MessageType.LOCKSTEP_FRAME
            replica.apply_body(body)
            assert replica.sim.checksum() == m.sim.checksum(), (m.match_id, t)
    assert matches[0].sim.tick == 30
    assert len({m.sim.checksum() for m in matches}) == 3


@settings(max_examples=40, deadline=None)
@given(
    st.integers(256, 600),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["plane", "square", "one_row", "clumps"]),
    st.sampled_from([0.5, 4.0, 9.0]),
)
def test_pairs_with_the_cell_table_equal_brute_force(
    n: int, seed: int, layout: str, distance: float
) -> None:
    """From 256 points on, pairs_within looks cells up in a table (when there are at most
    16 cells per point) instead of binary searches; where points are sparse along x it
    sweeps instead: each way, and the one chosen, exactly brute force's pairs."""
    rng = np.random.default_rng(seed)
    if layout == "plane":  # many small matches side by side: wide and sparse
        xs = rng.integers(0, 256 * 2000, n) / SCALE
        ys = rng.integers(0, 256 * 40, n) / SCALE
    elif layout == "square":
        xs, ys = rng.integers(0, 256 * 60, (2, n)) / SCALE
    elif layout == "one_row":
        xs, ys = rng.integers(-2560, 256 * 300, n) / SCALE, np.zeros(n)
    else:
        xs = rng.choice([0.0, 5.0, 50.0], n) + rng.integers(0, 64, n) / SCALE
        ys = rng.choice([0.0, 5.0, 50.0], n) + rng.integers(0, 64, n) / SCALE
    ids = rng.permutation(3 * n)[:n].astype(np.int64)
    brute = BruteForceIndex()
    brute.rebuild(ids, xs, ys)
    ea, eb = brute.candidate_pairs(distance)
    expected = sorted(zip(np.minimum(ea, eb).tolist(), np.maximum(ea, eb).tolist(), strict=True))
    for way in (pairs_within, grid_pairs, sweep_pairs):
        a, b = way(ids, xs, ys, distance)
        assert list(zip(a.tolist(), b.tolist(), strict=True)) == expected, way.__name__
    hint = rng.permutation(n).astype(np.int64)  # any order as the last call's: same pairs
    for _ in range(2):
        a, b = sweep_pairs(ids, xs, ys, distance, hint)
        assert list(zip(a.tolist(), b.tolist(), strict=True)) == expected
    assert (np.diff(xs[hint]) >= 0).all()  # the hint now holds the x order
