"""How far one Redis goes as the cluster directory: heartbeats of many nodes, and joins.

``python -m benchmarks directory --nodes 200 --matches 50 --duration 10``

1. **Heartbeats.** ``--nodes`` simulated nodes (in this process, against one real
   ``redis-server`` started for the run) each heartbeat ``--matches`` match entries every
   ``--interval`` seconds, as :class:`server.hosting.node.ClusterNode` does. Printed:
   Redis CPU (core-s/s, from ``/proc``), Redis commands/s (``INFO stats``), and whether
   every heartbeat landed in time.
2. **Joins through the directory** on one node: each join lists the open matches of a
   game (join-or-create reads the directory), then asks the owning node to reserve a seat
   over Redis request/reply, and the owning node answers — the directory's whole share of
   a cross-node join (the owning node signs a real seat reservation). Run twice in the
   same run against the same Redis: ``before`` (the plain listing and a ``BLPOP`` list
   per reply) and ``after`` (one Lua call over the per-game open-match index, pub/sub
   replies, ``BLMPOP`` batches on the answering side, and every round trip coalesced
   with the others in flight: :mod:`server.directory.coalesce`). Printed for each:
   joins/s (bar ≥ 2,000/s), Redis ops per join, p50/p99 ms, and the ratio. Both sides
   run in this one process (one core), so the figure is a lower bound for two nodes on
   two cores. ``--concurrency`` is the joins in flight (a node taking 2,000 joins/s at
   a few ms each has about that many).
3. **HTTP joins through two real nodes** (:mod:`benchmarks.directory_http`): the whole
   ``POST /matchmake/join-or-create`` path, HTTP included.

Needs ``redis-server`` on the PATH (Debian: ``apt-get install redis-server``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any

from benchmarks.common import percentile, result_path, write_json
from benchmarks.directory_http import http_joins
from benchmarks.probe import cpu_seconds
from server.directory import MatchRecord, NodeRecord, qualified_match_id
from server.directory.redis_store import RedisDirectory
from server.matchmaking.reservations import ReservationBook


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``python -m benchmarks directory``."""
    p.add_argument("--nodes", type=int, default=200, help="simulated nodes heartbeating")
    p.add_argument("--matches", type=int, default=50, help="matches per node")
    p.add_argument("--interval", type=float, default=2.0, help="heartbeat interval, s")
    p.add_argument("--duration", type=float, default=10.0, help="heartbeat phase, s")
    p.add_argument("--joins", type=int, default=4000, help="joins in the join phase")
    p.add_argument("--concurrency", type=int, default=16, help="joins in flight")
    p.add_argument("--http-seconds", type=float, default=10.0, help="HTTP joins phase, s (0: skip)")
    p.add_argument("--http-concurrency", type=int, default=16, help="HTTP joins in flight")
    p.add_argument("--out", default=None, help="JSON path")


