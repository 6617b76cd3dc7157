"""One websocket connection: its first message, admission and its receive loop.

The order of checks on every message (docs/protocol.md, "Order of checks"): frame
type (a text frame closes ``BINARY_ONLY``) → rate limits → the codec's msgpack, shape,
envelope version, type and body checks → state (anything but HELLO first, or a second
HELLO, closes ``UNEXPECTED_MESSAGE``); then, for HELLO, hosting's admission (version,
token, draining, seat).
After WELCOME every message goes through :func:`dispatch`, which hands it to the match
without awaiting: called from the lean path's synchronous handler as the bytes arrive
(:mod:`server.gateway.lean`), or from :func:`receive_loop` for what websockets delivers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from websockets.asyncio.server import ServerConnection

from server.errors import ProtocolViolation
from server.gateway.lean import LeanConnection, send_binary
from server.hosting.seating import error_message
from server.match.match import Match, Seat
from server.net.codec import InputFields, decode_received, encode
from server.net.inputs import FieldInput
from server.net.messages import (
    Ack,
    Checksum,
    Hello,
    Input,
    Leave,
    Ping,
    ReplayControl,
    SnapshotRequest,
)
from server.net.protocol import CloseCode, ErrorCode, MessageType
from server.net.session import ClientSession

if TYPE_CHECKING:
    from server.gateway.server import Gateway

log = logging.getLogger("tickwire.gateway")
_INPUT = MessageType.INPUT

CLOSE_REASONS: dict[CloseCode, str] = {
    CloseCode.VERSION_MISMATCH: "protocol version mismatch",
    CloseCode.BAD_TOKEN: "bad auth token",
    CloseCode.HANDSHAKE_TIMEOUT: "no hello in time",
    CloseCode.MATCH_FULL: "match full",
    CloseCode.IDLE_TIMEOUT: "idle timeout",
    CloseCode.BINARY_ONLY: "text frames are not accepted",
    CloseCode.RATE_LIMITED: "rate limit exceeded",
    CloseCode.TOO_FAR_BEHIND: "too far behind",
    CloseCode.RESUME_FORGED: "resume token invalid",
    CloseCode.RESUME_EXPIRED: "resume token expired",
    CloseCode.RESUME_REUSED: "resume token already used",
    CloseCode.UNEXPECTED_MESSAGE: "unexpected message",
    CloseCode.MATCH_ENDED: "match ended",
    CloseCode.MATCH_FAILED: "match failed",
    CloseCode.SERVER_SHUTDOWN: "server shutting down",
    CloseCode.KICKED: "kicked",
    CloseCode.SERVER_BUSY: "server busy",
    CloseCode.LEFT: "left the match",
    CloseCode.MATCH_NOT_FOUND: "match not found",
    CloseCode.RESERVATION_FORGED: "reservation invalid",
    CloseCode.RESERVATION_EXPIRED: "reservation expired",
    CloseCode.RESERVATION_USED: "reservation already used",
    CloseCode.NODE_GONE: "the node that held this match is gone: matchmake again",
}
"""The close reason sent with each code when the caller gives none."""


@dataclass(slots=True, eq=False)
class Conn:
    """One websocket connection, its session, and the seat it holds (a hosting Peer)."""

    ws: ServerConnection
    session: ClientSession
    seat: Seat | None = None
    match: Match | None = None
    closing: bool = False
    sent_messages: int = 0
    bytes_out: int = 0
    """Bytes of tick frames written to this connection (the admin match view)."""
    last_input_s: float | None = None
    """Loop time of the last INPUT received (the admin match view)."""
    extra: dict[str, Any] = field(default_factory=dict)
    stopped: bool = False
    """No more messages are acted on (a violation or LEAVE; the close is under way)."""


async def serve_connection(gw: Gateway, conn: Conn) -> None:
    """Wait for HELLO, admit, send the welcome messages, then run the receive loop.

    Raises ProtocolViolation (the caller closes with its code) or ConnectionClosed.
    """
    ws = conn.ws
    try:
        first = await asyncio.wait_for(ws.recv(), gw.config.hello_timeout_s)
    except TimeoutError:
        gw.observer.protocol_error(CloseCode.HANDSHAKE_TIMEOUT)
        await gw.close(conn, CloseCode.HANDSHAKE_TIMEOUT)
        return
    if isinstance(first, str):
        raise ProtocolViolation("text frames are not accepted", CloseCode.BINARY_ONLY)
    loop = asyncio.get_running_loop()
    hello = conn.session.receive(first, loop.time())
    gw.observer.first_message(len(first), isinstance(hello, Hello))
    if not isinstance(hello, Hello):
        raise ProtocolViolation("the first message must be hello", CloseCode.UNEXPECTED_MESSAGE)
    if hello.replay is not None:
        from server.gateway.replays import serve_replay

        await serve_replay(gw, conn, hello.replay)
        return
    refusal = gw.host.admit(conn, hello, loop.time())
    if refusal is not None:
        await gw.close(conn, refusal.code, refusal.reason)
        return
    assert conn.seat is not None
    assert conn.match is not None
    await send_welcome(
        ws, gw.host.welcome(conn.seat, conn.match, bool(hello.resume), hello.last_frame)
    )
    await receive_loop(gw, conn)


async def send_welcome(ws: ServerConnection, messages: list[bytes]) -> None:
    """Send the welcome messages. A function of its own so that no local of the
    connection's long-lived coroutine keeps the last one: a lockstep ``CHECKPOINT``
    (~110 KB at 1000 entities) held per connection was ~50 KB of RSS per client."""
    for message in messages:
        await ws.send(message)


async def receive_loop(gw: Gateway, conn: Conn) -> None:
    """Every message after HELLO, until the connection closes or leaves.

    With the lean path (:mod:`server.gateway.lean`, ``config.lean_receive``) messages are
    handed to :func:`dispatch` synchronously as their bytes arrive, and this loop only
    sees what websockets itself delivers: messages that were queued before the switch,
    and everything after a frame the fast path leaves to websockets (a text frame or a
    fragment, which then close as before). Either way each message goes through the
    same :func:`dispatch`.
    """
    ws = conn.ws
    if gw.config.lean_receive and isinstance(ws, LeanConnection):
        ws.go_lean(lean_handler(gw, conn))
    async for data in ws:
        if conn.stopped:
            continue  # the fast path closed it; wait for the closing handshake to end
        if isinstance(data, str):
            raise ProtocolViolation("text frames are not accepted", CloseCode.BINARY_ONLY)
        if not dispatch(gw, conn, data):
            conn.stopped = True
            await gw.close(conn, CloseCode.LEFT)
            return


def lean_handler(gw: Gateway, conn: Conn) -> Callable[[bytes], bool]:
    """The fast path's handler: :func:`dispatch`, with what the async loop does on a
    violation (log, count, close with its code) scheduled instead of awaited."""

    def handle(data: bytes) -> bool:
        if conn.stopped:
            return False
        try:
            if dispatch(gw, conn, data):
                return True
            gw.close_soon(conn, CloseCode.LEFT)
        except ProtocolViolation as exc:
            gw.observer.violation(conn, exc)
            gw.close_soon(conn, CloseCode(exc.close_code), exc.reason[:120])
        except Exception:  # as websockets does for a failed handler: log, close 1011
            log.exception("receive failed", extra={"conn_id": conn.session.conn_id})
            gw.fail_soon(conn)
        conn.stopped = True
        return False

    return handle


def dispatch(gw: Gateway, conn: Conn, data: bytes) -> bool:
    """Account for, decode and act on one binary message; False after ``LEAVE`` (the
    seat is released; the caller closes with ``LEFT``). Raises ProtocolViolation."""
    session = conn.session
    now = gw.loop_time()
    session.admit(len(data), now)
    # The default INPUT (every player, every tick) comes as a plain (tick, x, y) tuple.
    msg = decode_received(data, session.inputs)
    observer = gw.observer
    observer.in_bytes += len(data)
    seat, match = conn.seat, conn.match
    if seat is None or match is None:
        # The match ended or the seat was taken over and the close (MATCH_ENDED,
        # KICKED, SERVER_SHUTDOWN) is scheduled: keep reading until it happens.
        # Returning here would end the handler, and websockets would close with
        # 1000 before the scheduled close code could be sent.
        return True
    counts = observer.in_counts
    t = type(msg)
    if t is tuple or t is Input:
        counts[_INPUT] += 1
        conn.last_input_s = now
        if seat.spectator:
            send_error(conn, ErrorCode.SPECTATOR_INPUT, "spectators send no input")
            return True
        for r in match.receive_input(seat, *cast("InputFields | Input", msg)):
            observer.input_refused(r.code)
            send_error(conn, r.code, r.reason, r.seq)
    elif type(msg) is FieldInput:
        counts[MessageType.INPUT] += 1
        conn.last_input_s = now
        if seat.spectator:
            send_error(conn, ErrorCode.SPECTATOR_INPUT, "spectators send no input")
            return True
        for r in match.receive_fields(seat, *msg):
            observer.input_refused(r.code)
            send_error(conn, r.code, r.reason, r.seq)
    elif type(msg) is Ping:
        counts[MessageType.PING] += 1
        send_binary(conn.ws, encode(MessageType.PONG, {"t": msg.t, "tick": match.tick_count}))
    elif type(msg) is Ack:
        counts[MessageType.ACK] += 1
        match.receive_ack(seat, msg.tick)
    elif type(msg) is SnapshotRequest:
        counts[MessageType.SNAPSHOT_REQUEST] += 1
        match.request_full(seat)
    elif type(msg) is Checksum:
        counts[MessageType.CHECKSUM] += 1
        reply = gw.host.receive_checksum(conn, seat, match, msg.frame, msg.checksum)
        if reply is not None:
            send_binary(conn.ws, reply)
    elif type(msg) is Leave:
        counts[MessageType.LEAVE] += 1
        gw.host.leave(conn, seat, match)
        return False
    elif type(msg) is ReplayControl:
        raise ProtocolViolation("not watching a replay", CloseCode.UNEXPECTED_MESSAGE)
    else:  # a second hello
        raise ProtocolViolation("hello was already said", CloseCode.UNEXPECTED_MESSAGE)
    return True


def send_error(conn: Conn, code: ErrorCode, reason: str, seq: int | None = None) -> None:
    """Write a non-fatal ERROR message to ``conn`` (no awaiting); ``seq``: the input's."""
    send_binary(conn.ws, error_message(code, reason, seq))
