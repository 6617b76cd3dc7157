"""A lean websocket client transport for bots (RFC 6455, binary messages only).

Why not the ``websockets`` client the tests use: a bot swarm is the load generator, and
it must stay cheaper than the server it loads. Measured on the 2-core box with the
``websockets`` asyncio client, 300 bots at 20 Hz (state frames in, inputs out) took
0.69 core-s/s in the bot process -- about 70 us per message, so 1000 bots would need
more than two cores. This transport is an ``asyncio.Protocol``: the event loop calls
:meth:`WireProtocol.data_received` with the socket's bytes, frames are cut out of them
with a few slices, and each message goes straight to a callback -- no task, future or
queue per message. Sending writes one masked frame synchronously.

It does exactly what a bot needs and no more: the opening handshake (with the
``Sec-WebSocket-Accept`` check), unfragmented or fragmented binary messages, ping (it
answers pong), and the closing handshake. Text messages from the server are a protocol
error for Tickwire and close the connection with 1003. Masking uses websockets' C
``apply_mask`` and a fresh key per frame, as RFC 6455 requires of clients.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

from websockets.utils import accept_key

try:  # websockets' C extension; the pure-Python fallback gives the same bytes
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - wheels ship the extension
    from websockets.utils import apply_mask

_OP_CONT, _OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG = 0, 1, 2, 8, 9, 10
MAX_MESSAGE_BYTES = 1 << 22
"""Largest server message accepted (4 MiB: a lockstep checkpoint of a big world)."""


class HandshakeFailed(ConnectionError):
    """The server refused the upgrade (``status`` is its HTTP status, 0 if unreadable)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"websocket upgrade refused: HTTP {status} {reason}".rstrip())
        self.status = status


_SHORT_HEADS = [[bytes((0x80 | op, 0x80 | n)) for n in range(126)] for op in range(16)]
"""Prebuilt two-byte headers (FIN, opcode, MASK, length) of every frame under 126 bytes."""


def _rand4() -> bytes:
    return random.getrandbits(32).to_bytes(4, "little")


