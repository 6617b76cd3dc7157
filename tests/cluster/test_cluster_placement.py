"""Placement across two real nodes and a real Redis: new matches on the least-loaded
node, quick joins to the cluster's fullest match, private codes and the matchmaker queue
on the ring's node, /matches of the whole cluster, and a dead node's ids answered
``node_gone`` (never forwarded to it)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from nodeproc import Node, http_json, post_json, start_nodes, wait_for

from server.cluster.placement import placement_score
from server.directory import RendezvousRing, node_of_match
from server.directory.redis_store import RedisDirectory

# Every request of this test comes from one address: lift the per-address bucket.
# Seats held long enough that a slow (loaded) run still sees them.
LIFT_RATE = {
    "TICKWIRE_MATCHMAKE_RATE_PER_S": "1000",
    "TICKWIRE_MATCHMAKE_BURST": "1000",
    "TICKWIRE_SEAT_RESERVATION_S": "120",
}


async def post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return await asyncio.to_thread(post_json, url, body)


async def get(url: str) -> Any:
    return await asyncio.to_thread(http_json, url)


async def test_cluster_places_matches_by_load_and_by_key(
    redis_server: Any, nodes: list[Node], tmp_path: Path
) -> None:
    base = await start_nodes(nodes, "p", redis_server.url, tmp_path, env=LIFT_RATE)
    a, b = (f"http://127.0.0.1:{base + i}" for i in range(2))
    d = RedisDirectory(redis_server.url)
    try:
        await wait_for(lambda: _has(d, 2), 10, "both nodes' first matches")
        ids = {n.node_id.split("-")[0]: n.node_id for n in await d.live_nodes()}
        a_id, b_id = ids["p0"], ids["p1"]
        # /matches on either node lists both nodes' matches, each with its node's ws_url.
        rows = (await get(f"{a}/matches?format=json"))["matches"]
        assert {r["node"] for r in rows} == {a_id, b_id}
        assert {r["ws_url"] for r in rows} == {f"ws://127.0.0.1:{base + i}/ws" for i in (0, 1)}
        b_match = next(r["match_id"] for r in rows if r["node"] == b_id)

        # Load b: 200 seats reserved in its match (reservations count as players): 0.4
        # cores by the placement score, far above the CPU noise of two idle nodes.
        for _ in range(10):
            batch = [post(f"{a}/matchmake/join-by-id", {"match_id": b_match}) for _ in range(20)]
            assert all(status == 200 for status, _ in await asyncio.gather(*batch))
        await wait_for(lambda: _players(d, b_id, 200), 15, "b's heartbeat to show the seats")
        # a served those 200 requests: its CPU figure can outweigh b's seats for one
        # heartbeat on a slow machine. Wait until a advertises itself idle again.
        await wait_for(lambda: _idle(d, a_id, b_id), 15, "a's heartbeat to show it idle")

        # A quick join from a goes to the cluster's fullest open match: b's.
        status, answer = await post(f"{a}/matchmake/join-or-create", {})
        assert status == 200, answer
        assert answer["match_id"] == b_match
        assert answer["ws_url"] == f"ws://127.0.0.1:{base + 1}/ws"

        # New public matches asked of the loaded node b are made on the idle node a.
        for _ in range(2):
            status, answer = await post(f"{b}/matchmake/create", {})
            assert status == 200, answer
            assert node_of_match(answer["match_id"]) == a_id, answer
            assert answer["ws_url"] == f"ws://127.0.0.1:{base}/ws"

        # Private matches live on the ring's node for their code; the code works anywhere.
        ring = RendezvousRing([a_id, b_id])
        for i in range(6):
            status, answer = await post(f"{a}/matchmake/create", {"private": True})
            assert status == 200, answer
            code = answer["code"]
            assert node_of_match(answer["match_id"]) == ring.pick(f"code:{code}")
            other = b if i % 2 else a
            status, joined = await post(f"{other}/matchmake/join-by-code", {"code": code})
            assert status == 200, joined
            assert joined["match_id"] == answer["match_id"]
        status, wrong = await post(f"{b}/matchmake/join-by-code", {"code": "AAAAAA"})
        assert (status, wrong["error"]["code"]) == (403, "join_rejected")

        # Two tickets queued on different nodes meet in the ring's node for the game.
        ticket = {"min_players": 2, "max_players": 2}
        (s1, t1), (s2, t2) = await asyncio.gather(
            post(f"{a}/matchmake/queue", ticket), post(f"{b}/matchmake/queue", ticket)
        )
        assert (s1, s2) == (200, 200), (t1, t2)
        t1, t2 = await _matched(a, t1), await _matched(b, t2)
        queue_node = ring.pick("queue:arena")
        assert t1["match_id"] == t2["match_id"]
        assert node_of_match(t1["match_id"]) == queue_node
        assert t1["ws_url"] == f"ws://127.0.0.1:{base + (queue_node == b_id)}/ws"

        # b is killed: once its heartbeat is gone a lists none of its matches and answers
        # its match ids node_gone at once (no request is sent to the dead node).
        nodes[1].proc.send_signal(signal.SIGKILL)
        await wait_for(lambda: _only(a, a_id), 15, "a's /matches to drop the dead node")
        status, gone = await post(f"{a}/matchmake/join-by-id", {"match_id": b_match})
        assert (status, gone["error"]["code"]) == (404, "node_gone"), gone
        status, answer = await post(f"{a}/matchmake/create", {})
        assert status == 200
        assert node_of_match(answer["match_id"]) == a_id
    finally:
        await d.close()


async def _has(d: RedisDirectory, n: int) -> bool:
    return len(await d.list_matches()) >= n


async def _players(d: RedisDirectory, node_id: str, n: int) -> bool:
    return any(x.node_id == node_id and x.players >= n for x in await d.live_nodes())


async def _idle(d: RedisDirectory, idle_id: str, loaded_id: str) -> bool:
    """The idle node's placement score is clearly under the loaded one's (by 0.2 cores)."""
    nodes = {n.node_id: n for n in await d.live_nodes()}
    idle, loaded = nodes.get(idle_id), nodes.get(loaded_id)
    if idle is None or loaded is None:
        return False
    return placement_score(idle) + 0.2 < placement_score(loaded)


async def _only(url: str, node_id: str) -> bool:
    rows = (await get(f"{url}/matches?format=json"))["matches"]
    return bool(rows) and all(r["node"] == node_id for r in rows)


async def _matched(url: str, answer: dict[str, Any]) -> dict[str, Any]:
    for _ in range(10):
        if answer.get("status") == "matched":
            return answer
        assert answer.get("status") == "waiting", answer
        _, answer = await post(f"{url}/matchmake/queue", {"ticket": answer["ticket"]})
    raise AssertionError(f"ticket never matched: {answer}")
