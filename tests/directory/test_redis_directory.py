"""The Redis directory against a real redis-server: heartbeats, expiry, requests, outages."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from server.directory import DirectoryUnavailable, MatchRecord, NodeRecord, qualified_match_id
from server.directory.redis_store import RedisDirectory


def node(name: str, **kw: Any) -> NodeRecord:
    return NodeRecord(
        node_id=name,
        public_url=f"ws://127.0.0.1:1/{name}",
        http_url="http://127.0.0.1:1",
        started_at_s=time.time(),
        **kw,
    )


def match(node_id: str, n: int, **kw: Any) -> MatchRecord:
    base: dict[str, Any] = {"game": "arena", "players": 1, "capacity": 8, "state": "running"}
    base.update(kw)
    return MatchRecord(match_id=qualified_match_id(node_id, f"m{n}"), node_id=node_id, **base)


async def test_directory_lists_the_matches_of_live_nodes(redis_server: Any) -> None:
    """Two nodes heartbeat; a listing shows both nodes' matches, filtered by game on request."""
    d = RedisDirectory(redis_server.url, cluster="t1", ttl_s=5)
    try:
        await d.heartbeat(node("a"), [match("a", 1), match("a", 2, game="tag")])
        await d.heartbeat(node("b"), [match("b", 1)])
        assert [n.node_id for n in await d.live_nodes()] == ["a", "b"]
        ids = [m.match_id for m in await d.list_matches()]
        assert ids == ["a~m1", "a~m2", "b~m1"]
        assert [m.match_id for m in await d.list_matches(game="tag")] == ["a~m2"]
        found = await d.find_match("a~m2")
        assert found is not None
        assert found.game == "tag"
        assert await d.find_match("zz~m1") is None
    finally:
        await d.close()


async def test_directory_hides_a_dead_nodes_matches_within_the_ttl(
    redis_server: Any,
) -> None:
    """A node that stops heartbeating (as after SIGKILL) vanishes with its matches in one TTL."""
    d = RedisDirectory(redis_server.url, cluster="t2", ttl_s=0.5)
    try:
        await d.heartbeat(node("dead"), [match("dead", 1)])
        await d.heartbeat(node("alive"), [match("alive", 1)])
        await asyncio.sleep(0.3)
        await d.heartbeat(node("alive"), [match("alive", 1)])
        await asyncio.sleep(0.35)  # 0.65 s after dead's last heartbeat
        assert [m.match_id for m in await d.list_matches()] == ["alive~m1"]
        assert await d.find_match("dead~m1") is None
    finally:
        await d.close()


async def test_directory_never_offers_an_entry_whose_node_heartbeat_is_gone(
    redis_server: Any,
) -> None:
    """Even while a match hash outlives its node key, the listing does not show it."""
    d = RedisDirectory(redis_server.url, cluster="t3", ttl_s=30)
    try:
        await d.heartbeat(node("n"), [match("n", 1)])
        # The node key alone is deleted (its TTL ran out first, say): the entry is hidden.
        await d._redis.delete("tw:t3:node:n")
        assert await d.list_matches() == []
        assert await d.find_match("n~m1") is None
    finally:
        await d.close()


async def test_directory_removes_a_draining_node_at_once(redis_server: Any) -> None:
    """remove_node deletes the node's keys without waiting for the TTL."""
    d = RedisDirectory(redis_server.url, cluster="t4", ttl_s=30)
    try:
        await d.heartbeat(node("x"), [match("x", 1)])
        await d.remove_node("x")
        assert await d.live_nodes() == []
        assert await d.list_matches() == []
    finally:
        await d.close()


@pytest.mark.parametrize("replies", ["pubsub", "list"])
async def test_directory_carries_a_request_to_another_node_and_back(
    redis_server: Any, replies: str
) -> None:
    """Node a asks node b to do something over Redis and gets b's reply (pub/sub replies,
    and the older reply lists); many requests in flight each get their own reply."""
    a = RedisDirectory(redis_server.url, cluster="t5", replies=replies)
    b = RedisDirectory(redis_server.url, cluster="t5")

    async def handler(op: str, body: dict[str, Any]) -> dict[str, Any]:
        if op == "boom":
            raise RuntimeError("handler broke")
        return {"op": op, "echo": body["x"] * 2}

    serving = asyncio.create_task(b.serve_requests("b", handler))
    try:
        assert await a.request("b", "reserve", {"x": 21}) == {"op": "reserve", "echo": 42}
        n = 100 if replies == "pubsub" else 10  # a list reply holds a connection each
        many = await asyncio.gather(*(a.request("b", "reserve", {"x": i}) for i in range(n)))
        assert [r["echo"] for r in many] == [2 * i for i in range(n)]
        broken = await a.request("b", "boom", {})
        assert broken["error"]["code"] == "internal"
        with pytest.raises(DirectoryUnavailable, match="did not answer"):
            await a.request("nobody", "reserve", {}, timeout_s=0.3)
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await a.close()
        await b.close()


