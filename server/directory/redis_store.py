"""The shared directory in Redis: node heartbeats with a TTL, match entries that die with
their node, and request/reply between nodes.

Keys, for cluster name ``C`` (all values JSON):

==============================  ===========================================================
``tw:C:node:<node>``            the node's :class:`NodeRecord`; ``PX ttl``, refreshed by
                                every heartbeat (default every 2 s, TTL 10 s)
``tw:C:nodes``                  sorted set of node ids -> last heartbeat (ms); discovery
                                without ``SCAN``; members whose heartbeat key is gone are
                                removed by whoever notices
``tw:C:matches:<node>``         hash match id -> :class:`MatchRecord`; rewritten whole by
                                each heartbeat (one ``MULTI``), ``PX ttl`` like the node key
``tw:C:open:<node>``            the node's *open index*: only its open matches, fields
                                ``<game>\x1f<match id>`` (join-or-create reads these, in
                                one Lua call: :mod:`server.directory.scripts`); same TTL
``tw:C:inbox:<node>``           list of requests for the node (``BLMPOP``, up to 64 at once)
``tw:C:replies:<instance>``     pub/sub channel of one directory object: replies to its
                                requests (:mod:`server.directory.replies`)
``tw:C:reply:<request id>``     list holding one reply (``replies="list"``: the older way,
                                one ``BLPOP`` per request; the benchmark's "before")
==============================  ===========================================================

A listing reads the live node keys first and keeps only entries of live nodes, so a node
killed with SIGKILL disappears from listings as soon as its heartbeat key expires, and
a match hash that outlived its node (it cannot, by its own TTL, but a clock jump could)
is never offered. Every Redis error or timeout becomes :class:`DirectoryUnavailable`:
callers answer 503 and running matches never notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.directory.coalesce import Coalescer
from server.directory.exchange import Exchange, RequestHandler
from server.directory.records import DirectoryUnavailable, MatchRecord, NodeRecord, node_of_match
from server.directory.scripts import OPEN_FIELD_SEPARATOR, OPEN_SNAPSHOT

log = logging.getLogger("tickwire.directory")

__all__ = ["RedisDirectory", "RequestHandler"]

T = TypeVar("T")

PARSED_CACHE = 4096
"""Parsed records kept by their JSON text (cleared when full): a record is rewritten only
by its node's heartbeat (every 2 s), so a join mostly reads texts it parsed already."""


