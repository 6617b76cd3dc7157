"""Client messages as bytes: the envelope of docs/protocol.md, packed the bots' way."""

from __future__ import annotations

from typing import Any

import msgpack

from server.net.protocol import PROTOCOL_VERSION, MessageType


def pack(mtype: MessageType, body: dict[str, Any], single_float: bool = True) -> bytes:
    """Encode a client message; floats as float32 unless ``single_float`` is False (a
    stick needs no more, 4 bytes saved)."""
    out: bytes = msgpack.packb(
        [PROTOCOL_VERSION, int(mtype), body], use_bin_type=True, use_single_float=single_float
    )
    return out


def pack_ping(t_ms: float) -> bytes:
    """A PING stamped ``t_ms`` as a float64: float32 keeps 24 bits, so once the clock
    passes ~4.7 hours of milliseconds (2**24) its step exceeds 1 ms, and already after
    an hour of uptime (0.25 ms steps) a loopback RTT can come back negative."""
    return pack(MessageType.PING, {"t": t_ms}, single_float=False)


def inputs_payload(tick: int, x: float, y: float) -> bytes:
    """One encoded stick input (for benchmarks that need a client-sized message)."""
    return pack(MessageType.INPUT, {"tick": tick, "x": x, "y": y})
