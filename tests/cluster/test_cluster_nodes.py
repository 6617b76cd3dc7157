"""Nodes in a Redis directory, as real processes: registration, SIGKILL, Redis outage,
drain, and the --workers supervisor."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from health import wait_healthy
from nodeproc import FAST, ROOT, Node, free_ports, http_json, post_json, start_nodes, wait_for

from server.directory.redis_store import RedisDirectory
from server.net.messages import Hello, Input
from server.net.protocol import MessageType
from server.testing import TestClient


async def matches_in(directory: RedisDirectory) -> list[str]:
    return [m.match_id for m in await directory.list_matches()]


async def test_node_registers_its_matches_and_vanishes_within_the_ttl_after_sigkill(
    redis_server: Any, nodes: list[Node], tmp_path: Path
) -> None:
    """Two nodes list their matches (ids name the node); SIGKILL one and its matches are
    gone from the directory within the TTL while the other node's stay."""
    base = await start_nodes(nodes, "k", redis_server.url, tmp_path)
    d = RedisDirectory(redis_server.url)
    try:
        await wait_for(lambda: _count(d, 2), 10, "both nodes' matches")
        ids = await matches_in(d)
        assert {i.split("-")[0] for i in ids} == {"k0", "k1"}
        local = await asyncio.to_thread(http_json, f"http://127.0.0.1:{base}/matches")
        # /matches on one node lists the whole cluster, each row naming its node.
        assert {m["node"].split("-")[0] for m in local["matches"]} == {"k0", "k1"}
        assert all(m["match_id"].startswith(m["node"] + "~") for m in local["matches"])
        nodes[0].proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await wait_for(lambda: _count(d, 1), 5, "the killed node's matches to vanish")
        assert time.monotonic() - killed <= 1.5 + 0.5
        assert all(i.startswith("k1-") for i in await matches_in(d))
    finally:
        await d.close()


async def _count(d: RedisDirectory, n: int) -> bool:
    return len(await d.list_matches()) == n


async def test_matches_keep_ticking_while_redis_is_down_and_nodes_reregister_after(
    redis_server: Any, nodes: list[Node], tmp_path: Path
) -> None:
    """Redis stopped (3 s here; TICKWIRE_REDIS_OUTAGE_S=30 for the issue's 30 s): a
    connected player keeps getting every snapshot, /metrics shows the directory down,
    joins that need the directory answer 503 ``directory_unavailable`` (every one of them,
    each within the client's 10 s timeout) and the cluster listing too. Redis back: the
    node re-registers without a restart, its match under the same id with the player still
    in it, and joins work again."""
    port = free_ports(1)
    args = ["--port", str(port), "--node-name", "r", "--redis-url", redis_server.url, *FAST]
    nodes.append(Node(args, tmp_path / "r.log"))
    await asyncio.to_thread(wait_healthy, port)
    outage_s = float(os.environ.get("TICKWIRE_REDIS_OUTAGE_S", "3"))
    base = f"http://127.0.0.1:{port}"
    async with TestClient.connect(f"ws://127.0.0.1:{port}/ws") as c:
        match_id = (await c.expect(MessageType.WELCOME))["match_id"]
        await c.expect(MessageType.STATE)
        redis_server.stop()
        frames = 0
        started = time.monotonic()
        while time.monotonic() - started < outage_s:
            state = await c.expect(MessageType.STATE)
            frames += 1
            if frames % 10 == 0:  # the player plays on (and is not idle-closed in 30 s)
                await c.send(Input(tick=state["t"] + 1, x=0.5, y=0.0))
        rate = frames / (time.monotonic() - started)
        assert rate >= 18.0, f"only {rate:.1f} snapshots/s while Redis was down"
        metrics = await asyncio.to_thread(_get, f"{base}/metrics")
        assert 'tickwire_directory_up{cluster="tickwire"} 0.0' in metrics
        answers = []
        for _ in range(3):  # post_json's timeout (10 s) is the "answers at all" bound
            answers.append(
                await asyncio.to_thread(
                    post_json, f"{base}/matchmake/join-or-create", {"game": "arena"}
                )
            )
            await c.expect(MessageType.STATE)  # and the match plays on between them
        codes = [(status, body["error"]["code"]) for status, body in answers]
        assert codes == [(503, "directory_unavailable")] * 3, answers
        listing = await asyncio.to_thread(_status, f"{base}/matches")
        assert listing == 503
        redis_server.start()
        d = RedisDirectory(redis_server.url)
        try:
            await wait_for(lambda: _count(d, 1), 5, "re-registration after the outage")
            (entry,) = await d.list_matches()
        finally:
            await d.close()
        assert (entry.match_id, entry.players) == (match_id, 1)  # nothing lost
        await c.expect(MessageType.STATE)
        status, answer = await asyncio.to_thread(
            post_json, f"{base}/matchmake/join-or-create", {"game": "arena"}
        )
        assert status == 200, answer
        assert answer["match_id"] == match_id
    log = (tmp_path / "r.log").read_text()
    assert '"event": "node.directory_down"' in log
    assert '"event": "node.directory_up"' in log


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            status: int = r.status
            return status
    except urllib.error.HTTPError as e:
        with e:
            return e.code


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as r:
        text: str = r.read().decode()
        return text


