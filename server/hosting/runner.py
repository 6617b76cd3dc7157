"""The tick runner: drives one match on the event loop (hosting's only timing code).

Drives one match from a drift-free :class:`~server.core.clock.TickClock`: sleep until the
next deadline, run every due tick (catching up at most ``max_catchup_ticks``), hand the
output to the transport, report timings. A failing system ends *this* match with
``MATCH_FAILED``; the exception never leaves the runner, so other matches tick on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from server.core.clock import DueTick, TickClock
from server.errors import SystemFailed
from server.match.match import Match, MatchState, TickOutput
from server.ops.events import Event, log_event

log = logging.getLogger("tickwire.runner")


class RunnerHooks(Protocol):
    """What the runner needs from the server: a transport and observers."""

    def writable(self, conn: Any) -> bool:
        """Whether ``conn`` has taken its previous frame."""

    def deliver(self, match: Match, out: TickOutput) -> None:
        """Send a tick's frames (synchronously, without awaiting)."""

    def observe_tick(self, match: Match, due: DueTick, out: TickOutput, work_s: float) -> None:
        """Record timings of one tick."""

    def observe_skipped(self, match: Match, skipped: int) -> None:
        """Record deadlines skipped by the catch-up policy."""

    def match_failed(self, match: Match, error: SystemFailed) -> None:
        """A system raised: end the match and disconnect its players."""


@dataclass(slots=True)
class RunnerStats:
    """Counters of one runner (also exported as metrics by the hooks)."""

    ticks: int = 0
    late: int = 0
    skipped: int = 0
    overruns: int = 0
    work_s: float = 0.0
    """Seconds spent ticking and sending (sum over ticks)."""


class MatchRunner:
    """Runs one match's ticks on the event loop until it ends or :meth:`stop` is called."""

    def __init__(
        self,
        match: Match,
        hooks: RunnerHooks,
        max_catchup_ticks: int = 3,
        perf: Callable[[], float] = time.perf_counter,
        spin_s: float = 0.001,
    ) -> None:
        self.match = match
        self.hooks = hooks
        self.max_catchup_ticks = max_catchup_ticks
        self.stats = RunnerStats()
        self._stopped = False
        self._perf = perf
        self.spin_s = spin_s
        """Seconds before a deadline at which the runner stops sleeping and yields."""
        self.task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        """Start ticking in a task of the running loop."""
        self.task = asyncio.get_running_loop().create_task(
            self.run(), name=f"match-{self.match.match_id}"
        )
        return self.task

    def stop(self) -> None:
        """Stop after the current tick."""
        self._stopped = True

    async def run(self) -> None:
        """Tick until the match ends or the runner is stopped."""
        now = self._perf
        match = self.match
        clock = TickClock(now(), match.definition.tick_rate_hz, self.max_catchup_ticks)
        period = clock.dt_s
        hooks = self.hooks
        while not self._stopped and match.state is not MatchState.ENDED:
            delay = clock.next_deadline_s - now()
            if delay > self.spin_s:
                await asyncio.sleep(delay - self.spin_s)
                continue
            if delay > 0:
                # The last stretch: yield to the loop (it serves sockets meanwhile) until
                # the deadline. uvloop's timers and clock have millisecond resolution, so
                # sleeping all the way would start ticks up to ~1 ms late.
                await asyncio.sleep(0)
                continue
            skipped_before = clock.skipped_total
            due_ticks = clock.due(now())
            if clock.skipped_total != skipped_before:
                n = clock.skipped_total - skipped_before
                self.stats.skipped += n
                hooks.observe_skipped(match, n)
            for due in due_ticks:
                if self._stopped or not match_running(match):
                    break
                t0 = self._perf()
                try:
                    out = match.tick(hooks.writable)
                except SystemFailed as exc:
                    log_event(
                        log,
                        logging.ERROR,
                        Event.MATCH_FAILED,
                        "match %s failed: %s",
                        match.match_id,
                        exc,
                        exc_info=exc.__cause__,
                        match_id=match.match_id,
                        match_trace_id=match.trace_id,
                    )
                    hooks.match_failed(match, exc)
                    return
                hooks.deliver(match, out)
                work = self._perf() - t0
                self.stats.ticks += 1
                self.stats.work_s += work
                if due.lateness_s > period:
                    self.stats.late += 1
                if work > period:
                    self.stats.overruns += 1
                hooks.observe_tick(match, due, out, work)
            # Yield once even when catching up, so sockets are served between ticks.
            await asyncio.sleep(0)


def match_running(match: Match) -> bool:
    """Whether the match still ticks (a function so type narrowing does not stick)."""
    return match.state is not MatchState.ENDED