def _start_redis() -> tuple[subprocess.Popen[bytes], int, str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        raise SystemExit("redis-server not found: apt-get install -y redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="tw-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"redis-server did not start on port {port}") from None
            time.sleep(0.05)
    return proc, port, f"redis://127.0.0.1:{port}/0"


async def _total_commands(d: RedisDirectory) -> int:
    info = await d._redis.info("stats")
    return int(info["total_commands_processed"])


async def heartbeats(url: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """Phase 1: many nodes heartbeating (see the module docstring)."""
    # The simulated nodes stand for that many processes: a connection each, not a pool
    # of one node's size.
    d = RedisDirectory(
        url, ttl_s=args.interval * 5, op_timeout_s=5.0, max_connections=args.nodes + 8
    )
    nodes = [
        NodeRecord(f"sim{i}-0000", f"ws://10.0.0.{i % 250}:8765/ws", "", time.time())
        for i in range(args.nodes)
    ]
    entries = [
        [
            MatchRecord(qualified_match_id(n.node_id, f"m{k}"), n.node_id, "arena", 4, 8,
                        "running", labels={"mode": "ffa"})
            for k in range(args.matches)
        ]
        for n in nodes
    ]  # fmt: skip
    late = 0
    beats = 0

    async def one(i: int) -> None:
        nonlocal late, beats
        offset = args.interval * i / len(nodes)
        await asyncio.sleep(offset)
        next_at = time.monotonic()
        end = time.monotonic() + args.duration
        while time.monotonic() < end:
            await d.heartbeat(nodes[i], entries[i])
            beats += 1
            next_at += args.interval
            wait = next_at - time.monotonic()
            if wait < 0:
                late += 1
            await asyncio.sleep(max(0.0, wait))

    cmd0, cpu0, t0 = await _total_commands(d), cpu_seconds(pid), time.monotonic()
    await asyncio.gather(*(one(i) for i in range(len(nodes))))
    wall = time.monotonic() - t0
    cmd1, cpu1 = await _total_commands(d), cpu_seconds(pid)
    listing0 = time.perf_counter()
    listed = len(await d.list_matches(game="arena"))
    listing_ms = (time.perf_counter() - listing0) * 1000
    # Leave as draining nodes do: otherwise their open arena matches stay live for the
    # TTL, and the HTTP phase's real nodes (same cluster) route quick joins to them.
    await asyncio.gather(*(d.remove_node(node.node_id) for node in nodes))
    await d.close()
    return {
        "nodes": args.nodes,
        "matches_per_node": args.matches,
        "interval_s": args.interval,
        "heartbeats": beats,
        "late_heartbeats": late,
        "redis_cpu_core_s_per_s": round((cpu1 - cpu0) / wall, 4),
        "redis_commands_per_s": round((cmd1 - cmd0) / wall, 1),
        "full_listing_entries": listed,
        "full_listing_ms": round(listing_ms, 2),
    }


async def joins(url: str, args: argparse.Namespace, way: str) -> dict[str, Any]:
    """Phase 2: joins through the directory from one node to another, ``way``:

    - ``before``: list every live node's matches (``ZRANGE`` + ``MGET`` + one ``HVALS``
      per node), keep the open ones, then request/reply with a ``BLPOP`` list per reply;
    - ``after``: one Lua call for the live nodes and the game's open-match index, then
      request/reply with pub/sub replies (what :mod:`server.cluster.routing` does).
    """
    # A cluster of its own: phase 1's simulated nodes are still alive (TTL) in "tickwire".
    replies = "list" if way == "before" else "pubsub"
    cluster = f"joins-{way}"
    asker = RedisDirectory(url, cluster=cluster, replies=replies)
    owner = RedisDirectory(url, cluster=cluster, replies=replies)
    node = NodeRecord("owner-0000", "ws://127.0.0.1:1/ws", "", time.time())
    matches = [
        MatchRecord(qualified_match_id(node.node_id, f"m{k}"), node.node_id, "arena", 1, 8,
                    "running")
        for k in range(20)
    ]  # fmt: skip
    await owner.heartbeat(node, matches)

    async def keep_alive() -> None:  # as the real node does, so a long run never expires
        while True:
            await asyncio.sleep(2.0)
            await owner.heartbeat(node, matches)

    beating = asyncio.create_task(keep_alive())

    book = ReservationBook()  # the owning node's real seat reservation (HMAC-signed token)
    loop = asyncio.get_running_loop()

    async def reserve(op: str, body: dict[str, Any]) -> dict[str, Any]:
        res = book.reserve(str(body["match_id"]).replace(".", "_"), loop.time())
        return {"reservation": res.token, "ws_url": node.public_url}

    servers = [asyncio.create_task(owner.serve_requests(node.node_id, reserve)) for _ in range(2)]
    latencies: list[float] = []
    remaining = args.joins

    async def open_matches() -> list[MatchRecord]:
        if way == "before":
            return [m for m in await asker.list_matches(game="arena") if m.open]
        return (await asker.open_snapshot("arena"))[1]

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            t = time.perf_counter()
            listed = await open_matches()
            reply = await asker.request(
                listed[0].node_id, "reserve", {"match_id": listed[0].match_id}
            )
            assert "reservation" in reply
            latencies.append((time.perf_counter() - t) * 1000)

    await asyncio.gather(*(asker.request(node.node_id, "reserve", {"match_id": "warm"}),))
    ops0 = asker.ops + owner.ops
    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    wall = time.monotonic() - t0
    ops = asker.ops + owner.ops - ops0
    for s in (*servers, beating):
        s.cancel()
    await asyncio.gather(*servers, beating, return_exceptions=True)
    await asker.close()
    await owner.close()
    n = len(latencies)
    return {
        "way": way,
        "joins": n,
        "joins_per_s": round(n / wall, 1),
        "redis_ops_per_join": round(ops / n, 2),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
    }


def main(args: argparse.Namespace) -> int:
    """Run both phases against a fresh redis-server; print and write JSON."""
    proc, _, url = _start_redis()
    try:
        limit = args.duration + 60.0
        hb = asyncio.run(asyncio.wait_for(heartbeats(url, proc.pid, args), limit))
        print(
            f"heartbeats: {hb['nodes']} nodes x {hb['matches_per_node']} matches every "
            f"{hb['interval_s']} s -> Redis {hb['redis_cpu_core_s_per_s']} core-s/s, "
            f"{hb['redis_commands_per_s']} commands/s, {hb['late_heartbeats']} late of "
            f"{hb['heartbeats']}; full listing of {hb['full_listing_entries']} entries "
            f"{hb['full_listing_ms']} ms"
        )
        runs = {}
        for way in ("before", "after"):
            js = asyncio.run(asyncio.wait_for(joins(url, args, way), 60.0 + args.joins / 50))
            runs[way] = js
            verdict = "PASS" if js["joins_per_s"] >= 2000 else "FAIL"
            print(
                f"joins through the directory ({way}): {js['joins_per_s']} joins/s "
                f"({verdict}, bar 2000), {js['redis_ops_per_join']} Redis ops per join, "
                f"p50 {js['p50_ms']} ms, p99 {js['p99_ms']} ms"
            )
        ratio = runs["after"]["joins_per_s"] / max(1e-9, runs["before"]["joins_per_s"])
        print(f"after / before: {ratio:.2f}x joins/s (same run, same Redis)")
        web: dict[str, Any] = {}
        if args.http_seconds > 0:
            web = http_joins(url, args.http_seconds, args.http_concurrency)
            print(
                f"HTTP joins through two real nodes: {web['joins_per_s']} joins/s at "
                f"{web['concurrency']} in flight (statuses {web['statuses']}, answered by "
                f"{web['answered_by']}; includes HTTP on both nodes and this load generator); "
                f"one node without Redis: {web['single_node_joins_per_s']} joins/s, ratio "
                f"{web['ratio_to_single_node']}"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    write_json(
        result_path("directory", args.out),
        {"heartbeats": hb, "joins": runs["after"], "joins_before": runs["before"], "http": web},
    )
    return 0
