"""Metrics and log lines of issue 18: input timing, sequence faults, view clamps, rewinds.

The match counts in plain ints on the hot path (:class:`server.match.intake.InputIntake`,
and the systems' ``ctx.stats``); :meth:`LatencyObserver.tick` adds each tick's counts to
plain sums, :meth:`LatencyObserver.flush` (the observer's flush: once a second and on
every scrape) adds those to the Prometheus counters, and, at most once a second per
match, :meth:`~LatencyObserver.tick` logs the faults
(``match.input_faults``) so a hostile client is visible without flooding the log.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from server.ops.events import Event, log_event
from server.ops.metrics import Metrics

if TYPE_CHECKING:
    from server.core.frame import FrameResult
    from server.match.match import Match

log = logging.getLogger("tickwire.server")

TIMINGS = ("late", "early", "on_time")
FAULTS = (
    "superseded",
    "caught_up",
    "carried",
    "starved",
    "seq_not_newer",
    "seq_required",
    "view_future",
    "view_too_old",
)
LOG_EVERY_S = 1.0


class LatencyObserver:
    """One per :class:`~server.ops.observer.Observer` (one game kind)."""

    def __init__(self, metrics: Metrics, kind: str) -> None:
        self._timing = {t: metrics.inputs_timing.labels(kind, t) for t in TIMINGS}
        self._faults = {f: metrics.input_faults.labels(kind, f) for f in FAULTS}
        self._rewinds = metrics.rewinds.labels(kind)
        self._clamped = metrics.rewinds_clamped.labels(kind)
        self._sums: dict[str, float] = dict.fromkeys((*TIMINGS, *FAULTS, "rewinds", "clamped"), 0.0)
        """Counts since the last :meth:`flush`."""
        self._pending: dict[str, dict[str, int]] = {}
        self._logged_s: dict[str, float] = {}

    def tick(self, match: Match, result: FrameResult | None) -> None:
        """Export the counts of ``match`` since its last tick."""
        totals = match.intake.take_totals()
        sums = self._sums
        if totals:
            for name, n in totals.items():
                sums[name] += n
                if name not in self._timing:
                    pending = self._pending.setdefault(match.match_id, {})
                    pending[name] = pending.get(name, 0) + n
        if result is not None and result.stats:
            rewinds = result.stats.get("rewinds", 0)
            if rewinds:
                sums["rewinds"] += rewinds
                sums["clamped"] += result.stats.get("rewinds_clamped", 0)
        if match.match_id in self._pending:
            now = time.monotonic()
            if now - self._logged_s.get(match.match_id, 0.0) >= LOG_EVERY_S:
                self._logged_s[match.match_id] = now
                faults = self._pending.pop(match.match_id)
                log_event(
                    log,
                    logging.WARNING
                    if set(faults) - {"superseded", "caught_up", "carried", "starved"}
                    else logging.INFO,
                    Event.INPUT_FAULTS,
                    "match %s: input faults in the last second or more: %s",
                    match.match_id,
                    ", ".join(f"{k} {v}" for k, v in sorted(faults.items())),
                    match_id=match.match_id,
                    match_trace_id=match.trace_id,
                )

    def flush(self) -> None:
        """Add the counts since the last flush to the Prometheus counters."""
        sums = self._sums
        for name, n in sums.items():
            if not n:
                continue
            if name in self._timing:
                self._timing[name].inc(n)
            elif name in self._faults:
                self._faults[name].inc(n)
            else:
                (self._rewinds if name == "rewinds" else self._clamped).inc(n)
            sums[name] = 0

    def retired(self, match_id: str) -> None:
        """Forget a retired match's pending counts."""
        self._pending.pop(match_id, None)
        self._logged_s.pop(match_id, None)