class WireProtocol(asyncio.Protocol):
    """One client connection. ``on_message(payload)`` is called once per binary message.

    ``close_code`` / ``close_reason`` hold what the server sent in its close frame
    (1006 when the TCP connection ended without one). ``closed`` completes when the
    transport is gone.
    """

    def __init__(self, on_message: Callable[[bytes], None]) -> None:
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.open = False
        self.close_code: int | None = None
        self.close_reason = ""
        self._buf = b""
        self._fragments: list[bytes] | None = None
        self._key = ""
        self._handshake: asyncio.Future[None] | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._close_sent = False

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self.close_code is None:
            self.close_code = 1006
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(HandshakeFailed(0, "connection closed"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        if not self.open:
            self._handshake_data(data)
            return
        buf = self._buf + data if self._buf else data
        n = len(buf)
        pos = 0
        while n - pos >= 2:
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if b1 & 0x80 or length > MAX_MESSAGE_BYTES:
                self._fail(1002 if b1 & 0x80 else 1009, "bad frame from server")
                return
            end = pos + head + length
            if end > n:
                break
            b0 = buf[pos]
            payload = buf[pos + head : end]
            pos = end
            self._frame(b0 & 0x80, b0 & 0x0F, payload)
            if not self.open:
                return
        self._buf = buf[pos:] if pos < n else b""

    # -- frames --------------------------------------------------------------------------

    def _frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode == _OP_BINARY and fin and self._fragments is None:
            self.on_message(payload)
        elif opcode == _OP_BINARY or (opcode == _OP_CONT and self._fragments is not None):
            parts = self._fragments if self._fragments is not None else []
            parts.append(payload)
            if fin:
                self._fragments = None
                self.on_message(b"".join(parts))
            else:
                self._fragments = parts
        elif opcode == _OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.close_reason = payload[2:].decode("utf-8", "replace")
            self._send_close(self.close_code if len(payload) >= 2 else 1000)
            self.open = False
            assert self.transport is not None
            self.transport.close()
        elif opcode == _OP_PING:
            self._write_frame(_OP_PONG, payload)
        elif opcode == _OP_PONG:
            pass
        else:  # text or a stray continuation: Tickwire servers send neither
            self._fail(1003, "unexpected frame")

    def _write_frame(self, opcode: int, payload: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        n = len(payload)
        if n < 126:
            head = _SHORT_HEADS[opcode][n]
        elif n < 65536:
            head = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
        mask = _rand4()
        transport.write(head + mask + apply_mask(payload, mask))

    def send(self, payload: bytes) -> None:
        """Send one binary message now (dropped silently once the connection closes)."""
        if self.open:
            self._write_frame(_OP_BINARY, payload)

    def buffered(self) -> int:
        """Bytes written but not yet taken by the kernel."""
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def _send_close(self, code: int, reason: str = "") -> None:
        if not self._close_sent:
            self._close_sent = True
            self._write_frame(_OP_CLOSE, code.to_bytes(2, "big") + reason.encode()[:120])

    def _fail(self, code: int, reason: str) -> None:
        self.close_code = code
        self.close_reason = reason
        self._send_close(code, reason)
        self.open = False
        if self.transport is not None:
            self.transport.close()

    async def close(self, code: int = 1000, timeout_s: float = 2.0) -> None:
        """The closing handshake: send close, wait for the server's close and the TCP end."""
        if self.transport is None:
            return
        if self.open:
            self._send_close(code)
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout_s)
        except TimeoutError:
            self.transport.abort()
        self.open = False

    # -- opening handshake -----------------------------------------------------------------

    def start_handshake(self, host: str, port: int, path: str) -> asyncio.Future[None]:
        """Send the HTTP upgrade; the future completes when the server agreed."""
        assert self.transport is not None
        self._key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {self._key}\r\n"
            "Sec-WebSocket-Version: 13\r\nUser-Agent: tickwire-bot\r\n\r\n"
        )
        self._handshake = asyncio.get_running_loop().create_future()
        self.transport.write(request.encode())
        return self._handshake

    def _handshake_data(self, data: bytes) -> None:
        buf = self._buf + data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > 16384:
                self._reject(0, "response headers too long")
            else:
                self._buf = buf
            return
        head = buf[:end].decode("latin-1").split("\r\n")
        self._buf = b""
        parts = head[0].split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if status != 101:
            self._reject(status, parts[2] if len(parts) > 2 else "")
            return
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("sec-websocket-accept") != accept_key(self._key):
            self._reject(status, "bad Sec-WebSocket-Accept")
            return
        self.open = True
        assert self._handshake is not None
        if self._handshake.done():  # the caller gave up (timeout) meanwhile
            self._fail(1001, "handshake abandoned")
            return
        self._handshake.set_result(None)
        rest = buf[end + 4 :]
        if rest:
            self.data_received(rest)

    def _reject(self, status: int, reason: str) -> None:
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(HandshakeFailed(status, reason))
        if self.transport is not None:
            self.transport.close()


async def open_connection(
    url: str, on_message: Callable[[bytes], None], timeout_s: float = 10.0
) -> WireProtocol:
    """Connect to ``ws://host:port/path`` and finish the opening handshake.

    Raises :class:`HandshakeFailed` (HTTP status refused, e.g. 503 at the server's
    connection limit), ``OSError`` (nothing listening) or ``TimeoutError``.
    """
    parts = urlsplit(url)
    if parts.scheme != "ws" or not parts.hostname:
        raise ValueError(f"only ws://host:port/path URLs are supported, got {url!r}")
    host = parts.hostname
    port = parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    loop = asyncio.get_running_loop()

    async def connect() -> WireProtocol:
        _, proto = await loop.create_connection(lambda: WireProtocol(on_message), host, port)
        await proto.start_handshake(host, port, path)
        return proto

    return await asyncio.wait_for(connect(), timeout_s)