async def test_directory_fails_fast_while_redis_is_down_and_recovers(
    redis_server: Any,
) -> None:
    """With Redis stopped every call raises DirectoryUnavailable within ~2 s; after a
    restart on the same port the same object works again without being rebuilt."""
    d = RedisDirectory(redis_server.url, cluster="t6", ttl_s=5, op_timeout_s=0.5)
    try:
        await d.heartbeat(node("n"), [match("n", 1)])
        redis_server.stop()
        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable):
            await d.heartbeat(node("n"), [match("n", 1)])
        with pytest.raises(DirectoryUnavailable):
            await d.list_matches()
        assert time.monotonic() - started < 4.0
        redis_server.start()
        await d.heartbeat(node("n"), [match("n", 1)])
        assert [m.match_id for m in await d.list_matches()] == ["n~m1"]
    finally:
        await d.close()


async def test_requests_work_again_after_redis_restarts(redis_server: Any) -> None:
    """The pub/sub reply subscription comes back by itself after an outage."""
    a = RedisDirectory(redis_server.url, cluster="t8", op_timeout_s=0.5)
    b = RedisDirectory(redis_server.url, cluster="t8", op_timeout_s=0.5)

    async def handler(op: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    serving = asyncio.create_task(b.serve_requests("b", handler))
    try:
        assert await a.request("b", "x", {}) == {"ok": True}
        redis_server.stop()
        with pytest.raises(DirectoryUnavailable):
            await a.request("b", "x", {}, timeout_s=0.5)
        redis_server.start()
        for _ in range(50):  # the subscription and the server loop reconnect on their own
            try:
                assert await a.request("b", "x", {}, timeout_s=0.5) == {"ok": True}
                break
            except DirectoryUnavailable:
                await asyncio.sleep(0.2)
        else:
            raise AssertionError("requests never worked again after the restart")
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await a.close()
        await b.close()


async def test_open_snapshot_reads_live_nodes_and_open_matches_of_one_game(
    redis_server: Any,
) -> None:
    """One Lua call: live nodes, and only their open matches of the game (not full, private
    or locked ones, not other games, nothing of a node whose heartbeat key is gone)."""
    d = RedisDirectory(redis_server.url, cluster="t9", ttl_s=5)
    try:
        await d.heartbeat(
            node("a", players=3),
            [
                match("a", 1),
                match("a", 2, players=8),
                match("a", 3, private=True),
                match("a", 4, locked=True),
                match("a", 5, players=7, reserved=1),
                match("a", 6, game="tag"),
            ],
        )
        await d.heartbeat(node("b"), [match("b", 1)])
        await d.heartbeat(node("gone"), [match("gone", 1)])
        await d._redis.delete("tw:t9:node:gone")  # as if its TTL ran out
        nodes, opened = await d.open_snapshot("arena")
        assert [n.node_id for n in nodes] == ["a", "b"]
        assert nodes[0].players == 3
        assert sorted(m.match_id for m in opened) == ["a~m1", "b~m1"]
        assert [m.match_id for m in (await d.open_snapshot("tag"))[1]] == ["a~m6"]
        assert "gone" not in [n.node_id for n in await d.live_nodes()]  # forgotten
        await d.heartbeat(node("a"), [match("a", 1, players=8)])  # a's match filled
        assert [m.match_id for m in (await d.open_snapshot("arena"))[1]] == ["b~m1"]
    finally:
        await d.close()


async def test_targets_file_lists_every_live_nodes_metrics_address(
    redis_server: Any, tmp_path: Any
) -> None:
    """The Prometheus file_sd JSON has one group per live node, labelled with its id."""
    import json

    from server.cluster.targets import main as targets_main

    d = RedisDirectory(redis_server.url, cluster="t7", ttl_s=30)
    try:
        for name, port in (("a", 8001), ("b", 8002)):
            rec = NodeRecord(name, "ws://h/ws", f"http://127.0.0.1:{port}", 0.0)
            await d.heartbeat(rec, [])
    finally:
        await d.close()
    out = tmp_path / "nodes.json"
    args = ["--redis-url", redis_server.url, "--cluster-name", "t7", "--out", str(out)]
    assert await asyncio.to_thread(targets_main, args) == 0
    assert json.loads(out.read_text()) == [
        {"targets": ["127.0.0.1:8001"], "labels": {"node": "a"}},
        {"targets": ["127.0.0.1:8002"], "labels": {"node": "b"}},
    ]
