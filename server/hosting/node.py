"""This process as a node of a cluster: its identity, and its entries in the directory.

Without ``--redis-url`` there is no cluster and nothing here runs (the embedded default:
a single node, match ids ``m1``, ``m2`` …). With it, the node:

- takes a node id ``<node-name>-<incarnation>`` (4 hex digits, new at every start), so a
  restarted worker never reuses an old id and no old match id or resume token routes to it;
- names its matches ``<node id>~m<n>`` (the node is in the id, so a ``match_id`` routes
  without a directory look-up);
- heartbeats every ``heartbeat_interval_s`` (default 2 s): its :class:`NodeRecord` and
  all its live matches, written in one transaction with a TTL of ``directory_ttl_s``
  (default 10 s). A heartbeat that fails (Redis stopped, unreachable) is logged once,
  counted, and retried on the next interval; running matches never wait for it (the
  directory is never on the tick path). When Redis answers again, the next heartbeat
  re-registers everything: no restart needed;
- every ``audit_interval_s`` (default 30 s) audits the directory: counts the match
  entries stored under nodes whose heartbeat key is gone
  (:meth:`~server.directory.redis_store.RedisDirectory.orphan_entries`; normally 0, as
  entries expire with their node) into :attr:`DirectoryHealth.orphan_entries`, which
  ``tickwire_directory_orphan_entries`` exports and an alert watches;
- on drain removes its entries at once, so no new player is sent to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.directory import DirectoryUnavailable, MatchRecord, NodeRecord
from server.match.match import Match, MatchState

if TYPE_CHECKING:  # redis is imported only by servers that are clustered (RSS, start-up)
    from server.directory.redis_store import RedisDirectory, RequestHandler
    from server.hosting.directory import Directory


log = logging.getLogger("tickwire.server")


def new_node_id(name: str) -> str:
    """``<name>-<4 hex digits>``: a fresh incarnation of the named node."""
    return f"{name}-{secrets.token_hex(2)}"


class ProcessLoad:
    """This process's CPU use since the previous call, in cores (0..1 for one thread).

    CPU time over wall time is the load the node advertises: it weighs tick work,
    sending and receiving alike, and costs two clock reads per heartbeat."""

    def __init__(self) -> None:
        self._cpu = time.process_time()
        self._wall = time.monotonic()

    def __call__(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        used = (cpu - self._cpu) / max(1e-6, wall - self._wall)
        self._cpu, self._wall = cpu, wall
        return used


def match_record(
    node_id: str, match: Match, *, locked: bool = False, reserved: int = 0
) -> MatchRecord:
    """The directory entry of one live match (``reserved``: seats held by reservations)."""
    row = match.labels()
    info = {k: row[k] for k in _INFO_KEYS if k in row}
    return MatchRecord(
        match_id=match.match_id,
        node_id=node_id,
        game=match.definition.name,
        players=match.players,
        capacity=match.capacity,
        state=str(match.state),
        private=bool(match.private),
        locked=locked,
        labels=dict(match.label_values),
        reserved=reserved,
        info=info,
    )


_INFO_KEYS = ("mode", "spectators", "tick_rate_hz", "snapshot_rate_hz", "tick", "entities")


def directory_records(node_id: str, directory: Directory, now_s: float) -> list[MatchRecord]:
    """Every live match of the host's games as directory entries (labels, locks, seats
    held by pending reservations included)."""
    return [
        match_record(
            node_id,
            m,
            locked=m.match_id in directory.locked,
            reserved=directory.reservations.held(m.match_id, now_s),
        )
        for m in directory.matches()
        if m.state is not MatchState.ENDED
    ]


@dataclass(slots=True)
class DirectoryHealth:
    """What the node knows of its directory link (read by /healthz and metrics)."""

    up: bool = False
    heartbeats: int = 0
    failures: int = 0
    last_error: str = ""
    last_ok_s: float = 0.0
    """Wall-clock time (``time.time()``) of the last heartbeat the directory took; 0: none yet."""
    orphan_entries: int = 0
    """Match entries under nodes without a heartbeat key, at the last audit."""
    audits: int = 0


class ClusterNode:
    """Keeps this node's directory entries fresh; see the module docstring."""

    def __init__(
        self,
        directory: RedisDirectory,
        node_id: str,
        public_url: str,
        http_url: str,
        matches: Callable[[], list[MatchRecord]],
        load: Callable[[], float],
        *,
        heartbeat_interval_s: float = 2.0,
        on_change: Callable[[DirectoryHealth], None] | None = None,
        audit_interval_s: float = 30.0,
    ) -> None:
        self.directory = directory
        self.node_id = node_id
        self.public_url = public_url
        self.http_url = http_url
        self.started_at_s = time.time()
        self.draining = False
        self.health = DirectoryHealth()
        self._matches = matches
        self._load = load
        self.interval_s = heartbeat_interval_s
        """Seconds between heartbeats."""
        self.audit_interval_s = audit_interval_s
        """Seconds between orphan-entry audits (the first follows the first heartbeat)."""
        self._on_change = on_change
        self._task: asyncio.Task[None] | None = None
        self._serving: asyncio.Task[None] | None = None

    def record(self) -> tuple[NodeRecord, list[MatchRecord]]:
        """This node and its live matches, as the directory stores them."""
        live = self._matches()
        node = NodeRecord(
            node_id=self.node_id,
            public_url=self.public_url,
            http_url=self.http_url,
            started_at_s=self.started_at_s,
            load=round(self._load(), 4),
            players=sum(m.players + m.reserved for m in live),
            matches=len(live),
            draining=self.draining,
        )
        return node, live

    async def heartbeat_once(self) -> bool:
        """One heartbeat; True if the directory took it."""
        node, matches = self.record()
        was_up = self.health.up
        try:
            await self.directory.heartbeat(node, matches)
        except DirectoryUnavailable as exc:
            self.health.failures += 1
            self.health.last_error = str(exc)
            self.health.up = False
        else:
            self.health.heartbeats += 1
            self.health.last_ok_s = time.time()
            self.health.up = True
        if self._on_change is not None and (was_up != self.health.up or not self.health.up):
            self._on_change(self.health)
        return self.health.up

    async def audit_once(self) -> int | None:
        """Count the directory's orphan entries into :attr:`health`; None if Redis failed."""
        try:
            found = await self.directory.orphan_entries()
        except DirectoryUnavailable:
            return None
        if found != self.health.orphan_entries and found:
            log.warning("directory holds %d match entries of nodes without a heartbeat", found)
        self.health.orphan_entries = found
        self.health.audits += 1
        return found

    async def _run(self) -> None:
        next_audit = 0.0
        audit: asyncio.Task[int | None] | None = None
        try:
            while not self.draining:
                if await self.heartbeat_once() and time.monotonic() >= next_audit:
                    # In a task of its own: a slow SCAN never delays the next heartbeat.
                    if audit is None or audit.done():
                        audit = asyncio.get_running_loop().create_task(self.audit_once())
                    next_audit = time.monotonic() + self.audit_interval_s
                await asyncio.sleep(self.interval_s)
        finally:
            if audit is not None:
                audit.cancel()

    def start(self) -> None:
        """Start heartbeating (the first heartbeat goes out at once)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="heartbeat")

    def serve(self, handler: RequestHandler) -> None:
        """Answer requests other nodes send this node (seat reservations) until stopped."""
        self._serving = asyncio.get_running_loop().create_task(
            self.directory.serve_requests(self.node_id, handler), name="node-requests"
        )

    async def stop(self) -> None:
        """Stop heartbeating and delete this node's entries (best effort), then close."""
        self.draining = True
        for task in (self._serving, self._task):
            if task is not None:
                await _cancel(task)
        with contextlib.suppress(DirectoryUnavailable):
            await self.directory.remove_node(self.node_id)
        await self.directory.close()


async def _cancel(task: asyncio.Task[None], retry_s: float = 1.0) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling again every ``retry_s`` if
    a cancel was absorbed below it (a Redis reply arriving with the cancel), so a
    node's stop never hangs on its request loop."""
    while not task.done():
        task.cancel()
        await asyncio.wait((task,), timeout=retry_s)
    with contextlib.suppress(asyncio.CancelledError):
        task.result()