async def test_draining_node_leaves_the_directory_at_once(
    redis_server: Any, nodes: list[Node], tmp_path: Path
) -> None:
    """SIGTERM with a long grace: the node's entries are gone long before it exits."""
    port = free_ports(1)
    args = ["--port", str(port), "--node-name", "d", "--redis-url", redis_server.url]
    nodes.append(
        Node([*args, "--directory-ttl-s", "30", "--drain-grace-s", "20"], tmp_path / "d.log")
    )
    await asyncio.to_thread(wait_healthy, port)
    d = RedisDirectory(redis_server.url)
    try:
        await wait_for(lambda: _count(d, 1), 5, "registration")
        async with TestClient.connect(f"ws://127.0.0.1:{port}/ws") as c:
            await c.expect(MessageType.WELCOME)
            nodes[0].proc.send_signal(signal.SIGTERM)
            await wait_for(lambda: _count(d, 0), 3, "the draining node to leave")
            assert nodes[0].proc.poll() is None  # still draining, entries already gone
    finally:
        await d.close()


def test_supervisor_restarts_a_killed_worker_and_stops_all_on_sigterm(tmp_path: Path) -> None:
    """--workers 2: both ports serve; SIGKILL worker 0 and a new one takes its port; SIGTERM
    to the supervisor drains both and it exits 0."""
    base = free_ports(2)
    log = tmp_path / "sup.log"
    out = log.open("wb")
    sup = subprocess.Popen(
        [sys.executable, "-m", "server", "--workers", "2", "--port", str(base),
         "--drain-grace-s", "0", "--log-format", "json"],
        cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        wait_healthy(base)
        wait_healthy(base + 1)
        pids = _worker_pids(log)
        assert set(pids) == {0, 1}
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _worker_pids(log).get(0) == pids[0]:
            time.sleep(0.1)
        assert _worker_pids(log)[0] != pids[0], "worker 0 was not restarted"
        wait_healthy(base)
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(timeout=20) == 0
    finally:
        if sup.poll() is None:
            sup.kill()
            sup.wait(timeout=10)
            for pid in _worker_pids(log).values():  # orphans of a killed supervisor
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        out.close()
    text = log.read_text()
    assert "worker 0 exited with -9" in text


def _worker_pids(log: Path) -> dict[int, int]:
    pids: dict[int, int] = {}
    for line in log.read_text().splitlines():
        if line.startswith("worker ") and " started pid " in line:
            parts = line.split()
            pids[int(parts[1])] = int(parts[4])
    return pids


async def test_a_reservation_asked_of_any_node_is_made_by_the_node_holding_the_match(
    redis_server: Any, nodes: list[Node], tmp_path: Path
) -> None:
    """POST /matchmake/join-by-id on node a for a match of node b answers with b's
    reservation and b's ws_url; HELLO {reservation} on b seats the player there."""
    base = await start_nodes(nodes, "r", redis_server.url, tmp_path)
    d = RedisDirectory(redis_server.url)
    try:
        await wait_for(lambda: _count(d, 2), 15, "both nodes' first heartbeats")
    finally:
        await d.close()
    listing = await asyncio.to_thread(http_json, f"http://127.0.0.1:{base + 1}/matches")
    b_match = next(m["match_id"] for m in listing["matches"] if m["node"].startswith("r1-"))
    assert b_match.startswith("r1-")
    status, answer = await asyncio.to_thread(
        post_json, f"http://127.0.0.1:{base}/matchmake/join-by-id", {"match_id": b_match}
    )
    assert status == 200, answer
    assert answer["match_id"] == b_match
    assert answer["ws_url"] == f"ws://127.0.0.1:{base + 1}/ws"
    hello = Hello(version=1, reservation=answer["reservation"])
    async with TestClient.connect(answer["ws_url"], hello=hello) as c:
        welcome = await c.expect(MessageType.WELCOME)
        assert welcome["match_id"] == b_match
    status, answer = await asyncio.to_thread(
        post_json, f"http://127.0.0.1:{base}/matchmake/join-by-id", {"match_id": "r1-ffff~m9"}
    )
    assert (status, answer["error"]["code"]) == (404, "node_gone"), answer
