"""The whole join through two real nodes: ``POST /matchmake/join-or-create`` over HTTP.

Phase 3 of ``python -m benchmarks directory`` (``--http-seconds``, 0 skips it). Two
``python -m server --redis-url`` processes (nodes ``a`` and ``b``) share the run's
``redis-server``; this process posts ``--http-concurrency`` quick joins at a time to node
``a`` for ``--http-seconds`` and counts the answers. Each answer went through the
directory (one coalesced Lua snapshot), and, when the fullest open match is on ``b``, a
request/reply to ``b``, which reserves the seat. Then the same load on one node without
``--redis-url`` (no directory: the floor of the HTTP path). Printed: joins/s, which node
answered, statuses, and the ratio to that floor (same run). Unlike phase 2 this includes
the HTTP handling on both nodes (websockets answers one request per TCP connection) and
the gateway's real answer; the load generator is this one Python process, on the same 2
cores, so the figure is a floor of the path.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

ENV = {
    "TICKWIRE_MATCHMAKE_RATE_PER_S": "1000000",  # one address posts everything
    "TICKWIRE_MATCHMAKE_BURST": "1000000",
    "TICKWIRE_SEAT_RESERVATION_S": "1",  # unused seats free up fast: one match takes all
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"node on port {port} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"node on port {port} not healthy in {timeout_s} s")


async def _post(port: int, kind: str, body: bytes = b"{}") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST /matchmake/{kind} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n".encode()
        + body
    )
    data = await reader.read()
    writer.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


async def _drive(port: int, seconds: float, concurrency: int) -> dict[str, Any]:
    statuses: collections.Counter[str] = collections.Counter()
    answered: collections.Counter[str] = collections.Counter()
    end = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < end:
            try:
                status, payload = await _post(port, "join-or-create")
            except OSError:
                statuses["connect_error"] += 1
                continue
            statuses[str(status)] += 1
            if status == 200:
                answered[json.loads(payload)["match_id"].split("-", 1)[0]] += 1

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.monotonic() - t0
    return {
        "joins_per_s": round(statuses["200"] / wall, 1),
        "seconds": round(wall, 2),
        "concurrency": concurrency,
        "statuses": dict(statuses),
        "answered_by": dict(answered),
    }


def _nodes(argvs: list[list[str]]) -> tuple[list[int], list[subprocess.Popen[bytes]]]:
    ports = [_free_port() for _ in argvs]
    env = {**os.environ, **ENV, "PYTHONUNBUFFERED": "1"}
    procs = []
    for port, extra in zip(ports, argvs, strict=True):
        argv = [sys.executable, "-m", "server", "--port", str(port), "--log-level", "warning"]
        procs.append(
            subprocess.Popen(
                [*argv, *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
    return ports, procs


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _joins_at_first(argvs: list[list[str]], seconds: float, concurrency: int) -> dict[str, Any]:
    ports, procs = _nodes(argvs)
    try:
        for port, proc in zip(ports, procs, strict=True):
            _wait_healthy(port, proc)
        time.sleep(1.0)  # the first heartbeats (with the first matches) are in
        return asyncio.run(_drive(ports[0], seconds, concurrency))
    finally:
        _stop(procs)


def http_joins(redis_url: str, seconds: float, concurrency: int) -> dict[str, Any]:
    """Quick joins posted to node ``a`` of a two-node cluster, then the same to one node
    without ``--redis-url`` (the floor: the same HTTP path with no directory at all)."""
    cluster = [["--node-name", name, "--redis-url", redis_url] for name in "ab"]
    result = _joins_at_first(cluster, seconds, concurrency)
    floor = _joins_at_first([[]], seconds, concurrency)
    result["single_node_joins_per_s"] = floor["joins_per_s"]
    result["ratio_to_single_node"] = round(
        result["joins_per_s"] / max(1e-9, floor["joins_per_s"]), 3
    )
    return result
