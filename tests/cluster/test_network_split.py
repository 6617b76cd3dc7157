"""A network cut between nodes and the directory, with nodes in network namespaces: the
cut-off node's matches expire from the directory, the others stay, and it heals."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from health import wait_healthy
from netns import Lab, namespaces_available
from redis_fixture import RedisProcess

from server.directory.redis_store import RedisDirectory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lab() -> Iterator[Lab]:
    why = namespaces_available()
    if why is not None:
        pytest.fail(f"network namespaces cannot be made here: {why}")
    lab = Lab(f"s{os.getpid() % 1000}")
    try:
        yield lab
    finally:
        lab.close()


def spawn(argv: list[str], log: Any) -> subprocess.Popen[bytes]:
    """Start a node process (a plain function: Popen blocks briefly)."""
    return subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


async def test_cut_off_node_expires_from_the_directory_and_heals(
    lab: Lab, redis_binary: str, tmp_path: Path
) -> None:
    """Node b loses its link: within the TTL only node a's matches are listed (nobody is
    routed across the cut); the link returns and b re-registers without a restart."""
    a, b = lab.add_host(), lab.add_host()
    redis = RedisProcess(redis_binary, tmp_path, bind=("127.0.0.1", a.gateway, b.gateway))
    redis.start()
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for name, host in (("a", a), ("b", b)):
            log = (tmp_path / f"{name}.log").open("wb")
            logs.append(log)
            args = [
                sys.executable, "-m", "server", "--host", host.addr, "--port", "8765",
                "--node-name", name, "--redis-url", f"redis://{host.gateway}:{redis.port}/0",
                "--directory-ttl-s", "1.5", "--heartbeat-interval-s", "0.25",
                "--log-format", "json",
            ]  # fmt: skip
            procs.append(spawn(host.cmd(*args), log))
        for host in (a, b):
            await asyncio.to_thread(wait_healthy, 8765, 20, host.addr)
        d = RedisDirectory(redis.url)
        try:
            await _until(d, {"a", "b"}, 10)
            b.cut()
            cut_at = time.monotonic()
            await _until(d, {"a"}, 6)
            assert time.monotonic() - cut_at < 1.5 + 1.0
            for _ in range(5):  # stays so while the cut lasts
                assert await _nodes(d) == {"a"}
                await asyncio.sleep(0.2)
            b.heal()
            await _until(d, {"a", "b"}, 15)
        finally:
            await d.close()
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=10)
        for log in logs:
            log.close()
        redis.stop()


async def _nodes(d: RedisDirectory) -> set[str]:
    return {m.node_id.split("-")[0] for m in await d.list_matches()}


async def _until(d: RedisDirectory, want: set[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    got: set[str] = set()
    while time.monotonic() < deadline:
        got = await _nodes(d)
        if got == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"directory shows nodes {got}, expected {want}")
