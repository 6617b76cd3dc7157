"""The shared tick scheduler: one task per tick rate, one wake-up per deadline for all matches.

Every match of one tick rate ticks on the same grid of deadlines ``start_s + k / rate``
(``start_s``: when the first match of that rate was scheduled). A match joins the grid at
the next shared deadline at or after the moment it is added; its own tick numbers start
at 0 there (:class:`~server.hosting.runner.MatchRunner` keeps the offset). Per deadline
the rate's task sleeps until ``spin_s`` before it (uvloop's timers have millisecond
resolution), blocks in ``time.sleep`` for the last stretch (precise to ~0.1 ms; spinning
through the loop there cost ~1.3% of a core per process at 20 Hz), lets the loop serve
once what arrived meanwhile (the next deadline is found once per wake-up), and then runs
each match's due ticks in the order the matches joined. The wait is paid once per
deadline, not once per match.

Catch-up and skipping stay per match (each runner's own
:class:`~server.core.clock.TickClock` on the shared grid decides, counted per match as
before). While running one deadline's matches, the task yields to the loop after every
``yield_after_s`` of work, so a wake-up with many matches does not hold sockets for its
whole length. A match that fails ends only itself; a runner that stops (or whose match
ends) leaves the schedule; a rate's task ends when its last match has left, and the
next match of that rate starts a new grid.

Timing is injected (``perf``, ``sleep``), so tests drive the real loop with fake time.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from server.core.batch.stepper import step_batch
from server.core.clock import TickClock
from server.core.frame import InputBatch
from server.hosting.runner import MatchRunner, Stepped
from server.match.batch_frames import finish_batch
from server.match.batch_inputs import take_batch


class RateSchedule:
    """The matches of one tick rate and the grid of deadlines they share."""

    def __init__(self, tick_rate_hz: int, start_s: float, max_catchup_ticks: int) -> None:
        self.tick_rate_hz = tick_rate_hz
        self.start_s = start_s
        self.dt_s = 1.0 / tick_rate_hz
        self.max_catchup_ticks = max_catchup_ticks
        self.runners: list[MatchRunner] = []
        self.wakeups = 0
        """Deadlines at which the task woke and ran its matches."""
        self.task: asyncio.Task[None] | None = None
        self.added = False
        """A runner joined since the task last looked for the next deadline."""

    def join_index(self, now_s: float) -> int:
        """Index of the first shared deadline at or after ``now_s``."""
        # The 1e-9 absorbs float rounding when now is exactly on a deadline.
        return max(0, math.ceil((now_s - self.start_s) / self.dt_s - 1e-9))

    def clock_from(self, now_s: float) -> TickClock:
        """A clock on the shared grid whose next deadline is the next shared one."""
        clock = TickClock(self.start_s, self.tick_rate_hz, self.max_catchup_ticks)
        clock.next_index = self.join_index(now_s)
        return clock

    def next_deadline_s(self) -> float | None:
        """The earliest next deadline among active matches (None if none is active)."""
        deadlines = [r.clock.next_deadline_s for r in self.runners if r.active and r.clock]
        return min(deadlines) if deadlines else None

    def prune(self) -> None:
        """Drop runners that have stopped or whose match ended (their futures are done)."""
        if all(r.active for r in self.runners):
            return
        keep = []
        for r in self.runners:
            if r.active:
                keep.append(r)
            else:
                r.finish()
        self.runners = keep


class TickScheduler:
    """Drives every runner added to it; one :class:`RateSchedule` (and task) per tick rate."""

    def __init__(
        self,
        max_catchup_ticks: int = 3,
        spin_s: float = 0.001,
        yield_after_s: float = 0.002,
        perf: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        batching: bool = True,
        block: Callable[[float], None] | None = None,
    ) -> None:
        self.max_catchup_ticks = max_catchup_ticks
        self.spin_s = spin_s
        """Seconds before a deadline at which a rate's task stops sleeping and yields."""
        self.yield_after_s = yield_after_s
        """Seconds of tick work after which the task yields to the loop within one wake-up."""
        self._perf = perf
        self._sleep = sleep
        # The last stretch before a deadline (< spin_s) blocks in time.sleep (~0.1 ms
        # precise, no CPU) instead of spinning through the loop; a fake clock yield-spins.
        self._block = block or (time.sleep if perf is time.perf_counter else None)
        self.schedules: dict[int, RateSchedule] = {}
        self.batching = batching
        """Step batchable matches of one definition together (see :meth:`_run_all`)."""
        self.batched_ticks = 0
        """Match-ticks stepped in a batch (the rest stepped alone)."""

    def add(self, runner: MatchRunner) -> None:
        """Schedule ``runner``'s match from the next shared deadline of its tick rate."""
        rate = runner.tick_rate_hz
        now = self._perf()
        sched = self.schedules.get(rate)
        if sched is None:
            sched = self.schedules[rate] = RateSchedule(rate, now, self.max_catchup_ticks)
            loop = asyncio.get_running_loop()
            sched.task = loop.create_task(self._drive(sched), name=f"ticks-{rate}hz")
        runner.adopt(sched.clock_from(now), asyncio.get_running_loop().create_future())
        sched.runners.append(runner)
        sched.added = True

    def tasks(self) -> list[asyncio.Task[None]]:
        """The rate tasks still running."""
        return [s.task for s in self.schedules.values() if s.task is not None]

    async def _drive(self, sched: RateSchedule) -> None:
        """Wake at each shared deadline and run the due ticks of every match of ``sched``."""
        now = self._perf
        try:
            while True:
                sched.prune()
                deadline = sched.next_deadline_s()
                if deadline is None:
                    return
                # Wait for it without looking at every match again on each spin: only a
                # match added meanwhile (``sched.added``) can bring a deadline forward.
                sched.added = False
                while not sched.added:
                    delay = deadline - now()
                    if delay - self.spin_s > 1e-6:  # (a sub-microsecond sleep is spun)
                        await self._sleep(delay - self.spin_s)
                    elif delay > 0:
                        if self._block is not None:
                            self._block(delay)  # then one loop pass serves what arrived
                        await self._sleep(0)
                    else:
                        break
                else:
                    continue
                sched.wakeups += 1
                await self._run_all(sched)
                # Yield once even when catching up, so sockets are served between deadlines.
                await self._sleep(0)
        finally:
            if self.schedules.get(sched.tick_rate_hz) is sched:
                del self.schedules[sched.tick_rate_hz]
            for r in sched.runners:
                r.finish()

    async def _run_all(self, sched: RateSchedule) -> None:
        """One wake-up: each match's due ticks, yielding after every ``yield_after_s`` of work.

        Due ticks run in rounds: every match's first due tick, then the second of those
        catching up, and so on. In a round, the batchable matches of one definition step
        as one batch (:func:`~server.core.batch.stepper.step_batch`, when ``batching``
        and there are at least two) and get their frames right after it, in one pass
        (:func:`~server.match.batch_frames.finish_batch`); then each match sends (the
        others finish their tick first), in join order. The loop may run between a
        batch's frames and a match's sending (a yield): what it does there (an input, a
        join, a leave) counts for the match's next tick.
        """
        now = self._perf
        since_yield = now()
        pending = [(r, r.take_due()) for r in list(sched.runners)]
        k = 0
        while True:
            due_now = [(r, dues[k]) for r, dues in pending if len(dues) > k and r.active]
            if not due_now:
                return
            stepped = self._step_batches([r for r, _ in due_now]) if self.batching else {}
            for runner, due in due_now:
                runner.run_tick(due, stepped.get(id(runner)))
                if now() - since_yield >= self.yield_after_s:
                    await self._sleep(0)
                    since_yield = now()
            k += 1

    def _step_batches(self, runners: list[MatchRunner]) -> dict[int, Stepped]:
        """Step the batchable ``runners`` one tick, a batch per definition (by runner id)."""
        groups: dict[int, list[MatchRunner]] = {}
        for r in runners:
            if r.batchable:
                groups.setdefault(id(r.match.definition), []).append(r)
        out: dict[int, Stepped] = {}
        for group in groups.values():
            if len(group) < 2:
                continue
            t0 = self._perf()
            live: list[MatchRunner] = []
            inputs: list[InputBatch | None] = []
            for r, taken in zip(group, take_batch([r.match for r in group]), strict=True):
                if isinstance(taken, Exception):  # stepped alone: it fails there, alone
                    continue
                inputs.append(taken)
                live.append(r)
            results = step_batch([r.match.sim for r in live], inputs)
            self.batched_ticks += len(live)
            outputs = finish_batch([r.match for r in live], inputs, results, live[0].hooks.writable)
            share = (self._perf() - t0) / max(1, len(live))
            for r, batch, result, output in zip(live, inputs, results, outputs, strict=True):
                out[id(r)] = Stepped(batch, result, share, output)
        return out
