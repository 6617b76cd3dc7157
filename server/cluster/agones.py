"""Agones mode (``--agones``): the node reports its life to the Agones SDK sidecar.

On Kubernetes with Agones, every game server pod runs an SDK sidecar with a REST gateway
on ``127.0.0.1:$AGONES_SDK_HTTP_PORT`` (default 9358). :class:`AgonesLifecycle` speaks to
it from the server's event loop (plain HTTP/1.1 over asyncio streams, one short request
at a time, never on the tick path):

- ``POST /ready`` once the server listens (retried every second until the sidecar, which
  may start after the server, answers);
- ``POST /health`` every ``health_interval_s`` (2 s; the Fleet's ``health`` block must
  allow a few misses);
- ``PUT /metadata/label`` ``{"key": "players", "value": "<n>"}`` (and ``matches``) when
  the counts change, so ``kubectl get gs`` and allocation selectors can see them (Agones
  prefixes the label ``agones.dev/sdk-``);
- ``POST /allocate`` when the first player is seated: a server with players must not be
  scaled down (self-allocation; a matchmaker may also allocate it through Agones);
- ``POST /shutdown`` at the end of a drain (SIGTERM or ``POST /admin/drain``), after the
  matches finished or the grace ran out: Agones then deletes the pod.

A sidecar that does not answer is logged once per outage and counted
(:attr:`AgonesLifecycle.failures`); the server goes on serving. Kubernetes cannot run
here: the tests drive this against a small fake of those documented endpoints
(``tests/cluster/test_agones.py``), not a real sidecar.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from typing import Any

log = logging.getLogger("tickwire.agones")

DEFAULT_SDK_PORT = 9358


def sdk_port() -> int:
    """``$AGONES_SDK_HTTP_PORT`` (set by Agones in the pod), else 9358."""
    return int(os.environ.get("AGONES_SDK_HTTP_PORT", DEFAULT_SDK_PORT))


class SdkError(Exception):
    """The sidecar refused a call or could not be reached."""


class AgonesSdk:
    """The sidecar's REST gateway: ``await sdk.call("POST", "/ready", {})``."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout_s: float = 2.0) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One request; the decoded JSON answer (SdkError on a failure or non-2xx)."""
        try:
            return await asyncio.wait_for(self._call(method, path, body or {}), self.timeout_s)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SdkError(f"{method} {path}: {exc or type(exc).__name__}") from exc

    async def _call(self, method: str, path: str, body: dict[str, Any]) -> Any:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            data = json.dumps(body).encode()
            writer.write(
                f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        head, _, payload = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
        if not 200 <= status < 300:
            raise SdkError(f"{method} {path}: HTTP {status}")
        return json.loads(payload) if payload.strip() else {}


class AgonesLifecycle:
    """Ready, health pings, player counts, self-allocation and Shutdown of one node."""

    def __init__(
        self,
        sdk: AgonesSdk,
        players: Callable[[], int],
        matches: Callable[[], int],
        *,
        health_interval_s: float = 2.0,
    ) -> None:
        self.sdk = sdk
        self._players = players
        self._matches = matches
        self.health_interval_s = health_interval_s
        self.ready = False
        self.allocated = False
        self.failures = 0
        self._labels: dict[str, str] = {}
        self._down = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin: Ready (retried), then health pings and counts until :meth:`shutdown`."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="agones")

    async def _try(self, method: str, path: str, body: dict[str, Any] | None = None) -> bool:
        try:
            await self.sdk.call(method, path, body)
        except SdkError as exc:
            self.failures += 1
            if not self._down:
                log.warning("agones sidecar unreachable (%s); serving on, retrying", exc)
                self._down = True
            return False
        if self._down:
            log.info("agones sidecar reachable again")
            self._down = False
        return True

    async def _run(self) -> None:
        while not await self._try("POST", "/ready"):  # noqa: ASYNC110 - retries an HTTP call
            await asyncio.sleep(1.0)
        self.ready = True
        log.info("agones: Ready")
        while True:
            await self.sync()
            await asyncio.sleep(self.health_interval_s)

    async def sync(self) -> None:
        """One round: a health ping, changed counts as labels, Allocate at the first player."""
        await self._try("POST", "/health")
        players = self._players()
        for key, value in (("players", str(players)), ("matches", str(self._matches()))):
            if self._labels.get(key) != value and await self._try(
                "PUT", "/metadata/label", {"key": key, "value": value}
            ):
                self._labels[key] = value
        if players > 0 and not self.allocated and await self._try("POST", "/allocate"):
            self.allocated = True
            log.info("agones: Allocated (first player seated)")

    async def shutdown(self) -> None:
        """Stop pinging and tell Agones this game server is done (end of a drain)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if await self._try("POST", "/shutdown"):
            log.info("agones: Shutdown")
