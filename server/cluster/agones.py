"""Agones mode (``--agones``): the node reports its life to the Agones SDK sidecar.

On Kubernetes with Agones, every game server pod runs an SDK sidecar with a REST gateway
on ``127.0.0.1:$AGONES_SDK_HTTP_PORT`` (default 9358). :class:`AgonesLifecycle` speaks to
it from the server's event loop (plain HTTP/1.1 over asyncio streams, one short request
at a time, never on the tick path):

- ``GET /gameserver`` before Ready (and at each round until known): the node's public
  address is ``status.address`` with the port named ``default`` in ``status.ports`` (the
  first port if none is named so), i.e. ``ws://<address>:<port>/ws``
  (:func:`public_url_of`); ``on_address`` hands it to the server, which advertises it in
  the directory unless ``--public-url`` was given (an explicit address wins: a front door);
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
(``tests/cluster/test_agones.py``, a mocked boundary), not a real sidecar.
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


def public_url_of(gameserver: Any, scheme: str = "ws", port_name: str = "default") -> str | None:
    """``<scheme>://<status.address>:<port>/ws`` from a ``GET /gameserver`` answer (the
    port named ``port_name``, else the first); None while Agones has not set the address
    (before the pod is scheduled) or the answer is not shaped like a GameServer."""
    status = gameserver.get("status") if isinstance(gameserver, dict) else None
    if not isinstance(status, dict):
        return None
    address = status.get("address")
    ports = [p for p in status.get("ports") or [] if isinstance(p, dict)]
    named = [p for p in ports if p.get("name") == port_name] or ports
    port = named[0].get("port") if named else None
    if not isinstance(address, str) or not address or not isinstance(port, int | str):
        return None
    try:
        number = int(port)
    except ValueError:
        return None
    host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}:{number}/ws"


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
            data = b"" if method == "GET" else json.dumps(body).encode()
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
        on_address: Callable[[str], None] | None = None,
        scheme: str = "ws",
    ) -> None:
        self.sdk = sdk
        self._players = players
        self._matches = matches
        self.health_interval_s = health_interval_s
        self.ready = False
        self.allocated = False
        self.public_url: str | None = None
        """The node's address as Agones publishes it (``GET /gameserver``), once known."""
        self._on_address = on_address
        self._scheme = scheme
        self.failures = 0
        self._labels: dict[str, str] = {}
        self._down = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin: Ready (retried), then health pings and counts until :meth:`shutdown`."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="agones")

    async def _try(self, method: str, path: str, body: dict[str, Any] | None = None) -> bool:
        return (await self._ask(method, path, body))[0]

    async def _ask(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[bool, Any]:
        try:
            answer = await self.sdk.call(method, path, body)
        except SdkError as exc:
            self.failures += 1
            if not self._down:
                log.warning("agones sidecar unreachable (%s); serving on, retrying", exc)
                self._down = True
            return False, None
        if self._down:
            log.info("agones sidecar reachable again")
            self._down = False
        return True, answer

    async def learn_address(self) -> str | None:
        """``GET /gameserver`` and take the node's public address from it (once known,
        :attr:`public_url` is set and ``on_address`` called; later calls do nothing)."""
        if self.public_url is not None:
            return self.public_url
        ok, answer = await self._ask("GET", "/gameserver")
        url = public_url_of(answer, self._scheme) if ok else None
        if url is not None:
            self.public_url = url
            log.info("agones: public address %s", url)
            if self._on_address is not None:
                self._on_address(url)
        return url

    async def _run(self) -> None:
        while True:
            await self.learn_address()
            if await self._try("POST", "/ready"):
                break
            await asyncio.sleep(1.0)
        self.ready = True
        log.info("agones: Ready")
        while True:
            await self.sync()
            await asyncio.sleep(self.health_interval_s)

    async def sync(self) -> None:
        """One round: a health ping, the address if still unknown, changed counts as
        labels, Allocate at the first player."""
        await self._try("POST", "/health")
        await self.learn_address()
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
