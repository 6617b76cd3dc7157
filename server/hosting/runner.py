"""One match's ticks: catch-up, skip policy, timings, failure isolation (no timing loop here).

A :class:`MatchRunner` is the per-match half of hosting's tick driving; the shared
:class:`~server.hosting.scheduler.TickScheduler` is the other half and the only code that
sleeps. The scheduler wakes once per shared deadline and calls :meth:`MatchRunner.run_due`
on every match of that tick rate; the runner asks its own
:class:`~server.core.clock.TickClock` which ticks are due (catching up at most
``max_catchup_ticks``, skipping and counting the rest, exactly as when each match had its
own loop), runs them, hands the output to the transport and reports timings. A failing
system ends *this* match with ``MATCH_FAILED``; the exception never leaves the runner, so
the other matches of the schedule tick on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from server.core.batch.stepper import can_batch
from server.core.clock import DueTick, TickClock
from server.core.frame import FrameResult, InputBatch
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


class Stepped(NamedTuple):
    """A match's part of a batched step, handed to :meth:`MatchRunner.run_tick` (one per
    match-tick: a named tuple, cheaper to make than a frozen dataclass)."""

    inputs: InputBatch | None
    result: FrameResult | SystemFailed
    share_s: float
    """This match's share of the batch's time (step and frames, seconds)."""
    output: TickOutput | Exception | None = None
    """The tick's output, frames included (:func:`server.match.batch_frames.finish_batch`),
    or the exception that ends the match; None: the runner finishes the tick itself."""


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
    """Runs one match's due ticks whenever its scheduler wakes it, until it ends or stops.

    :attr:`task` is a future that is done once the runner has ended (stopped, match
    ended or failed); it is set when the scheduler adopts the runner.
    """

    def __init__(
        self,
        match: Match,
        hooks: RunnerHooks,
        max_catchup_ticks: int = 3,
        perf: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.match = match
        self.hooks = hooks
        self.max_catchup_ticks = max_catchup_ticks
        self.stats = RunnerStats()
        self._stopped = False
        self._perf = perf
        self.clock: TickClock | None = None
        """This match's deadlines: the shared grid of its tick rate, from its first tick on."""
        self._first_index = 0
        self.task: asyncio.Future[None] | None = None
        self._batchable = can_batch(match.definition)

    @property
    def tick_rate_hz(self) -> int:
        """The rate of the schedule this match belongs to."""
        return self.match.definition.tick_rate_hz

    def adopt(self, clock: TickClock, done: asyncio.Future[None]) -> None:
        """Called by the scheduler: tick on ``clock`` from its current index (tick 0 of ours)."""
        self.clock = clock
        self._first_index = clock.next_index
        self.task = done

    @property
    def active(self) -> bool:
        """Whether the runner still ticks (not stopped, match not ended)."""
        return not self._stopped and self.match.state is not MatchState.ENDED

    def stop(self) -> None:
        """Stop: no tick of this match runs after the current one (the future is done now)."""
        self._stopped = True
        self.finish()

    def finish(self) -> None:
        """Mark the runner ended (idempotent)."""
        if self.task is not None and not self.task.done():
            self.task.set_result(None)

    @property
    def batchable(self) -> bool:
        """Whether this match can step in a batch with others of its definition."""
        return self._batchable

    def run_due(self) -> None:
        """Run every tick of this match that is due now (none if its next deadline is ahead)."""
        for due in self.take_due():
            if not self.active:
                break
            self.run_tick(due)

    def take_due(self) -> list[DueTick]:
        """The ticks due now, in our own numbers; skipped deadlines counted and reported."""
        clock = self.clock
        if clock is None or not self.active:
            return []
        skipped_before = clock.skipped_total
        due_ticks = clock.due(self._perf())
        if clock.skipped_total != skipped_before:
            n = clock.skipped_total - skipped_before
            self.stats.skipped += n
            self.hooks.observe_skipped(self.match, n)
        # Our own tick numbers: 0 at the shared deadline at which we joined.
        first = self._first_index
        return [DueTick(d.index - first, d.deadline_s, d.lateness_s) for d in due_ticks]

    def run_tick(self, due: DueTick, stepped: Stepped | None = None) -> None:
        """Run one due tick: the whole tick, or (``stepped``) the rest of a batched one.

        ``stepped``: the inputs, the step's result (or the ``SystemFailed`` that ends
        this match) and this match's share of the batch's time, from the scheduler's
        batch step (:func:`server.core.batch.stepper.step_batch`).
        """
        if not self.active:
            return
        match, hooks, stats = self.match, self.hooks, self.stats
        t0 = self._perf()
        due = DueTick(due.index, due.deadline_s, t0 - due.deadline_s)  # late as it runs
        try:
            if stepped is None:
                out = match.tick(hooks.writable)
            else:
                if isinstance(stepped.output, Exception):
                    raise stepped.output
                if isinstance(stepped.result, SystemFailed):
                    raise stepped.result
                if stepped.output is None:
                    out = match.finish_tick(stepped.inputs, stepped.result, hooks.writable)
                else:
                    out = stepped.output
            hooks.deliver(match, out)
        except Exception as exc:  # isolate this match from the rest of the schedule
            self._fail(exc)
            return
        work = self._perf() - t0 + (stepped.share_s if stepped is not None else 0.0)
        period = 1.0 / self.tick_rate_hz
        stats.ticks += 1
        stats.work_s += work
        if due.lateness_s > period:
            stats.late += 1
        if work > period:
            stats.overruns += 1
        hooks.observe_tick(match, due, out, work)

    def _fail(self, exc: Exception) -> None:
        """End this match only: MATCH_FAILED (a non-system error is wrapped as a failure)."""
        if isinstance(exc, SystemFailed):
            error = exc
        else:
            error = SystemFailed("<hosting>", self.match.tick_count, "deliver")
            error.__cause__ = exc
        log_event(
            log,
            logging.ERROR,
            Event.MATCH_FAILED,
            "match %s failed: %s",
            self.match.match_id,
            error,
            exc_info=error.__cause__ or exc,
            match_id=self.match.match_id,
            match_trace_id=self.match.trace_id,
        )
        self._stopped = True
        try:
            self.hooks.match_failed(self.match, error)
        finally:
            self.finish()
