"""Coalesced directory round trips against a real redis-server: many requests in flight
cost a few commands, and batched replies stay readable across versions."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis.asyncio as aioredis
from test_redis_directory import match, node

from server.directory.redis_store import RedisDirectory


async def test_requests_in_flight_share_round_trips_both_ways(redis_server: Any) -> None:
    """100 requests made at once: one pipelined push by the asker (RPUSH + PEXPIRE), two
    BLMPOPs and a few batched PUBLISHes by the answerer, and every reply to its request;
    20 concurrent open-match snapshots of one game: one Lua call, the same answer."""
    a = RedisDirectory(redis_server.url, cluster="tb1")
    b = RedisDirectory(redis_server.url, cluster="tb1")

    async def handler(op: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"echo": body["x"]}

    serving = asyncio.create_task(b.serve_requests("b", handler))
    try:
        assert await a.request("b", "reserve", {"x": -1}) == {"echo": -1}  # subscribed
        asked, answered = a.ops, b.ops
        many = await asyncio.gather(*(a.request("b", "reserve", {"x": i}) for i in range(100)))
        assert [r["echo"] for r in many] == list(range(100))
        assert a.ops - asked == 2
        assert b.ops - answered <= 8  # 2 BLMPOP (64 + 36) and the PUBLISHes of batches

        await b.heartbeat(node("b"), [match("b", 1), match("b", 2, players=3)])
        before = a.ops
        snaps = await asyncio.gather(*(a.open_snapshot("arena") for _ in range(20)))
        assert a.ops - before == 1
        assert all(s == snaps[0] for s in snaps)
        assert sorted(m.match_id for m in snaps[0][1]) == ["b~m1", "b~m2"]
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await a.close()
        await b.close()


async def test_batched_replies_only_to_requesters_that_take_them(redis_server: Any) -> None:
    """A request without ``batch`` (an older node) gets one ``{id, reply}`` message; the
    listener reads both that and a JSON list of replies."""
    b = RedisDirectory(redis_server.url, cluster="tb2")
    a = RedisDirectory(redis_server.url, cluster="tb2")

    async def handler(op: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": body["n"]}

    serving = asyncio.create_task(b.serve_requests("b", handler))
    old_node = aioredis.Redis.from_url(redis_server.url)  # a client of its own, as a node
    pubsub = old_node.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe("old-node")
        for n in range(3):
            message = {"id": f"r{n}", "op": "x", "body": {"n": n}, "channel": "old-node"}
            await b._redis.rpush("tw:tb2:inbox:b", json.dumps(message))
        got: list[Any] = []
        deadline = asyncio.get_running_loop().time() + 10.0
        while len(got) < 3 and asyncio.get_running_loop().time() < deadline:
            msg = await pubsub.get_message(timeout=1.0)  # None: the subscribe confirmation
            if msg is not None:
                got.append(json.loads(msg["data"]))
        assert sorted(got, key=lambda m: m["id"]) == [
            {"id": f"r{n}", "reply": {"ok": n}} for n in range(3)
        ]

        listener = a._exchange.listener
        await listener.ensure_subscribed(5.0)
        one, two, three = (listener.expect(i) for i in ("p", "q", "s"))
        await b._redis.publish(listener.channel, json.dumps({"id": "p", "reply": {"v": 1}}))
        batch = [{"id": "q", "reply": {"v": 2}}, {"id": "s", "reply": {"v": 3}}]
        await b._redis.publish(listener.channel, json.dumps(batch))
        assert await asyncio.wait_for(asyncio.gather(one, two, three), 5.0) == [
            {"v": 1},
            {"v": 2},
            {"v": 3},
        ]
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await old_node.aclose()
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await a.close()
        await b.close()
