"""The lean per-message path: client frames cut and dispatched without websockets' parser,
server frames framed once and written straight to the transport.

``websockets`` keeps the handshake, HTTP, control frames and the closing handshake; the
game's per-message traffic skips it both ways:

- **Receive.** Once a seated connection has been welcomed, :meth:`LeanConnection.go_lean`
  installs a synchronous handler. From the next frame boundary on, ``data_received``
  cuts complete, unfragmented, masked binary frames out of the socket's bytes with a
  few slices, unmasks them with websockets' C ``apply_mask`` and calls the handler
  with each payload -- no parser generator, no assembler queue, no future and no task
  wake-up per message (the profile of a lockstep (1000, 500) run put websockets'
  receive path at ~32% of the server's CPU). Complete control frames (ping, pong,
  close) are handed to websockets whole, so it answers pings, times pongs and runs the
  closing handshake exactly as before. Anything else -- a text frame, a fragment, a
  frame over ``max_size``, an unmasked frame, reserved bits, an unknown opcode -- hands
  the rest of the stream to websockets for good, and the connection's async receive
  loop (still parked on ``recv()``) gets what websockets makes of it: the same close
  codes (``BINARY_ONLY``, 1002, 1009) as without this path. The handler returns False
  to stop (it closed the connection): the rest of the stream then goes to websockets
  too, so the client's close frame completes the closing handshake.
- **Send.** :func:`frame` builds a server (unmasked) binary frame once;
  :func:`write_frame` writes it to an open connection's transport. A lockstep frame or
  a payload shared by a whole match is framed once for every receiver, where
  ``websockets.broadcast`` builds a ``Frame`` and serializes it per connection.

The fast path starts only at a frame boundary of websockets' parser (nothing buffered,
no fragmented message in progress, the parser waiting for a new frame header), checked
after every chunk websockets consumes until it holds. If websockets' internals ever
stop matching that check, connections simply stay on the websockets path.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from websockets.protocol import OPEN
from websockets.streams import StreamReader

from server.gateway.bodies import BodyReadingConnection

try:  # websockets' C extension; the pure-Python fallback gives the same bytes
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - wheels ship the extension
    from websockets.utils import apply_mask

_BINARY = 0x82
"""First byte of a final, unfragmented binary frame with no reserved bits."""
_CONTROL = frozenset((0x88, 0x89, 0x8A))
"""First byte of a final close, ping or pong frame."""
_AT_EOF = StreamReader.at_eof.__code__
_SHORT_HEADS = [bytes((_BINARY, n)) for n in range(126)]
_HEAD16 = struct.Struct(">BBH").pack
_HEAD64 = struct.Struct(">BBQ").pack

Handler = Callable[[bytes], bool]
"""Called with each binary message's payload; returns False to leave the fast path."""


def frame(payload: bytes) -> bytes:
    """The unmasked, final binary websocket frame carrying ``payload`` (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        return _SHORT_HEADS[n] + payload
    if n < 65536:
        return _HEAD16(0x82, 126, n) + payload
    return _HEAD64(0x82, 127, n) + payload


def write_frame(ws: Any, framed: bytes) -> bool:
    """Write a prebuilt frame to ``ws`` if its websocket is open; whether it was written.

    Like ``websockets.broadcast``: no backpressure (the caller checks the write buffer),
    connections in the closing handshake are skipped. Never raises for a dead transport.
    """
    if ws.protocol.state is not OPEN:
        return False
    transport = ws.transport
    if transport.is_closing():
        return False
    transport.write(framed)
    return True


def send_binary(ws: Any, payload: bytes) -> bool:
    """Frame ``payload`` and :func:`write_frame` it (one receiver)."""
    return write_frame(ws, frame(payload))


class LeanConnection(BodyReadingConnection):
    """A websockets server connection with the lean receive path (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handler: Handler | None = None
        self._lean = False
        self._buf = b""
        self.lean_messages = 0
        """Messages dispatched by the fast path (tests check that it is taken)."""

    @property
    def lean(self) -> bool:
        """Whether incoming frames currently take the fast path."""
        return self._lean

    def go_lean(self, handler: Handler) -> None:
        """Dispatch every later binary message to ``handler`` (from the next boundary)."""
        self._handler = handler
        self._enter_if_at_boundary()

    def _enter_if_at_boundary(self) -> None:
        protocol: Any = self.protocol
        try:
            if protocol.state is not OPEN or protocol.current_size is not None:
                return
            if protocol.reader.buffer:
                return
            gen: Any = protocol.parser
        except AttributeError:  # another websockets version's internals: stay on its path
            self._handler = None
            return
        while getattr(gen, "gi_yieldfrom", None) is not None:
            gen = gen.gi_yieldfrom
        if getattr(gen, "gi_code", None) is _AT_EOF:
            self._lean = True

    def _leave(self, rest: bytes) -> None:
        """Hand ``rest`` (which starts at a frame boundary) and all later bytes to websockets."""
        self._lean = False
        self._handler = None
        self._buf = b""
        if rest:
            super().data_received(rest)

    def data_received(self, data: bytes) -> None:
        if not self._lean:
            super().data_received(data)
            if self._handler is not None:
                self._enter_if_at_boundary()
            return
        buf = self._buf + data if self._buf else data
        handler = self._handler
        assert handler is not None
        max_size = self.protocol.max_message_size
        n = len(buf)
        pos = 0
        while n - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            head = pos + 6
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = pos + 8
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = pos + 14
            if b1 < 0x80 or (max_size is not None and length > max_size):
                self._leave(buf[pos:])  # unmasked or too big: websockets' error and code
                return
            if b0 == _BINARY:
                end = head + length
                if end > n:
                    break
                payload = apply_mask(buf[head:end], buf[head - 4 : head])
                pos = end
                self.lean_messages += 1
                if not handler(payload):
                    self._leave(buf[pos:])
                    return
            elif b0 in _CONTROL and length <= 125:
                end = head + length
                if end > n:
                    break
                start = pos
                pos = end
                super().data_received(buf[start:end])  # ping, pong or close: websockets
                if self.protocol.state is not OPEN:
                    self._leave(buf[pos:])
                    return
            else:  # text, fragment, reserved bits, bad opcode: websockets decides
                self._leave(buf[pos:])
                return
        self._buf = buf[pos:] if pos < n else b""
