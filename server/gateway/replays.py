"""Watching a recording over the websocket: HELLO ``{replay: "<id>"}`` and REPLAY_CONTROL.

A connection whose HELLO names a recording (an ``id`` of ``GET /replays``) gets its own
:class:`~server.replay.player.ReplayPlayer`: a WELCOME as a spectator (plus a ``replay``
map), then the same ``STATE`` frames a live spectator gets, paced at the recording's tick
rate times the chosen speed. The client steers it with REPLAY_CONTROL (``play``,
``speed`` 0.5-4, ``seek`` a tick); a seek outside the recording closes
``MALFORMED_MESSAGE``. An unknown id closes ``MATCH_NOT_FOUND``; a file that cannot be
replayed (corrupt, foreign, a definition that does not load) closes ``MATCH_FAILED`` with
a log line ``replay.unreadable``. Either way only that connection is affected.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

from websockets.asyncio.server import broadcast

from server.errors import ProtocolViolation
from server.hosting.welcome import welcome_body
from server.match.match import Seat
from server.net.codec import encode
from server.net.messages import Ack, Leave, Ping, ReplayControl, SnapshotRequest
from server.net.protocol import CloseCode, MessageType
from server.replay.format import ReplayError
from server.replay.player import ReplayPlayer
from server.replay.recorder import SUFFIX
from server.replay.replayer import open_recording, recording_definition

if TYPE_CHECKING:
    from pathlib import Path

    from server.gateway.connection import Conn
    from server.gateway.server import Gateway

log = logging.getLogger("tickwire.replay")

REPLAY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
"""A recording id is a file stem: no separators, so it cannot leave the directory."""


def load_player(path: Path, replay_id: str) -> ReplayPlayer:
    """Read and check the whole recording; :class:`ReplayError` if it cannot be watched."""
    try:
        rec = open_recording(path)
        return ReplayPlayer(rec, recording_definition(rec), replay_id)
    except ReplayError:
        raise
    except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise ReplayError(f"{path}: cannot be replayed: {type(exc).__name__}: {exc}") from None


async def serve_replay(gw: Gateway, conn: Conn, replay_id: str) -> None:
    """Serve one replay watcher until it leaves or closes (see the module docstring)."""
    directory = gw.replays_dir
    path = directory / f"{replay_id}{SUFFIX}" if directory is not None else None
    if path is None or not REPLAY_ID.fullmatch(replay_id) or not path.is_file():
        log.info("replay.not_found id=%r", replay_id[:128])
        await gw.close(conn, CloseCode.MATCH_NOT_FOUND, "no such recording")
        return
    try:
        player = await asyncio.to_thread(load_player, path, replay_id)
    except ReplayError as exc:
        log.warning("replay.unreadable id=%s error=%s", replay_id, exc)
        gw.observer.protocol_error(CloseCode.MATCH_FAILED)
        await gw.close(
            conn, CloseCode.MATCH_FAILED, f"recording {replay_id} cannot be replayed"[:120]
        )
        return
    seat = player.watch(conn)
    body = welcome_body(player.match, seat, "", False)
    body["replay"] = {
        "id": replay_id,
        "end_tick": player.end_tick,
        "playing": player.playing,
        "speed": player.speed,
    }
    await conn.ws.send(encode(MessageType.WELCOME, body))
    pump = asyncio.get_running_loop().create_task(_pump(gw, conn, player))
    try:
        await _receive(gw, conn, player, seat)
    finally:
        pump.cancel()
        player.unwatch(seat)


async def _pump(gw: Gateway, conn: Conn, player: ReplayPlayer) -> None:
    """Advance the replay by the wall time passed, once per tick period; send its frames."""
    loop = asyncio.get_running_loop()
    period = 1.0 / player.definition.tick_rate_hz
    last = loop.time()
    while not conn.closing:
        await asyncio.sleep(period)
        now = loop.time()
        try:
            out = player.advance(now - last, gw.writable)
        except (ReplayError, KeyError, ValueError, TypeError, IndexError) as exc:
            log.warning("replay.unreadable id=%s error=%s", player.match.match_id, exc)
            await gw.close(conn, CloseCode.MATCH_FAILED, "recording cannot be replayed")
            return
        last = now
        gw.send_each(out.frames)


def control(player: ReplayPlayer, msg: ReplayControl) -> None:
    """Apply one REPLAY_CONTROL (seek first, then speed, then play/pause); a seek outside
    the recording raises ProtocolViolation(MALFORMED_MESSAGE) before anything changes."""
    if msg.seek is not None and not 0 <= msg.seek <= player.end_tick:
        raise ProtocolViolation(
            f"REPLAY_CONTROL: seek {msg.seek} outside 0..{player.end_tick}",
            CloseCode.MALFORMED_MESSAGE,
        )
    if msg.seek is not None:
        player.seek(msg.seek)
    if msg.speed is not None:
        player.set_speed(msg.speed)
    if msg.play is True:
        player.play()
    elif msg.play is False:
        player.pause()


async def _receive(gw: Gateway, conn: Conn, player: ReplayPlayer, seat: Seat) -> None:
    """A watcher's messages: REPLAY_CONTROL, PING, ACK, SNAPSHOT_REQUEST, LEAVE."""
    ws = conn.ws
    loop = asyncio.get_running_loop()
    counts = gw.observer.in_counts
    async for data in ws:
        if isinstance(data, str):
            raise ProtocolViolation("text frames are not accepted", CloseCode.BINARY_ONLY)
        msg = conn.session.receive(data, loop.time())
        gw.observer.in_bytes += len(data)
        if type(msg) is ReplayControl:
            counts[MessageType.REPLAY_CONTROL] += 1
            control(player, msg)
        elif type(msg) is Ping:
            counts[MessageType.PING] += 1
            broadcast((ws,), encode(MessageType.PONG, {"t": msg.t, "tick": player.tick}))
        elif type(msg) is Ack:
            counts[MessageType.ACK] += 1
            player.match.receive_ack(seat, msg.tick)
        elif type(msg) is SnapshotRequest:
            counts[MessageType.SNAPSHOT_REQUEST] += 1
            player.match.request_full(seat)
        elif type(msg) is Leave:
            counts[MessageType.LEAVE] += 1
            await gw.close(conn, CloseCode.LEFT)
            return
        else:
            raise ProtocolViolation(
                f"{type(msg).__name__} is not accepted while watching a replay",
                CloseCode.UNEXPECTED_MESSAGE,
            )
