"""The shared tick scheduler: shared deadlines, per-match catch-up, isolation (fake time),
and several matches on one schedule over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

import server.hosting.scheduler as scheduler_module
from server.core.clock import DueTick
from server.errors import SystemFailed
from server.gamedef import GameDefinition, SystemStep
from server.hosting.runner import MatchRunner
from server.hosting.scheduler import TickScheduler
from server.match.match import Match, MatchState, TickOutput
from server.net.protocol import MessageType
from server.testing import TestClient, running_server


class FakeTime:
    """A clock that moves only when the scheduler sleeps; a zero sleep costs 0.1 ms."""

    def __init__(self) -> None:
        self.t = 0.0
        self.timed_sleeps = 0
        self.zero_sleeps = 0

    def now(self) -> float:
        return self.t

    async def sleep(self, d: float) -> None:
        if d > 0:
            self.timed_sleeps += 1
            self.t += d
        else:
            self.zero_sleeps += 1
            self.t += 1e-4
        await asyncio.sleep(0)


class Recorder:
    """Runner hooks that record what happened (the host's hooks minus sockets)."""

    def __init__(self) -> None:
        self.ticks: dict[str, list[DueTick]] = {}
        self.skipped: dict[str, int] = {}
        self.failed: list[str] = []
        self.on_deliver: Callable[[Match], None] = lambda m: None

    def writable(self, conn: Any) -> bool:
        return True

    def deliver(self, match: Match, out: TickOutput) -> None:
        self.on_deliver(match)

    def observe_tick(self, match: Match, due: DueTick, out: TickOutput, work_s: float) -> None:
        self.ticks.setdefault(match.match_id, []).append(due)

    def observe_skipped(self, match: Match, skipped: int) -> None:
        self.skipped[match.match_id] = self.skipped.get(match.match_id, 0) + skipped

    def match_failed(self, match: Match, error: SystemFailed) -> None:
        self.failed.append(match.match_id)
        match.end("failed")


async def run_until(fake: FakeTime, t: float) -> None:
    """Let the scheduler run until fake time reaches ``t``."""
    while fake.t < t:  # noqa: ASYNC110 - fake time moves only when the scheduler runs
        await asyncio.sleep(0)


def scheduler(fake: FakeTime) -> TickScheduler:
    return TickScheduler(3, spin_s=0.001, perf=fake.now, sleep=fake.sleep)


async def test_matches_share_deadlines_and_keep_their_own_tick_numbers(
    small_arena: GameDefinition,
) -> None:
    """Late joiners start at the next shared deadline; one wake-up per deadline for all."""
    fake, hooks = FakeTime(), Recorder()
    sched = scheduler(fake)
    dt = small_arena.dt_s
    runners = [MatchRunner(Match(small_arena, f"m{i}"), hooks, perf=fake.now) for i in range(3)]
    sched.add(runners[0])
    await run_until(fake, 0.3 * dt)
    joined_1 = fake.t
    sched.add(runners[1])
    await run_until(fake, 2.7 * dt)
    joined_2 = fake.t
    sched.add(runners[2])
    await run_until(fake, 10.5 * dt)
    grid = sched.schedules[small_arena.tick_rate_hz]
    for r, joined in zip(runners, (0.0, joined_1, joined_2), strict=True):
        dues = hooks.ticks[r.match.match_id]
        assert [d.index for d in dues] == list(range(len(dues)))  # own numbers from 0
        k0 = round(dues[0].deadline_s / dt)
        assert dues[0].deadline_s >= joined > dues[0].deadline_s - dt  # the next shared tick
        assert [d.deadline_s for d in dues] == [
            grid.start_s + (k0 + i) * dt for i in range(len(dues))
        ]
        assert r.match.tick_count == len(dues)
    assert len(hooks.ticks["m0"]) == 11
    assert len(hooks.ticks["m1"]) == 10
    assert len(hooks.ticks["m2"]) == 8
    assert grid.wakeups == 11  # one per deadline, not one per match-tick (29)
    assert sched.batched_ticks == 29 - 1  # all but m0's first tick (before m1 joined)
    assert fake.timed_sleeps == 11  # one timed sleep (and one spin) per deadline


async def test_the_last_stretch_before_a_deadline_blocks_instead_of_spinning(
    small_arena: GameDefinition,
) -> None:
    """With a blocking wait (the real clock's time.sleep), each deadline costs one timed
    sleep, one block for the rest and one loop pass: no yield-spin (FakeTime's spin takes
    ten 0.1 ms zero sleeps per 1 ms), and the ticks still start on their deadlines."""
    fake, hooks = FakeTime(), Recorder()
    blocks: list[float] = []

    def block(d: float) -> None:
        blocks.append(d)
        fake.t += d

    sched = TickScheduler(3, spin_s=0.001, perf=fake.now, sleep=fake.sleep, block=block)
    dt = small_arena.dt_s
    runner = MatchRunner(Match(small_arena, "m"), hooks, perf=fake.now)
    sched.add(runner)
    await run_until(fake, 10.5 * dt)
    dues = hooks.ticks["m"]
    assert len(dues) == 11
    assert all(d.lateness_s < 1e-3 for d in dues)
    assert len(blocks) == 10  # deadline 0 was due at once; one block before each other
    assert all(0 < b <= 0.001 + 1e-6 for b in blocks)
    assert fake.zero_sleeps <= 3 * len(dues)  # the pass after each block, the yield per tick


async def test_catch_up_and_skips_are_per_match_and_counted(small_arena: GameDefinition) -> None:
    """After a stall each match catches up at most 3 ticks and counts the skipped rest."""
    fake, hooks = FakeTime(), Recorder()
    sched = scheduler(fake)
    dt = small_arena.dt_s
    a = MatchRunner(Match(small_arena, "a"), hooks, perf=fake.now)
    b = MatchRunner(Match(small_arena, "b"), hooks, perf=fake.now)

    def stall(match: Match) -> None:
        if match is a.match and match.tick_count == 3:
            fake.t += 6.5 * dt  # this tick took six and a half periods

    hooks.on_deliver = stall
    sched.add(a)
    sched.add(b)
    await run_until(fake, 12.5 * dt)
    # The wake-up at deadline 2 takes each match's due ticks (2), steps both; a's tick
    # ends at 8.5 dt, b's runs after it (6.5 periods late). At the next wake-up each
    # has 3..8 due: the newest 3 run, 3 are skipped, each counted on its own.
    for r, late in ((a, 2), (b, 3)):
        dues = hooks.ticks[r.match.match_id]
        assert [round(d.deadline_s / dt) for d in dues][:6] == [0, 1, 2, 6, 7, 8]
        assert r.stats.skipped == 3 == hooks.skipped[r.match.match_id]
        assert r.stats.late == sum(1 for d in dues if d.lateness_s > dt) == late
        assert [round(d.deadline_s / dt) for d in dues][-3:] == [10, 11, 12]  # on time again
    assert a.match.tick_count == b.match.tick_count  # each ran its own due ticks


async def test_a_failing_match_ends_only_itself(small_arena: GameDefinition) -> None:
    """A system raising ends that match (MATCH_FAILED hook); the others keep ticking."""
    fake, hooks = FakeTime(), Recorder()
    sched = scheduler(fake)
    dt = small_arena.dt_s
    faulty = replace(
        small_arena,
        pipeline=(*small_arena.pipeline, SystemStep("update", "fail_at_tick", (("tick", 3),))),
    )
    bad = MatchRunner(Match(faulty, "bad"), hooks, perf=fake.now)
    goods = [MatchRunner(Match(small_arena, f"g{i}"), hooks, perf=fake.now) for i in range(2)]
    sched.add(goods[0])
    sched.add(bad)
    sched.add(goods[1])
    await run_until(fake, 8.5 * dt)
    assert hooks.failed == ["bad"]
    assert bad.task is not None
    assert bad.task.done()
    assert bad.match.state is MatchState.ENDED
    assert [g.match.tick_count for g in goods] == [9, 9]
    assert bad not in sched.schedules[small_arena.tick_rate_hz].runners


async def test_stopped_runners_leave_and_an_empty_schedule_ends(
    small_arena: GameDefinition,
) -> None:
    """stop() ends a runner at once; the rate's task ends with its last runner."""
    fake, hooks = FakeTime(), Recorder()
    sched = scheduler(fake)
    dt = small_arena.dt_s
    a = MatchRunner(Match(small_arena, "a"), hooks, perf=fake.now)
    b = MatchRunner(Match(small_arena, "b"), hooks, perf=fake.now)
    sched.add(a)
    sched.add(b)
    await run_until(fake, 2.5 * dt)
    (task,) = sched.tasks()
    a.stop()
    assert a.task is not None
    assert a.task.done()
    ticks_a = a.match.tick_count
    await run_until(fake, 5.5 * dt)
    assert a.match.tick_count == ticks_a
    assert b.match.tick_count == 6
    b.stop()
    await asyncio.wait_for(task, 1)
    assert sched.schedules == {}
    c = MatchRunner(Match(small_arena, "c"), hooks, perf=fake.now)
    sched.add(c)  # a new grid starts with the next match of that rate
    await run_until(fake, fake.t + 1.5 * dt)
    assert c.match.tick_count == 2
    c.stop()


async def test_several_matches_on_one_schedule_over_sockets(
    small_arena: GameDefinition,
) -> None:
    """Three matches of two players share one rate task; every client gets fresh frames."""
    defn = replace(small_arena, max_players=2)
    async with running_server(defn, max_matches=4) as srv, contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(TestClient.connect(srv.url)) for _ in range(6)]
        welcomes = [await c.expect(MessageType.WELCOME) for c in clients]
        assert len({w["match_id"] for w in welcomes}) >= 3
        (sched,) = srv.host.scheduler.schedules.values()
        assert {r.match.match_id for r in sched.runners} >= {w["match_id"] for w in welcomes}
        starts = {r.clock.start_s for r in sched.runners if r.clock is not None}
        assert len(starts) == 1  # one grid of deadlines
        for c in clients:
            first = (await c.expect(MessageType.STATE))["t"]
            while (await c.expect(MessageType.STATE, timeout=3))["t"] < first + 5:
                pass
        ticks = sum(r.stats.ticks for r in sched.runners)
        assert sched.wakeups < ticks  # matches ticked together, not each on its own
        assert srv.host.scheduler.batched_ticks > 0  # and stepped as one batch
    assert srv.host.scheduler.schedules == {}  # the stop ended the rate task


