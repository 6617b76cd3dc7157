"""A burst of numbered inputs after a stall (issue 18's last bar): every shot in it is
tested, each against its own view, and nothing is applied twice. Counts, no timings.

The client's inputs were held behind a 200 ms stall (what a lost TCP segment does) and
reach the server between two ticks. Before the catch-up, the FIFO kept only the newest
``input_buffer_ticks + 1`` and the shots among the others were lost.
"""

from __future__ import annotations

from typing import Any

from server.match.match import Match, Seat
from server.net.protocol import ErrorCode
from tests.match.test_lag_compensation import FIRE_REWIND, aim_at, lagcomp, scene

__all__ = ["lagcomp"]  # the fixture


def hits_by(match: Match, shooter: Seat, out: Any) -> int:
    assert shooter.entity is not None
    me = match.sim.netid_of(shooter.entity)
    return sum(int((ev["by"] == me).sum()) for name, ev in out.result.events if name == "hit")


def test_every_shot_of_a_burst_is_tested_against_its_own_view(lagcomp: Any) -> None:
    match, a, _, seen = scene(lagcomp)  # B moves 2 units a tick: a wrong view misses
    now = match.tick_count
    first = now - 19
    presses = {0, 6, 11}  # single-input taps, >= 5 apart (the cooldown is 3 ticks)
    refusals = []
    for k in range(12):  # 12 inputs (0.4 s) arrive between two ticks
        view = first + k
        bit = FIRE_REWIND if k in presses else 0
        aim = aim_at((50.0, 150.0), seen[view])
        refusals += match.receive_fields(a, now + 1, (0, 0, aim, bit), 100 + k, view, 0.0)
    hits = 0
    applied: list[tuple[int, int]] = []
    for _ in range(14):
        out = match.tick()
        hits += hits_by(match, a, out)
        applied.append((int(match.intake.acked[a.seat]), int(match.intake.acked_at[a.seat])))
    assert hits == len(presses)  # every shot tested, each hit where it was seen
    dropped = [r.seq for r in refusals if r.code is ErrorCode.INPUT_SUPERSEDED]
    assert not set(dropped) & {100 + k for k in presses}  # no press dropped
    acks = sorted(set(applied))
    assert len({s for s, _ in acks}) == len({t for _, t in acks}) == len(acks)  # once each
    assert {s for s, _ in acks} | set(dropped) == set(range(100, 112))  # none lost silently
    assert len(dropped) <= 12 - match.intake.depth  # bounded: the catch-up's room
    counts = match.intake.seat_counts(a.seat)
    assert counts["superseded"] + counts["caught_up"] == len(dropped)
