"""Real ``python -m server`` node processes for the cluster tests, and small HTTP helpers."""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from health import wait_healthy

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--directory-ttl-s", "1.5", "--heartbeat-interval-s", "0.25"]
"""Heartbeat flags that make node loss visible within 1.5 s."""


# Ports for processes that are told their port (a supervisor's base + i): below the
# kernel's ephemeral range (32768-60999 by default), where no outgoing connection of a
# neighbouring test can take one between this check and the process's bind.
FIXED_PORTS = range(27000, 32700)


def free_ports(n: int) -> int:
    """A base port with ``n`` consecutive free ports after it (outside the ephemeral range)."""
    for _ in range(200):
        base = random.randrange(FIXED_PORTS.start, FIXED_PORTS.stop - n)
        ok = True
        for p in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range")


def http_json(url: str) -> Any:
    """GET ``url`` and decode its JSON (raises on a non-2xx answer)."""
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def post_json(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST JSON; ``(status, decoded answer)`` for any status."""
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


class Node:
    """``python -m server`` in a subprocess, with its log in a file."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "--log-format", "json", *args],
            cwd=ROOT,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._out.close()


async def start_nodes(
    nodes: list[Node],
    prefix: str,
    redis_url: str,
    folder: Path,
    n: int = 2,
    env: dict[str, str] | None = None,
) -> int:
    """Start ``n`` nodes named ``<prefix>0..`` on consecutive free ports, with FAST heartbeats
    on one Redis and their logs in ``folder``; append them to ``nodes`` (the caller's
    fixture stops them); wait until each answers /healthz. The base port."""
    base = free_ports(n)
    for i in range(n):
        args = ["--port", str(base + i), "--node-name", f"{prefix}{i}", "--redis-url", redis_url]
        nodes.append(Node([*args, *FAST], folder / f"{prefix}{i}.log", env=env))
    for i in range(n):
        await asyncio.to_thread(wait_healthy, base + i)
    return base


async def wait_for(pred: Any, timeout_s: float, what: str) -> None:
    """Await ``pred()`` every 0.1 s until it is true (AssertionError after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await pred():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
