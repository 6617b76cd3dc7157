"""Watching the cluster directory link: gauges, a failure counter, one log line per change.

The node (:mod:`server.hosting.node`) reports every heartbeat's outcome here; this module
turns it into ``tickwire_directory_up`` (1/0), ``tickwire_directory_heartbeat_failures_total``
and a warning when the link goes down / an info line when it comes back (not one line per
failed heartbeat: a 30 s Redis outage is two lines, not fifteen). :meth:`DirectoryObserver.watch`
adds the gauges read at scrape time from the node's :class:`DirectoryHealth`:
``tickwire_directory_heartbeat_age_seconds`` (beside ``tickwire_directory_ttl_seconds``: a
node whose heartbeat is older than the TTL is missing from the directory, whatever the
cause: Redis down, a cut link, a stuck heartbeat task) and
``tickwire_directory_orphan_entries`` (the last audit's count). Every series is labelled
``cluster``; a node without ``--redis-url`` exports none of them.
"""

from __future__ import annotations

import logging
import time

from server.hosting.node import DirectoryHealth
from server.ops.events import Event, log_event
from server.ops.metrics import Metrics

log = logging.getLogger("tickwire.server")


class DirectoryObserver:
    """Metrics and logs of the directory link of one node."""

    def __init__(
        self, metrics: Metrics, node_id: str, cluster: str = "tickwire", ttl_s: float = 10.0
    ) -> None:
        self.node_id = node_id
        self._metrics = metrics
        self._cluster = cluster
        self._started_s = time.time()
        self._up = metrics.directory_up.labels(cluster=cluster)
        self._up.set(0)
        self._failures = metrics.directory_failures.labels(cluster=cluster)
        metrics.directory_ttl.labels(cluster=cluster).set(ttl_s)
        self._was_up: bool | None = None

    def watch(self, health: DirectoryHealth) -> None:
        """Export the heartbeat age and the orphan count of ``health`` (read at each scrape)."""
        started = self._started_s
        self._metrics.directory_heartbeat_age.labels(cluster=self._cluster).set_function(
            lambda: time.time() - (health.last_ok_s or started)
        )
        self._metrics.directory_orphans.labels(cluster=self._cluster).set_function(
            lambda: float(health.orphan_entries)
        )

    def __call__(self, health: DirectoryHealth) -> None:
        """One heartbeat's outcome (the node calls this on every failure and change)."""
        self._up.set(1 if health.up else 0)
        if not health.up:
            self._failures.inc()
        if health.up == self._was_up:
            return
        if health.up:
            log_event(
                log,
                logging.INFO,
                Event.DIRECTORY_UP,
                "directory reachable: node %s registered",
                self.node_id,
                node_id=self.node_id,
            )
        else:
            log_event(
                log,
                logging.WARNING,
                Event.DIRECTORY_DOWN,
                "directory unreachable (%s): new joins that need it fail, matches go on",
                health.last_error,
                node_id=self.node_id,
            )
        self._was_up = health.up
