"""The ops observer: metrics and log lines from tick results and connection events.

Hosting and the gateway call it as things happen (a tick ran, frames were sent, a
player joined, a connection broke a rule); it records and never steers: every method
returns nothing the caller decides on. The label ``kind`` is ``"<game>/<sync mode>"``.

Received messages and bytes are counted in plain ints on the hot path
(:attr:`Observer.in_counts`, :attr:`Observer.in_bytes`) and added to the Prometheus
counters by :meth:`Observer.flush_counters`, on every scrape and once a second (a
counter's ``inc`` costs ~0.5 us with its lock; a dict increment ~0.05 us). Ticks and
frames are kept the same way: every match-tick appends its timings to plain lists and
adds to plain counts (:meth:`Observer.tick`, :meth:`Observer.state_sent`, ...), and the
flush adds them to the histograms and counters in bulk
(:func:`~server.ops.metrics.observe_many`), for all the matches of a kind at once. With
100 matches at 20 Hz that is ~15 Prometheus calls per match-tick (~30 us) turned into a
few list appends; a scrape always sees everything up to the moment it was taken.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from server.net.protocol import MessageType
from server.ops.connection_events import ConnectionEvents, match_context
from server.ops.events import Event, log_event
from server.ops.latency import LatencyObserver
from server.ops.metrics import Metrics, observe_many

if TYPE_CHECKING:
    from server.core.clock import DueTick
    from server.core.sync.state import StateFrameStats
    from server.match.match import Match, TickOutput
    from server.match.result import MatchResult

log = logging.getLogger("tickwire.server")
audit = logging.getLogger("tickwire.audit")

PHASES = ("input", "pre_update", "update", "validate", "post_update", "sync")
FLUSH_AFTER_TICKS = 8192
"""Match-ticks kept before :meth:`Observer.tick` flushes by itself (normally the server's
once-a-second sweep flushes first)."""
SKIP_LOG_EVERY_S = 1.0
"""A match's ``match.ticks_skipped`` line comes at most once per this many seconds."""
_COUNTED = (
    "ticks",
    "overruns",
    "skipped",
    "state_frames",
    "state_bytes",
    "entities_changed",
    "state_implicit",
    "snapshots_dropped",
    "lockstep_frames",
    "lockstep_bytes",
)


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
        self._m_skipped = metrics.ticks_skipped.labels(kind)
        self.m_state_out = metrics.messages_out.labels("state")
        self.m_state_bytes = metrics.bytes_out.labels("state")
        self._m_lock_out = metrics.messages_out.labels("lockstep_frame")
        self._m_lock_bytes = metrics.bytes_out.labels("lockstep_frame")
        self._m_in = {t: metrics.messages_in.labels(t.name.lower()) for t in MessageType}
        self.in_counts: dict[MessageType, int] = dict.fromkeys(MessageType, 0)
        """Messages received per type since the last flush (the receive loop adds to it)."""
        self.in_bytes = 0
        """Bytes received since the last flush (the receive loop adds to it)."""
        self._phase_s: dict[str, list[float]] = {p: [] for p in PHASES}
        """Per phase, the seconds of each match-tick since the last flush."""
        self._system_s: dict[str, list[float]] = {}
        self._lateness_s: list[float] = []
        self._total_s: list[float] = []
        self._send_s: list[float] = []
        self._counts = dict.fromkeys(_COUNTED, 0)
        """Ticks, frames, bytes ... since the last flush (:data:`_COUNTED`)."""
        self._skips_pending: dict[str, int] = {}
        """Per match id, deadlines skipped since its last ``match.ticks_skipped`` line."""
        self._skips_logged_s: dict[str, float] = {}
        self.siblings: list[Observer] = []
        """The observers of the server's other game kinds: flushed with this one."""
        self.latency = LatencyObserver(metrics, kind)

    # -- ticks ---------------------------------------------------------------------------

    def tick(
        self, match: Match, due: DueTick, out: TickOutput, work_s: float, overrun: bool
    ) -> None:
        """Record one tick's timings (exported at the next flush); log it if it ran over
        ``slow_tick_budget_ms``."""
        counts = self._counts
        counts["ticks"] += 1
        self.latency.tick(match, out.result)
        self._lateness_s.append(max(0.0, due.lateness_s))
        total = self._total_s
        total.append(work_s)
        if len(total) >= FLUSH_AFTER_TICKS:  # nobody flushes (a host without the app)
            self._flush_ticks()
        if overrun:
            counts["overruns"] += 1
        result = out.result
        if result is None:
            return
        phases = self._phase_s
        for phase, s in result.phase_s.items():
            phases[phase].append(s)
        systems = self._system_s
        for name, s in result.system_s.items():
            kept = systems.get(name)
            if kept is None:
                kept = systems[name] = []
            kept.append(s)
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
        """Deadlines the runner skipped (it fell behind): counted; logged at most once per
        :data:`SKIP_LOG_EVERY_S` per match, with the deadlines skipped since its last line."""
        self._counts["skipped"] += skipped
        mid = match.match_id
        pending = self._skips_pending.get(mid, 0) + skipped
        now = time.monotonic()
        if now - self._skips_logged_s.get(mid, -SKIP_LOG_EVERY_S) < SKIP_LOG_EVERY_S:
            self._skips_pending[mid] = pending
            return
        self._skips_logged_s[mid] = now
        self._skips_pending.pop(mid, None)
        log_event(
            log,
            logging.WARNING,
            Event.TICKS_SKIPPED,
            "match %s skipped %d tick deadlines (fell behind)",
            mid,
            pending,
            **match_context(match),
        )

    def state_sent(self, frames: int, size: int, stats: StateFrameStats) -> None:
        """One tick's state frames written: count, bytes, entities entered or changed."""
        counts = self._counts
        counts["state_frames"] += frames
        counts["state_bytes"] += size
        counts["entities_changed"] += stats.entered + stats.changed
        counts["state_implicit"] += stats.steady

    def slow_readers_skipped(self, n: int) -> None:
        """State frames not built because the reader had not taken the previous one."""
        self._counts["snapshots_dropped"] += n

    def lockstep_sent(self, recipients: int, size: int) -> None:
        """One lockstep frame of ``size`` bytes written to ``recipients`` connections."""
        self._counts["lockstep_frames"] += recipients
        self._counts["lockstep_bytes"] += size * recipients

    def send_time(self, seconds: float) -> None:
        """Time spent writing one tick's frames."""
        self._send_s.append(seconds)

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
        self._skips_pending.pop(match.match_id, None)
        self._skips_logged_s.pop(match.match_id, None)
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
        """Add the hot path's plain counts and the ticks' timings to the Prometheus
        series (this observer's and its :attr:`siblings`')."""
        counts = self.in_counts
        for mtype, n in counts.items():
            if n:
                self._m_in[mtype].inc(n)
                counts[mtype] = 0
        if self.in_bytes:
            self.metrics.bytes_in.inc(self.in_bytes)
            self.in_bytes = 0
        self._flush_ticks()
        for sibling in self.siblings:
            sibling.flush_counters()

    def _flush_ticks(self) -> None:
        """The ticks' and frames' timings and counts since the last flush, in bulk."""
        series: list[tuple[Any, list[float]]] = [
            (self._m_lateness, self._lateness_s),
            (self._m_tick_total, self._total_s),
            (self.m_tick_send, self._send_s),
        ]
        series += [(self._m_tick[p], v) for p, v in self._phase_s.items()]
        for name, v in self._system_s.items():
            m = self._m_systems.get(name)
            if m is None:
                m = self._m_systems[name] = self.metrics.system_duration.labels(self.kind, name)
            series.append((m, v))
        for child, values in series:
            if values:
                observe_many(child, values)
                values.clear()
        c = self._counts
        metrics = self.metrics
        for name, counter in (
            ("ticks", self._m_ticks),
            ("overruns", self._m_overrun),
            ("skipped", self._m_skipped),
            ("state_frames", self.m_state_out),
            ("state_bytes", self.m_state_bytes),
            ("entities_changed", metrics.state_entities_changed),
            ("state_implicit", metrics.state_frames_implicit),
            ("snapshots_dropped", metrics.snapshots_dropped),
            ("lockstep_frames", self._m_lock_out),
            ("lockstep_bytes", self._m_lock_bytes),
        ):
            if c[name]:
                counter.inc(c[name])
                c[name] = 0
        self.latency.flush()

    def refresh_gauges(self, connections: int, matches_by_state: dict[str, int]) -> None:
        """Before a scrape: flush counters, set the connection and per-state match gauges."""
        self.flush_counters()
        self.metrics.clients.set(connections)
        for state, n in matches_by_state.items():
            self.metrics.matches.labels(state).set(n)
