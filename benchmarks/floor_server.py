"""The per-message floor: a websocket server that does nothing but the unavoidable.

``python -m benchmarks.floor_server --port 0 --frame-bytes 300`` speaks just enough of
the Tickwire protocol for ``client_sim`` bots to connect (it answers ``HELLO`` with a
``WELCOME``) and then, at the tick rate, writes one *prebuilt* ``STATE`` frame of about
``--frame-bytes`` bytes to every client (an empty delta, padded) and reads every client
message without decoding it. Its CPU per message is what the same websockets library,
event loop, kernel and machine charge for moving the same traffic with no game in it:
the floor that ``benchmarks e2e`` divides Tickwire's own cost per message by.

``--stack lean`` (the default, as the server's default ``lean_receive``) moves the bytes
the way the gateway does: websockets for the handshake and control frames, then
:class:`~server.gateway.lean.LeanConnection` cutting the clients' frames out of the
socket's bytes and :func:`~server.gateway.lean.write_frame` writing each client its
prebuilt frame. ``--stack websockets`` is websockets' own path both ways (``async for``
over the messages, ``websockets.broadcast`` per client): the floor before the lean path,
and what the server's ``--no-lean-receive`` is compared with.

It prints ``floor listening on ws://HOST:PORT/ws`` once bound and runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

import msgpack
from websockets.asyncio.server import ServerConnection, broadcast, serve

from server.gateway.lean import LeanConnection, frame, send_binary, write_frame
from server.net.protocol import PROTOCOL_VERSION, MessageType

_PING_PREFIX = bytes((0x93, PROTOCOL_VERSION, int(MessageType.PING)))


def _frame(tick: int, size: int) -> bytes:
    body = {"t": tick, "f": False, "w": 2, "e": b"", "k": b"", "p": b""}
    body.update({"c": b"", "d": b"", "m": b"", "q": b"", "l": b""})
    base = len(msgpack.packb([PROTOCOL_VERSION, int(MessageType.STATE), body]))
    body["pad"] = b"\0" * max(0, size - base - 6)
    out: bytes = msgpack.packb([PROTOCOL_VERSION, int(MessageType.STATE), body])
    return out


async def serve_floor(
    host: str, port: int, frame_bytes: int, tick_rate_hz: int, stack: str = "lean"
) -> None:
    """Serve until SIGTERM/SIGINT."""
    clients: set[ServerConnection] = set()
    tick = 0
    lean = stack == "lean"

    def pong(ws: ServerConnection, msg: bytes) -> None:
        body = msgpack.unpackb(msg)[2]
        payload = msgpack.packb([PROTOCOL_VERSION, 68, {"t": body["t"], "tick": tick}])
        if lean:
            send_binary(ws, payload)
        else:
            broadcast((ws,), payload)

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()  # hello, not inspected
        welcome = {
            "player_id": 0,
            "entity": -1,
            "match_id": "floor",
            "seat": 0,
            "spectator": False,
            "game": "floor",
            "tick": tick,
            "tick_rate_hz": tick_rate_hz,
            "snapshot_rate_hz": tick_rate_hz,
            "sync": "state",
            "quantize": {"position.x": 1.0, "position.y": 1.0},
            "world": [1.0, 1.0],
            "interest_radius": 1.0,
            "kinds": [],
            "resume_token": "",
            "resumed": False,
            "input_delay_ticks": 0,
            "checksum_interval_ticks": 0,
        }
        await ws.send(msgpack.packb([PROTOCOL_VERSION, int(MessageType.WELCOME), welcome]))
        clients.add(ws)
        if lean:
            assert isinstance(ws, LeanConnection)

            def on_binary(msg: bytes) -> bool:
                if msg[:3] == _PING_PREFIX:
                    pong(ws, msg)
                return True

            ws.go_lean(on_binary)
        try:
            async for msg in ws:  # lean: only what arrived before go_lean
                if isinstance(msg, bytes) and msg[:3] == _PING_PREFIX:
                    pong(ws, msg)
        finally:
            clients.discard(ws)

    async with serve(
        handler,
        host,
        port,
        compression=None,
        ping_interval=None,
        max_queue=32,
        create_connection=LeanConnection if lean else ServerConnection,
    ) as server:
        bound = next(iter(server.sockets)).getsockname()
        print(f"floor listening on ws://{bound[0]}:{bound[1]}/ws", flush=True)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        period = 1.0 / tick_rate_hz
        start = loop.time()
        while not stop.is_set():
            tick += 1
            # Each client gets its own prebuilt frame object, as state sync does.
            payload = _frame(tick, frame_bytes)
            for ws in list(clients):
                if lean:
                    write_frame(ws, frame(payload))
                else:
                    broadcast((ws,), payload)
            delay = start + tick * period - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.floor_server", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--frame-bytes", type=int, default=300)
    p.add_argument("--tick-rate", type=int, default=20)
    p.add_argument("--stack", choices=("lean", "websockets"), default="lean")
    args = p.parse_args(argv)
    import uvloop

    uvloop.run(serve_floor(args.host, args.port, args.frame_bytes, args.tick_rate, args.stack))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
