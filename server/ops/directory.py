"""Watching the cluster directory link: a gauge, a failure counter, one log line per change.

The node (:mod:`server.hosting.node`) reports every heartbeat's outcome here; this module
turns it into ``tickwire_directory_up`` (1/0), ``tickwire_directory_heartbeat_failures_total``
and a warning when the link goes down / an info line when it comes back (not one line per
failed heartbeat: a 30 s Redis outage is two lines, not fifteen).
"""

from __future__ import annotations

import logging

from server.hosting.node import DirectoryHealth
from server.ops.events import Event, log_event
from server.ops.metrics import Metrics

log = logging.getLogger("tickwire.server")


class DirectoryObserver:
    """Metrics and logs of the directory link of one node."""

    def __init__(self, metrics: Metrics, node_id: str) -> None:
        self.node_id = node_id
        self._up = metrics.directory_up
        self._failures = metrics.directory_failures
        self._was_up: bool | None = None

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
