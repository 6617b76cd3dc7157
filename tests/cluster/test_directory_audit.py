"""The directory audit behind the "entries without a live node" alert, against a real
redis-server: orphan entries counted, live ones not; a clustered server exports the count,
the heartbeat age and the TTL, a single node exports no directory series at all."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from server.directory import MatchRecord, NodeRecord, qualified_match_id
from server.directory.redis_store import RedisDirectory
from server.testing import running_server


def node(name: str) -> NodeRecord:
    return NodeRecord(name, f"ws://127.0.0.1:1/{name}", "http://127.0.0.1:1", time.time())


def match(node_id: str, n: int, **kw: Any) -> MatchRecord:
    base: dict[str, Any] = {"game": "arena", "players": 1, "capacity": 8, "state": "running"}
    base.update(kw)
    return MatchRecord(match_id=qualified_match_id(node_id, f"m{n}"), node_id=node_id, **base)


async def test_audit_counts_entries_whose_node_heartbeat_is_gone(redis_server: Any) -> None:
    """Live nodes' entries are not orphans; entries that outlived their node's heartbeat
    key (made to by PERSIST, as a writer without TTLs would) and a hash of a node that
    never heartbeated are, open index included; listings never offer them."""
    d = RedisDirectory(redis_server.url, cluster="au", ttl_s=30)
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        assert await d.orphan_entries() == 0  # an empty directory
        await d.heartbeat(node("a"), [match("a", 1), match("a", 2, private=True)])
        await d.heartbeat(node("b"), [match("b", 1)])
        assert await d.orphan_entries() == 0
        await raw.persist("tw:au:matches:a")
        await raw.persist("tw:au:open:a")
        await raw.delete("tw:au:node:a")  # a's heartbeat gone, its entries left behind
        await raw.hset("tw:au:matches:ghost-0001", "ghost-0001~m1", "{}")
        # a: 2 match entries + 1 open-index entry (the private match is not open); ghost: 1
        assert await d.orphan_entries() == 4
        assert [m.match_id for m in await d.list_matches()] == ["b~m1"]
        other = RedisDirectory(redis_server.url, cluster="other")
        try:  # another cluster name on the same Redis sees none of them
            assert await other.orphan_entries() == 0
        finally:
            await other.close()
    finally:
        await raw.aclose()
        await d.close()


def samples(exposition: str, name: str) -> dict[str, float]:
    """``cluster`` label -> value of the ``name`` family's samples."""
    for family in text_string_to_metric_families(exposition):
        if family.name == name:
            return {s.labels.get("cluster", ""): s.value for s in family.samples}
    raise AssertionError(f"{name} is not exported")


async def test_a_clustered_server_exports_the_audit_heartbeat_age_and_ttl(
    redis_server: Any,
) -> None:
    """The heartbeat loop audits once at start (nothing found); an audit then finds a
    planted orphan entry and /metrics carries it, labelled by cluster, beside a heartbeat
    age under the TTL; a single node exports none of these."""
    async with running_server(
        redis_url=redis_server.url, cluster_name="ex", directory_ttl_s=5.0
    ) as srv:
        assert srv.node is not None
        for _ in range(100):  # the heartbeat loop audits right after its first heartbeat
            if srv.node.health.audits:
                break
            await asyncio.sleep(0.05)
        assert (srv.node.health.audits, srv.node.health.orphan_entries) == (1, 0)
        raw = aioredis.Redis.from_url(redis_server.url)
        try:
            await raw.hset("tw:ex:matches:gone-0001", "gone-0001~m1", "{}")
        finally:
            await raw.aclose()
        assert await srv.node.audit_once() == 1
        text = srv.metrics.exposition().decode()
        assert samples(text, "tickwire_directory_orphan_entries") == {"ex": 1.0}
        assert samples(text, "tickwire_directory_ttl_seconds") == {"ex": 5.0}
        assert samples(text, "tickwire_directory_up") == {"ex": 1.0}
        age = samples(text, "tickwire_directory_heartbeat_age_seconds")["ex"]
        assert 0.0 <= age < 5.0
    async with running_server() as single:
        text = single.metrics.exposition().decode()
        for name in (
            "tickwire_directory_up",
            "tickwire_directory_heartbeat_age_seconds",
            "tickwire_directory_orphan_entries",
        ):
            assert samples(text, name) == {}, name
