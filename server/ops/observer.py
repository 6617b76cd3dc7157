"""The ops observer: metrics and log lines from tick results and connection events.

Hosting and the gateway call it as things happen (a tick ran, frames were sent, a
player joined, a connection broke a rule); it records and never steers: every method
returns nothing the caller decides on. The label ``kind`` is ``"<game>/<sync mode>"``.

Received messages and bytes are counted in plain ints on the hot path
(:attr:`Observer.in_counts`, :attr:`Observer.in_bytes`) and added to the Prometheus
counters by :meth:`Observer.flush_counters`, on every scrape and once a second (a
counter's ``inc`` costs ~0.5 us with its lock; a dict increment ~0.05 us).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from server.net.protocol import MessageType
from server.ops.connection_events import ConnectionEvents, match_context
from server.ops.events import Event, log_event
from server.ops.latency import LatencyObserver
from server.ops.metrics import Metrics

if TYPE_CHECKING:
    from server.core.clock import DueTick
    from server.core.sync.state import StateFrameStats
    from server.match.match import Match, TickOutput
    from server.match.result import MatchResult

log = logging.getLogger("tickwire.server")
audit = logging.getLogger("tickwire.audit")

PHASES = ("input", "pre_update", "update", "validate", "post_update", "sync")


class Observer(ConnectionEvents):
    """Turns events of one server (one game kind) into metrics and log lines.

    The tick, frame, match and scrape events are here; seats, connections and
    matchmaking are in :class:`~server.ops.connection_events.ConnectionEvents`.
    """

    def __init__(self, metrics: Metrics, kind: str, slow_tick_budget_ms: float) -> None:
        self.metrics = metrics
        self.kind = kind
        self.slow_tick_budget_ms = slow_tick_budget_ms
        self._m_tick = {p: metrics.tick_duration.labels(kind, p) for p in PHASES}
        self._m_tick_total = metrics.tick_duration.labels(kind, "total")
        self.m_tick_send = metrics.tick_duration.labels(kind, "send")
        self._m_systems: dict[str, Any] = {}
        self._m_lateness = metrics.tick_lateness.labels(kind)
        self._m_ticks = metrics.ticks.labels(kind)
        self._m_overrun = metrics.ticks_overrun.labels(kind)
        self.m_state_out = metrics.messages_out.labels("state")
        self.m_state_bytes = metrics.bytes_out.labels("state")
        self._m_lock_out = metrics.messages_out.labels("lockstep_frame")
        self._m_lock_bytes = metrics.bytes_out.labels("lockstep_frame")
        self._m_in = {t: metrics.messages_in.labels(t.name.lower()) for t in MessageType}
        self.in_counts: dict[MessageType, int] = dict.fromkeys(MessageType, 0)
        """Messages received per type since the last flush (the receive loop adds to it)."""
        self.in_bytes = 0
        """Bytes received since the last flush (the receive loop adds to it)."""
        self.latency = LatencyObserver(metrics, kind)

    # -- ticks ---------------------------------------------------------------------------

    def tick(
        self, match: Match, due: DueTick, out: TickOutput, work_s: float, overrun: bool
    ) -> None:
        """Export one tick's timings; log it if it ran over ``slow_tick_budget_ms``."""
        self._m_ticks.inc()
        self.latency.tick(match, out.result)
        self._m_lateness.observe(max(0.0, due.lateness_s))
        self._m_tick_total.observe(work_s)
        if overrun:
            self._m_overrun.inc()
        result = out.result
        if result is None:
            return
        for phase, s in result.phase_s.items():
            self._m_tick[phase].observe(s)
        for name, s in result.system_s.items():
            m = self._m_systems.get(name)
            if m is None:
                m = self._m_systems[name] = self.metrics.system_duration.labels(self.kind, name)
            m.observe(s)
        if work_s * 1000 > self.slow_tick_budget_ms:
            worst_phase = max(result.phase_s.items(), key=lambda kv: kv[1])
            worst_sys = max(result.system_s.items(), key=lambda kv: kv[1], default=("-", 0))
            log_event(
                log,
                logging.WARNING,
                Event.SLOW_TICK,
                "slow tick %d in match %s: %.1f ms (phase %s %.1f ms, system %s %.1f ms, "
                "sync %.1f ms)",
                out.tick,
                match.match_id,
                work_s * 1000,
                worst_phase[0],
                worst_phase[1] * 1000,
                worst_sys[0],
                worst_sys[1] * 1000,
                out.sync_s * 1000,
                **match_context(match),
            )

    def skipped(self, match: Match, skipped: int) -> None:
        """Deadlines the runner skipped (it fell behind)."""
        self.metrics.ticks_skipped.labels(self.kind).inc(skipped)
        log_event(
            log,
            logging.WARNING,
            Event.TICKS_SKIPPED,
            "match %s skipped %d tick deadlines (fell behind)",
            match.match_id,
            skipped,
            **match_context(match),
        )

    def state_sent(self, frames: int, size: int, stats: StateFrameStats) -> None:
        """One tick's state frames written: count, bytes, entities entered or changed."""
        self.m_state_out.inc(frames)
        self.m_state_bytes.inc(size)
        self.metrics.state_entities_changed.inc(stats.entered + stats.changed)

    def slow_readers_skipped(self, n: int) -> None:
        """State frames not built because the reader had not taken the previous one."""
        self.metrics.snapshots_dropped.inc(n)

    def lockstep_sent(self, recipients: int, size: int) -> None:
        """One lockstep frame of ``size`` bytes written to ``recipients`` connections."""
        self._m_lock_out.inc(recipients)
        self._m_lock_bytes.inc(size * recipients)

    def send_time(self, seconds: float) -> None:
        """Time spent writing one tick's frames."""
        self.m_tick_send.observe(seconds)

    # -- matches -------------------------------------------------------------------------

    def match_created(self, match: Match) -> None:
        """A match started."""
        log_event(
            log,
            logging.INFO,
            Event.MATCH_CREATED,
            "match %s created (%s)",
            match.match_id,
            self.kind,
            **match_context(match),
        )

    def match_result(self, match: Match, result: MatchResult) -> None:
        """The game ended the match with a result (audited)."""
        log_event(
            audit,
            logging.INFO,
            Event.MATCH_RESULT,
            "match %s result: %s",
            match.match_id,
            result.audit_text(),
            **match_context(match),
        )

    def match_failed(self) -> None:
        """A match ended because a system raised (the runner logged the error)."""
        self.metrics.match_failures.labels(self.kind).inc()

    def match_retired(self, match: Match) -> None:
        """An empty match is being ended."""
        self.latency.retired(match.match_id)
        log_event(
            log,
            logging.INFO,
            Event.MATCH_RETIRED,
            "retiring empty match %s",
            match.match_id,
            **match_context(match),
        )

    def degradation(self, level: int) -> None:
        """The overload level changed (server.ops.degrade)."""
        self.metrics.degradation.set(level)
        log_event(log, logging.WARNING, Event.DEGRADATION, "overload degradation level %d", level)

    def draining(self, connections: int, grace_s: float) -> None:
        """The server started to drain."""
        self.metrics.draining.set(1)
        log_event(
            log,
            logging.INFO,
            Event.DRAINING,
            "draining: %d connections, grace %.1fs",
            connections,
            grace_s,
        )

    # -- connections ---------------------------------------------------------------------

    def first_message(self, size: int, is_hello: bool) -> None:
        """A connection's first message (``size`` bytes) was decoded."""
        self.metrics.bytes_in.inc(size)
        if is_hello:
            self._m_in[MessageType.HELLO].inc()

    # -- scrapes ---------------------------------------------------------------------------

    def flush_counters(self) -> None:
        """Add the hot path's plain counts to the Prometheus counters."""
        counts = self.in_counts
        for mtype, n in counts.items():
            if n:
                self._m_in[mtype].inc(n)
                counts[mtype] = 0
        if self.in_bytes:
            self.metrics.bytes_in.inc(self.in_bytes)
            self.in_bytes = 0

    def refresh_gauges(self, connections: int, matches_by_state: dict[str, int]) -> None:
        """Before a scrape: flush counters, set the connection and per-state match gauges."""
        self.flush_counters()
        self.metrics.clients.set(connections)
        for state, n in matches_by_state.items():
            self.metrics.matches.labels(state).set(n)