async def test_whole_views_of_a_batch_over_sockets(
    small_arena: GameDefinition, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small worlds every player sees whole: the batch's frames are built in one pass
    (counted), and two players of one match hold the same mirror at every tick, every
    entity of their match."""
    built = [0]
    real = scheduler_module.finish_batch

    def counted(*args: Any) -> list[Any]:
        built[0] += 1
        return real(*args)

    monkeypatch.setattr(scheduler_module, "finish_batch", counted)
    world = replace(small_arena.world, width_units=100.0, height_units=100.0)
    sync = replace(small_arena.sync, interest_radius_units=150.0)
    defn = replace(small_arena, max_players=2, world=world, sync=sync)
    async with running_server(defn, max_matches=4) as srv, contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(TestClient.connect(srv.url)) for _ in range(6)]
        welcomes = [await c.expect(MessageType.WELCOME) for c in clients]
        by_match: dict[str, list[TestClient]] = {}
        for c, w in zip(clients, welcomes, strict=True):
            by_match.setdefault(w["match_id"], []).append(c)
        assert len(by_match) == 3
        for a, b in by_match.values():
            seen: dict[int, dict[int, tuple[int, int, int]]] = {}
            for c in (a, b):
                await c.expect(MessageType.STATE)
                for _ in range(8):
                    await c.expect(MessageType.STATE)
                    if c.mirror.tick in seen:
                        assert seen[c.mirror.tick] == c.mirror.entities
                    seen[c.mirror.tick] = dict(c.mirror.entities)
            assert len(c.mirror.entities) == 50 + 2
    assert built[0] > 0
