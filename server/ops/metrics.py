"""Prometheus collectors, owned by one :class:`Metrics` object on an injected registry.

Labels never include a match id or player id (cardinality): matches are labelled by
``kind`` (the game name and sync mode, e.g. ``arena/state``). Every metric is listed in
docs/operations.md with its type, labels and unit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import (
    gc_collector as _gc,
)
from prometheus_client import (
    platform_collector as _platform,
)
from prometheus_client import (
    process_collector as _process,
)

# 0.1 ms .. ~100 ms, roughly x2 per bucket, plus 250 ms for disasters.
TICK_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.002,
    0.004,
    0.008,
    0.016,
    0.032,
    0.064,
    0.1,
    0.25,
)


def observe_many(child: Histogram, values: Sequence[float]) -> None:
    """Add ``values`` to one histogram series at once, as ``observe`` per value would.

    ``child`` is a labelled series (``histogram.labels(...)``) or an unlabelled
    histogram. Each value goes into the first bucket whose upper bound is at or above it
    (Prometheus' ``le``), and the sum grows by their total: one bucket increment per
    occupied bucket instead of a locked ``observe`` per value (~1 us each). It reads
    the series' bucket cells (``_upper_bounds``, ``_buckets``, ``_sum``: prometheus_client
    0.2x); a series without them gets ``observe`` per value.
    """
    if not values:
        return
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    total = getattr(child, "_sum", None)
    if bounds is None or buckets is None or total is None:
        for v in values:
            child.observe(v)
        return
    arr = np.asarray(values, dtype=np.float64)
    per_bucket = np.bincount(np.searchsorted(bounds, arr, side="left"), minlength=len(bounds))
    for i in np.flatnonzero(per_bucket).tolist():
        buckets[i].inc(float(per_bucket[i]))
    total.inc(float(arr.sum()))


class Metrics:
    """Every Tickwire metric. Create one per server (tests create their own registry)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        _process.ProcessCollector(registry=r)
        _platform.PlatformCollector(registry=r)
        _gc.GCCollector(registry=r)
        self.tick_duration = Histogram(
            "tickwire_tick_duration_seconds",
            "Time spent in one tick, by phase ('total' for the whole tick incl. sending).",
            ["kind", "phase"],
            buckets=TICK_BUCKETS,
            registry=r,
        )
        self.system_duration = Histogram(
            "tickwire_system_duration_seconds",
            "Time spent in one system during one tick.",
            ["kind", "system"],
            buckets=TICK_BUCKETS,
            registry=r,
        )
        self.tick_lateness = Histogram(
            "tickwire_tick_lateness_seconds",
            "How late a tick started: start time minus its deadline.",
            ["kind"],
            buckets=TICK_BUCKETS,
            registry=r,
        )
        self.ticks = Counter("tickwire_ticks", "Ticks run.", ["kind"], registry=r)
        self.ticks_overrun = Counter(
            "tickwire_ticks_overrun",
            "Ticks whose work took longer than one tick period.",
            ["kind"],
            registry=r,
        )
        self.ticks_skipped = Counter(
            "tickwire_ticks_skipped",
            "Tick deadlines skipped because the match fell too far behind.",
            ["kind"],
            registry=r,
        )
        self.clients = Gauge("tickwire_clients_connected", "Open websocket sessions.", registry=r)
        self.matches = Gauge("tickwire_matches", "Matches by state.", ["state"], registry=r)
        self.joins = Counter("tickwire_joins", "Players who joined.", ["kind"], registry=r)
        self.leaves = Counter(
            "tickwire_leaves", "Players who left, by reason.", ["kind", "reason"], registry=r
        )
        self.auth_rejected = Counter(
            "tickwire_auth_rejected",
            "HELLOs refused for their token (BAD_TOKEN), by reason class.",
            ["reason"],
            registry=r,
        )
        self.banned = Counter(
            "tickwire_banned_refused", "Connections of banned players refused.", registry=r
        )
        self.admin_requests = Counter(
            "tickwire_admin_requests",
            "Admin API requests, by HTTP status.",
            ["status"],
            registry=r,
        )
        self.reconnects = Counter(
            "tickwire_reconnects", "Successful resumes of a dropped seat.", registry=r
        )
        self.messages_in = Counter(
            "tickwire_messages_received", "Client messages received, by type.", ["type"], registry=r
        )
        self.messages_out = Counter(
            "tickwire_messages_sent", "Messages sent to clients, by type.", ["type"], registry=r
        )
        self.bytes_in = Counter(
            "tickwire_received_bytes", "Bytes of client messages received.", registry=r
        )
        self.bytes_out = Counter(
            "tickwire_sent_bytes", "Bytes of messages sent, by type.", ["type"], registry=r
        )
        self.protocol_errors = Counter(
            "tickwire_protocol_errors", "Protocol violations, by close code.", ["code"], registry=r
        )
        self.closes = Counter(
            "tickwire_closes",
            "Connections closed by the server, by close code.",
            ["code"],
            registry=r,
        )
        self.input_errors = Counter(
            "tickwire_input_errors",
            "Inputs refused without closing, by error code.",
            ["code"],
            registry=r,
        )
        self.inputs_timing = Counter(
            "tickwire_inputs_timing",
            "State-sync inputs by arrival against the next tick: late, early, on_time.",
            ["kind", "timing"],
            registry=r,
        )
        self.input_faults = Counter(
            "tickwire_input_faults",
            "State-sync input faults: superseded, caught up, carried or starved in the "
            "buffer, refused for their seq, or with a clamped view, by fault.",
            ["kind", "fault"],
            registry=r,
        )
        self.rewinds = Counter(
            "tickwire_rewinds", "Lag-compensation rewinds (one per view).", ["kind"], registry=r
        )
        self.rewinds_clamped = Counter(
            "tickwire_rewinds_clamped",
            "Rewinds whose view was clamped to the history (future or too old).",
            ["kind"],
            registry=r,
        )
        self.rate_limited = Counter(
            "tickwire_rate_limited",
            "Connections closed for exceeding the rate limit.",
            registry=r,
        )
        self.matchmake_refused = Counter(
            "tickwire_matchmake_refused",
            "HTTP matchmaking requests answered with an error, by error code.",
            ["code"],
            registry=r,
        )
        self.reservations_refused = Counter(
            "tickwire_reservations_refused",
            "HELLOs whose seat reservation was forged, expired or already used.",
            ["code"],
            registry=r,
        )
        self.code_attempts = Counter(
            "tickwire_code_attempts",
            "Private-match join codes tried: ok, wrong, or refused while limited.",
            ["outcome"],
            registry=r,
        )
        self.snapshots_dropped = Counter(
            "tickwire_snapshots_dropped",
            "State frames not built because the client had not taken the previous one.",
            registry=r,
        )
        self.desyncs = Counter(
            "tickwire_lockstep_desyncs", "Lockstep checksum mismatches.", registry=r
        )
        self.match_failures = Counter(
            "tickwire_match_failures", "Matches ended by a failing system.", ["kind"], registry=r
        )
        self.degradation = Gauge(
            "tickwire_degradation_level",
            "Overload degradation level: 0 normal, 1 far entities slowed, 2 no new matches, "
            "3 no new joins.",
            registry=r,
        )
        self.draining = Gauge(
            "tickwire_draining", "1 while the server drains for shutdown.", registry=r
        )
        self.state_entities_changed = Counter(
            "tickwire_state_entities_changed",
            "Entity updates (entered + changed) written into state frames.",
            registry=r,
        )
        self.state_frames_implicit = Counter(
            "tickwire_state_frames_implicit",
            "State frames built from the client's implicit baseline (the interest-by-cell "
            "path's steady seats); the rest took the explicit per-pair path.",
            registry=r,
        )
        # The directory's series carry ``cluster`` (--cluster-name) and exist only on a
        # clustered node (--redis-url): a single node exports none, so no alert fires there.
        self.directory_up = Gauge(
            "tickwire_directory_up",
            "1 while the last heartbeat to the cluster directory (Redis) succeeded.",
            ["cluster"],
            registry=r,
        )
        self.directory_failures = Counter(
            "tickwire_directory_heartbeat_failures",
            "Heartbeats the cluster directory did not take (Redis down or slow).",
            ["cluster"],
            registry=r,
        )
        self.directory_heartbeat_age = Gauge(
            "tickwire_directory_heartbeat_age_seconds",
            "Seconds since the directory last took this node's heartbeat (since start before "
            "the first); above tickwire_directory_ttl_seconds the node is out of the directory.",
            ["cluster"],
            registry=r,
        )
        self.directory_ttl = Gauge(
            "tickwire_directory_ttl_seconds",
            "TTL of this node's directory entries (--directory-ttl-s).",
            ["cluster"],
            registry=r,
        )
        self.directory_orphans = Gauge(
            "tickwire_directory_orphan_entries",
            "Match entries in the directory under nodes whose heartbeat key is gone, at the "
            "node's last audit (normally 0: entries expire with their node).",
            ["cluster"],
            registry=r,
        )

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)