class RedisDirectory:
    """One node's view of the cluster directory (see the module docstring for the keys)."""

    def __init__(
        self,
        url: str,
        *,
        cluster: str = "tickwire",
        ttl_s: float = 10.0,
        op_timeout_s: float = 1.0,
        replies: str = "pubsub",
        max_connections: int = 32,
    ) -> None:
        if replies not in ("pubsub", "list"):
            raise ValueError(f"replies: 'pubsub' or 'list', not {replies!r}")
        self.url = url
        self.replies = replies
        self.ttl_ms = int(ttl_s * 1000)
        self._prefix = f"tw:{cluster}:"
        self.op_timeout_s = op_timeout_s
        # At most ``max_connections`` (32), shared by every command of this node: a burst
        # (100 replies at once) queues for a connection instead of opening a hundred at
        # once (which time out on a loaded host).
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=op_timeout_s,
            socket_timeout=op_timeout_s,
            socket_connect_timeout=op_timeout_s,
        )
        self._redis = aioredis.Redis.from_pool(pool)  # closes the pool with itself
        # Blocking pops hold a connection for up to a second: a pool of their own, with
        # a socket timeout longer than the block so a quiet inbox is not an error.
        self._blocking = aioredis.Redis.from_url(
            url, socket_timeout=op_timeout_s + 2.0, socket_connect_timeout=op_timeout_s
        )
        self.ops = 0
        """Redis commands sent by this object (for the directory-cost benchmark)."""
        self._snapshot = self._redis.register_script(OPEN_SNAPSHOT)
        self._snapshots: Coalescer[str, None, tuple[list[NodeRecord], list[MatchRecord]]]
        self._snapshots = Coalescer(self._read_snapshot)
        self._nodes_parsed: dict[bytes | str, NodeRecord] = {}
        self._matches_parsed: dict[bytes | str, MatchRecord] = {}
        self._exchange = Exchange(self)

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    async def close(self) -> None:
        """Stop the reply subscription and close both connection pools."""
        await self._exchange.close()
        await self._snapshots.close()
        await self._redis.aclose()
        await self._blocking.aclose()

    async def _run(self, what: str, coro: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.op_timeout_s * 2):  # no task, unlike wait_for
                return await coro
        except (RedisError, OSError, TimeoutError) as exc:
            raise DirectoryUnavailable(f"directory {what} failed: {exc}") from exc

    async def ping(self) -> None:
        """Raise DirectoryUnavailable unless Redis answers."""
        self.ops += 1
        await self._run("ping", self._redis.ping())

    async def heartbeat(self, node: NodeRecord, matches: Sequence[MatchRecord]) -> None:
        """Refresh the node's key and replace its match entries, atomically (MULTI)."""
        node_key = self._key("node", node.node_id)
        matches_key = self._key("matches", node.node_id)
        open_key = self._key("open", node.node_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(node_key, node.to_json(), px=self.ttl_ms)
        pipe.zadd(self._key("nodes"), {node.node_id: int(time.time() * 1000)})
        pipe.delete(matches_key, open_key)
        self.ops += 3
        if matches:
            rows: dict[Any, Any] = {m.match_id: m.to_json() for m in matches}
            pipe.hset(matches_key, mapping=rows)
            pipe.pexpire(matches_key, self.ttl_ms)
            self.ops += 2
            opened: dict[Any, Any] = {
                f"{m.game}{OPEN_FIELD_SEPARATOR}{m.match_id}": rows[m.match_id]
                for m in matches
                if m.open
            }
            if opened:
                pipe.hset(open_key, mapping=opened)
                pipe.pexpire(open_key, self.ttl_ms)
                self.ops += 2
        await self._run("heartbeat", pipe.execute())

    async def remove_node(self, node_id: str) -> None:
        """Delete the node's keys at once (drain, clean shutdown)."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(
            self._key("node", node_id), self._key("matches", node_id), self._key("open", node_id)
        )
        pipe.zrem(self._key("nodes"), node_id)
        self.ops += 2
        await self._run("remove", pipe.execute())

    async def live_nodes(self) -> list[NodeRecord]:
        """Every node whose heartbeat key exists now, sorted by id."""
        ids = await self._run("list nodes", self._redis.zrange(self._key("nodes"), 0, -1))
        self.ops += 1
        if not ids:
            return []
        names = [i.decode() if isinstance(i, bytes) else str(i) for i in ids]
        values = await self._run(
            "read nodes", self._redis.mget([self._key("node", n) for n in names])
        )
        self.ops += 1
        live: list[NodeRecord] = []
        dead: list[str] = []
        for name, value in zip(names, values, strict=True):
            if value is None:
                dead.append(name)
                continue
            try:
                live.append(NodeRecord.from_json(value))
            except (ValueError, KeyError, TypeError):
                log.warning("unreadable heartbeat of node %s ignored", name)
        if dead:
            self.ops += 1
            await self._run("forget dead", self._redis.zrem(self._key("nodes"), *dead))
        return live

    async def list_matches(
        self, game: str | None = None, *, nodes: Sequence[NodeRecord] | None = None
    ) -> list[MatchRecord]:
        """Entries of live nodes only (optionally of one game), ordered by node then id.

        ``nodes``: the live nodes just read by the caller (saves reading them again)."""
        if nodes is None:
            nodes = await self.live_nodes()
        if not nodes:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for n in nodes:
            pipe.hvals(self._key("matches", n.node_id))
        self.ops += len(nodes)
        rows = await self._run("list matches", pipe.execute())
        live = {n.node_id for n in nodes}
        out: list[MatchRecord] = []
        for values in rows:
            for value in values:
                try:
                    record = MatchRecord.from_json(value)
                except (ValueError, KeyError, TypeError):
                    continue
                if record.node_id in live and (game is None or record.game == game):
                    out.append(record)
        out.sort(key=lambda r: (r.node_id, r.match_id))
        return out

    async def open_snapshot(self, game: str) -> tuple[list[NodeRecord], list[MatchRecord]]:
        """The live nodes and the open matches of ``game`` on them, in one Lua call
        (:data:`~server.directory.scripts.OPEN_SNAPSHOT`): what join-or-create needs.

        Concurrent calls for one game share a call (:mod:`server.directory.coalesce`),
        never one that started before them; the lists are shared: do not modify them."""
        return await self._snapshots.call(game, None)

    async def _read_snapshot(
        self, game: str, _: list[None]
    ) -> tuple[list[NodeRecord], list[MatchRecord]]:
        self.ops += 1
        raw = await self._run("open snapshot", self._snapshot(args=[self._prefix, game]))
        count = int(raw[0])
        nodes: list[NodeRecord] = []
        for value in raw[1 : 1 + count]:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                nodes.append(_parsed(self._nodes_parsed, value, NodeRecord.from_json))
        live = {n.node_id for n in nodes}
        matches: list[MatchRecord] = []
        for value in raw[1 + count :]:
            try:
                record = _parsed(self._matches_parsed, value, MatchRecord.from_json)
            except (ValueError, KeyError, TypeError):
                continue
            if record.node_id in live:
                matches.append(record)
        nodes.sort(key=lambda n: n.node_id)
        return nodes, matches

    async def orphan_entries(self) -> int:
        """Match entries (fields of ``matches:<node>`` and ``open:<node>``) stored under
        nodes whose heartbeat key is gone: what a listing would offer if it trusted entries
        alone (the stale rooms of a killed process). Normally 0, since entries expire with
        their node; a lasting count means something wrote them without the TTL. ``SCAN``s
        the cluster's keys (a few per node): for the periodic audit
        (:class:`~server.hosting.node.ClusterNode`), never the join path."""

        async def scan() -> dict[str, str]:  # key -> the node id it names
            found: dict[str, str] = {}
            for kind in ("matches", "open"):
                pattern = self._key(kind, "*")
                async for raw in self._redis.scan_iter(match=pattern, count=1000):
                    key = raw.decode() if isinstance(raw, bytes) else str(raw)
                    found[key] = key[len(pattern) - 1 :]
                self.ops += 1
            return found

        owners: dict[str, str] = await self._run("audit", scan())
        if not owners:
            return 0
        keys = list(owners)
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.exists(self._key("node", owners[key]))
            pipe.hlen(key)
        self.ops += 2 * len(keys)
        got = await self._run("audit", pipe.execute())
        return sum(int(n) for alive, n in zip(got[::2], got[1::2], strict=True) if not alive)

    async def find_match(self, match_id: str) -> MatchRecord | None:
        """The entry of a qualified match id, if its node is alive and still lists it."""
        node_id = node_of_match(match_id)
        if node_id is None:
            return None
        pipe = self._redis.pipeline(transaction=False)
        pipe.exists(self._key("node", node_id))
        pipe.hget(self._key("matches", node_id), match_id)
        self.ops += 2
        alive, value = await self._run("find match", pipe.execute())
        if not alive or value is None:
            return None
        return MatchRecord.from_json(value)

    async def request(
        self, node_id: str, op: str, body: dict[str, Any], timeout_s: float = 2.0
    ) -> dict[str, Any]:
        """Send ``op`` to another node and wait for its reply (coalesced with the other
        requests in flight: :mod:`server.directory.exchange`).

        Raises DirectoryUnavailable when Redis fails or no reply comes within
        ``timeout_s`` (the node may be dead, draining or overloaded)."""
        return await self._exchange.request(node_id, op, body, timeout_s)

    async def serve_requests(self, node_id: str, handler: RequestHandler) -> None:
        """Answer requests addressed to ``node_id`` until cancelled
        (:meth:`server.directory.exchange.Exchange.serve`)."""
        await self._exchange.serve(node_id, handler)


def _parsed(cache: dict[bytes | str, T], text: bytes | str, parse: Any) -> T:
    """``parse(text)``, remembered by the text (see :data:`PARSED_CACHE`)."""
    record = cache.get(text)
    if record is None:
        record = parse(text)
        if len(cache) >= PARSED_CACHE:
            cache.clear()
        cache[text] = record
    return record
