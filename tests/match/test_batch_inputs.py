"""The batch take (server.match.batch_inputs) equals every match taking its own inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.frame import InputBatch
from server.errors import InvalidState
from server.gamedef import GameDefinition
from server.match.batch_inputs import take_batch
from server.match.handler import LeaveReason
from server.match.match import Match, MatchState, Seat


def _twins(defn: GameDefinition, n: int, players: int) -> tuple[list[Match], list[Match]]:
    """``n`` matches twice (one set for the batch take, one taking alone), seated alike."""
    sets: tuple[list[Match], list[Match]] = ([], [])
    for out in sets:
        for i in range(n):
            m = Match(defn, f"m{i}", i + 1)
            for p in range(players):
                m.join(100 * i + p + 1, object())
            m.start()
            out.append(m)
    return sets


def _seats(m: Match) -> list[Seat]:
    return [s for s in m.seats if s is not None]


def _same(a: InputBatch | Exception | None, b: InputBatch | Exception | None) -> None:
    if isinstance(b, Exception):
        assert isinstance(a, type(b))
        return
    assert (a is None) == (b is None)
    if a is not None and not isinstance(a, Exception):
        assert a.entities.tolist() == b.entities.tolist()
        assert a.x.dtype == b.x.dtype
        assert a.y.dtype == b.y.dtype
        assert a.x.tolist() == b.x.tolist()
        assert a.y.tolist() == b.y.tolist()
        assert a.columns is None
        assert b.columns is None


_EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["input", "input", "input", "seq", "leave", "drop", "end"]),
        st.integers(0, 5),  # match
        st.integers(0, 3),  # seat
        st.integers(-1, 2),  # tick offset from the next
        st.floats(-1, 1),
        st.floats(-1, 1),
    ),
    max_size=60,
)


@settings(max_examples=40, deadline=None)
@given(rounds=st.lists(_EVENTS, min_size=1, max_size=6))
def test_batch_take_equals_each_match_taking_alone(
    small_arena: GameDefinition, rounds: list[list[tuple[str, int, int, int, float, float]]]
) -> None:
    """Random inputs (on time, late, early, superseded), numbered inputs that move a match
    off the short path, leaves, dropped connections and ended matches, round after round:
    the batch take gives what ``take_inputs`` gives match by match, and leaves the same
    state behind (the next rounds agree too)."""
    batched, alone = _twins(small_arena, 6, 4)
    seq: dict[tuple[int, int], int] = {}
    for events in rounds:
        for kind, mi, si, dt, x, y in events:
            if alone[mi].state is MatchState.ENDED or not _seats(alone[mi]):
                continue
            k = si % len(_seats(alone[mi]))
            if kind == "seq":
                seq[mi, k] = seq.get((mi, k), 0) + 1
            for m in (batched[mi], alone[mi]):
                seat = _seats(m)[k]
                nxt = m.tick_count + 1 + dt
                if kind == "input":
                    m.receive_input(seat, nxt, x, y)
                elif kind == "seq":
                    m.receive_input(seat, nxt, x, y, seq=seq[mi, k])
                elif kind == "leave":
                    m.leave(seat, LeaveReason.CONSENTED)
                elif kind == "drop":
                    m.drop(seat, 0.0)
                else:
                    m.end("test")
        got = take_batch(batched)
        want: list[InputBatch | Exception | None] = []
        for m in alone:
            try:
                want.append(m.take_inputs())
            except InvalidState as exc:
                want.append(exc)
        for a, b in zip(got, want, strict=True):
            _same(a, b)
        for ms, taken in ((batched, got), (alone, want)):
            for m, t in zip(ms, taken, strict=True):
                if not isinstance(t, Exception):
                    m.sim.step(t)
        for a_m, b_m in zip(batched, alone, strict=True):
            assert a_m.intake.take_totals() == b_m.intake.take_totals()
            assert a_m.intake.backlog().tolist() == b_m.intake.backlog().tolist()
            assert np.array_equal(a_m.sim.world.col("input.x"), b_m.sim.world.col("input.x"))
            assert np.array_equal(a_m.sim.world.col("input.y"), b_m.sim.world.col("input.y"))


def test_the_batch_stages_only_short_path_matches(small_arena: GameDefinition) -> None:
    """A match whose client sent a seq leaves the short path for good: the batch then
    asks the match itself (its acks and FIFO rules apply), the others stay batched."""
    batched, _ = _twins(small_arena, 2, 2)
    first, second = batched
    assert first.intake.staging
    assert second.intake.staging
    first.receive_input(_seats(first)[0], 1, 0.5, 0.5, seq=7)
    second.receive_input(_seats(second)[1], 1, -1.0, 1.0)
    assert not first.intake.staging
    assert second.intake.staging
    a, b = take_batch(batched)
    assert isinstance(a, InputBatch)
    assert isinstance(b, InputBatch)
    assert a.x.tolist() == [64]
    assert first.intake.acked[_seats(first)[0].seat] == 7
    assert b.entities.tolist() == [second.seat_entity[_seats(second)[1].seat]]
    assert (b.x.tolist(), b.y.tolist()) == ([-127], [127])
