"""HTTP request bodies on the websocket port (JSON for ``POST /admin/...``).

The websockets HTTP parser reads a request line and headers only, and refuses a request
with a body (``Content-Length`` other than 0) before ``process_request`` runs: it was
written for upgrade requests. :class:`BodyReadingConnection` sits in front of it: while
the handshake has not been parsed, it buffers the bytes of a request, and if the headers
announce a body of at most :data:`MAX_BODY_BYTES`, it waits for the whole body, keeps it
aside and feeds the parser the request *without* its body (``Content-Length`` removed).
``process_request`` then finds the body with :func:`request_body`.

A larger body is not read at all: the request is passed on with
:func:`body_too_large` set (the route answers 413) and the rest of the stream is
discarded. ``open_timeout_s`` bounds the whole request, body included (a slow body is a
slowloris like a slow header). Chunked bodies are not supported (the websockets parser
refuses ``Transfer-Encoding``; the connection is closed without an answer).
"""

from __future__ import annotations

from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request

MAX_BODY_BYTES = 65536
"""Bodies larger than this are not read (413); routes apply their own smaller caps."""
MAX_HEAD_BYTES = 16384
_BODY_ATTR = "_tickwire_body"
_TOO_LARGE_ATTR = "_tickwire_body_too_large"
_REMOTE_ATTR = "_tickwire_remote"


def _content_length(head: bytes) -> int | None:
    """The Content-Length of a request head (None when absent or unreadable)."""
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"content-length":
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None


def _without_content_length(head: bytes) -> bytes:
    lines = head.split(b"\r\n")
    kept = [lines[0]] + [
        ln for ln in lines[1:] if ln.partition(b":")[0].strip().lower() != b"content-length"
    ]
    return b"\r\n".join(kept)


class BodyReadingConnection(ServerConnection):
    """A websockets server connection that reads a small HTTP body before the parser."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: bytearray | None = bytearray()
        self._discard = 0
        self.request_body = b""
        self.request_body_too_large = False

    def data_received(self, data: bytes) -> None:
        if self._pending is None:
            if self._discard:
                self._discard = max(0, self._discard - len(data))
                return
            super().data_received(data)
            return
        self._pending += data
        end = self._pending.find(b"\r\n\r\n")
        if end < 0:
            if len(self._pending) > MAX_HEAD_BYTES:
                self._flush(bytes(self._pending))  # the parser refuses it with its own error
            return
        head, rest = bytes(self._pending[:end]), bytes(self._pending[end + 4 :])
        length = _content_length(head)
        if not length or length < 0:
            self._flush(bytes(self._pending))
            return
        if length > MAX_BODY_BYTES:
            self.request_body_too_large = True
            self._discard = max(0, length - len(rest))
            self._flush(_without_content_length(head) + b"\r\n\r\n")
            return
        if len(rest) < length:
            return  # wait for the rest of the body
        self.request_body = rest[:length]
        self._flush(_without_content_length(head) + b"\r\n\r\n" + rest[length:])

    def _flush(self, data: bytes) -> None:
        self._pending = None
        super().data_received(data)


def attach_body(request: Request, connection: ServerConnection) -> None:
    """Copy the connection's request body (if any) onto ``request`` for the routes."""
    request.__dict__[_BODY_ATTR] = getattr(connection, "request_body", b"")
    request.__dict__[_TOO_LARGE_ATTR] = getattr(connection, "request_body_too_large", False)
    peer = connection.remote_address
    request.__dict__[_REMOTE_ATTR] = str(peer[0]) if peer else "-"


def remote_address(request: Request) -> str:
    """The client's IP address (as text), or "-" when unknown."""
    return str(request.__dict__.get(_REMOTE_ATTR, "-"))


def request_body(request: Request) -> bytes:
    """The body of ``request`` (b"" when it had none)."""
    body: bytes = request.__dict__.get(_BODY_ATTR, b"")
    return body


def body_too_large(request: Request) -> bool:
    """True if the request announced a body over :data:`MAX_BODY_BYTES` (not read)."""
    return bool(request.__dict__.get(_TOO_LARGE_ATTR, False))
