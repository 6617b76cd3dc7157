"""Talking to the server under test: websocket helpers, close-code names, ``/metrics``."""

from __future__ import annotations

import asyncio
import contextlib
import re
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import msgpack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from server.net.codec import decode_server_message, encode_client
from server.net.messages import Hello
from server.net.protocol import PROTOCOL_VERSION, CloseCode, MessageType


def http_base(url: str) -> str:
    """``ws://host:port/ws`` -> ``http://host:port``."""
    parts = urlsplit(url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return f"{scheme}://{parts.netloc}"


def host_port(url: str) -> tuple[str, int]:
    """The host and port of a websocket URL."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "wss" else 80)


_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text -> ``{"name{labels}": value}`` (labels as written)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m:
            with contextlib.suppress(ValueError):
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


class MetricsProbe:
    """Reads the server's ``/metrics`` (RSS, ticks, closes by code); works on any host."""

    def __init__(self, url: str) -> None:
        self.metrics_url = http_base(url) + "/metrics"

    def _fetch(self) -> dict[str, float]:
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=5) as r:
                body: bytes = r.read()
        except (OSError, urllib.error.URLError):
            return {}
        return parse_metrics(body.decode())

    async def sample(self) -> dict[str, float]:
        """All samples (empty if the server has no /metrics)."""
        return await asyncio.to_thread(self._fetch)

    async def closes(self, code: int) -> float:
        """How many connections the server closed with ``code``."""
        return (await self.sample()).get(f'tickwire_closes_total{{code="{code}"}}', 0.0)

    async def rss_bytes(self) -> float | None:
        """The server's resident memory, if it exports it."""
        return (await self.sample()).get("process_resident_memory_bytes")


async def open_ws(url: str, **kwargs: Any) -> ClientConnection:
    """A plain websocket connection (no hello yet)."""
    return await connect(url, max_size=None, compression=None, open_timeout=10, **kwargs)


async def hello(ws: ClientConnection, message: Hello | None = None) -> dict[str, Any]:
    """Say hello and return the WELCOME body (raises ConnectionClosed if refused)."""
    await ws.send(encode_client(message or Hello(version=PROTOCOL_VERSION)))
    while True:
        kind, body = decode_server_message(as_bytes(await asyncio.wait_for(ws.recv(), 10)))
        if kind is MessageType.WELCOME:
            return body


def as_bytes(data: str | bytes) -> bytes:
    """Server frames are binary; a text frame would be a server bug."""
    if isinstance(data, str):
        raise TypeError("the server sent a text frame")
    return data


async def close_code(ws: ClientConnection, wait_s: float) -> tuple[int | None, list[Any]]:
    """Read until the server closes: (its close code or None on timeout, messages seen)."""
    seen: list[Any] = []
    try:
        async with asyncio.timeout(wait_s):
            while True:
                kind, body = decode_server_message(as_bytes(await ws.recv()))
                if kind not in (MessageType.STATE, MessageType.LOCKSTEP_FRAME):
                    seen.append((kind, body))
    except ConnectionClosed as exc:
        return (exc.rcvd.code if exc.rcvd is not None else 1006), seen
    except TimeoutError:
        return None, seen
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)


def code_name(code: int | None) -> str:
    """``4002 MALFORMED_MESSAGE``, ``1006``, or ``open`` for no close."""
    if code is None:
        return "open"
    try:
        return f"{code} {CloseCode(code).name}"
    except ValueError:
        return str(code)


def packb(obj: Any) -> bytes:
    """msgpack with bin types."""
    out: bytes = msgpack.packb(obj, use_bin_type=True)
    return out
