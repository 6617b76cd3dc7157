"""msgpack encoding and validated decoding of the wire messages.

Every message is a msgpack array ``[version, type, body]`` where ``body`` is a map
with string keys (docs/protocol.md lists them). :func:`decode_client_message` either
returns one of :mod:`server.net.messages` or raises a
:class:`~server.errors.ProtocolViolation` subclass -- never anything else, whatever the
bytes (a hypothesis test holds it to that). Unknown body keys are errors, so a client
that misspells a field hears about it instead of being silently ignored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, cast

import msgpack

from server.errors import MalformedMessage, ProtocolViolation, UnknownMessageType, VersionMismatch
from server.matchmaking.errors import MatchmakingError
from server.matchmaking.labels import parse_filter
from server.matchmaking.requests import (
    MAX_CODE_CHARS,
    MAX_GAME_CHARS,
    MAX_MATCH_ID_CHARS,
    parse_create,
)
from server.net.inputs import SEQ_MAX, FieldInput, InputDecoder, check_view
from server.net.messages import (
    Ack,
    Checksum,
    ClientMessage,
    Hello,
    Input,
    Leave,
    Ping,
    ReplayControl,
    SnapshotRequest,
)
from server.net.protocol import CLIENT_MESSAGES, PROTOCOL_VERSION, CloseCode, MessageType

MAX_TICK = 2**53
"""Ticks and frames above this are refused (they would lose precision in JavaScript)."""


def _int(key: str, lo: int, hi: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if type(v) is not int:
            raise MalformedMessage(f"field {key!r}: expected an integer, got {type(v).__name__}")
        if not lo <= v <= hi:
            raise MalformedMessage(f"field {key!r}: {v} is outside [{lo}, {hi}]")
        return v

    return check


def _num(key: str, lo: float, hi: float) -> Callable[[Any], float]:
    def check(v: Any) -> float:
        t = type(v)
        if t is not float and t is not int:
            raise MalformedMessage(f"field {key!r}: expected a number, got {t.__name__}")
        f = float(v)
        if not math.isfinite(f):
            raise MalformedMessage(f"field {key!r}: {v} is not finite")
        if not lo <= f <= hi:
            raise MalformedMessage(f"field {key!r}: {v} is outside [{lo}, {hi}]")
        return f

    return check


def _str(key: str, max_len: int) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if type(v) is not str:
            raise MalformedMessage(f"field {key!r}: expected a string, got {type(v).__name__}")
        if len(v) > max_len:
            raise MalformedMessage(f"field {key!r}: longer than {max_len} characters")
        return v

    return check


def _bool(key: str) -> Callable[[Any], bool]:
    def check(v: Any) -> bool:
        if type(v) is not bool:
            raise MalformedMessage(f"field {key!r}: expected a boolean, got {type(v).__name__}")
        return v

    return check


def _matchmaking(key: str, parse: Callable[[Any], object]) -> Callable[[Any], Any]:
    """A field checked by a server.matchmaking parser; the raw (checked) value is kept."""

    def check(v: Any) -> Any:
        try:
            parse(v)
        except MatchmakingError as exc:
            raise MalformedMessage(f"field {key!r}: {exc.message}") from None
        return v

    return check


# type -> (dataclass, {field: (validator, required)})
_Spec = tuple[type, dict[str, tuple[Callable[[Any], Any], bool]]]
_SPECS: dict[MessageType, _Spec] = {
    MessageType.HELLO: (
        Hello,
        {
            "version": (_int("version", 0, 2**31), True),
            "token": (_str("token", 4096), False),  # a JWT; the verifier caps it at 2048
            "resume": (_str("resume", 512), False),
            "spectate": (_bool("spectate"), False),
            "last_frame": (_int("last_frame", 0, MAX_TICK), False),
            "name": (_str("name", 32), False),
            "game": (_str("game", MAX_GAME_CHARS), False),
            "match_id": (_str("match_id", MAX_MATCH_ID_CHARS), False),
            "create": (_matchmaking("create", parse_create), False),
            "code": (_str("code", MAX_CODE_CHARS), False),
            "filters": (_matchmaking("filters", parse_filter), False),
            "reservation": (_str("reservation", 256), False),
            "replay": (_str("replay", 128), False),
        },
    ),
    MessageType.INPUT: (
        Input,
        {
            "tick": (_int("tick", 0, MAX_TICK), True),
            "x": (_num("x", -1.0, 1.0), True),
            "y": (_num("y", -1.0, 1.0), True),
            "seq": (_int("seq", 0, SEQ_MAX), False),
            "view_tick": (_int("view_tick", 0, MAX_TICK), False),
            "view_alpha": (_num("view_alpha", 0.0, 1.0), False),
        },
    ),
    MessageType.PING: (Ping, {"t": (_num("t", -1e300, 1e300), True)}),
    MessageType.ACK: (Ack, {"tick": (_int("tick", 0, MAX_TICK), True)}),
    MessageType.SNAPSHOT_REQUEST: (SnapshotRequest, {}),
    MessageType.CHECKSUM: (
        Checksum,
        {
            "frame": (_int("frame", 0, MAX_TICK), True),
            "checksum": (_int("checksum", 0, 2**64 - 1), True),
        },
    ),
    MessageType.LEAVE: (Leave, {}),
    MessageType.REPLAY_CONTROL: (
        ReplayControl,
        {
            "play": (_bool("play"), False),
            "speed": (_num("speed", 0.5, 4.0), False),
            "seek": (_int("seek", 0, MAX_TICK), False),
        },
    ),
}


_INPUT_KEYS = frozenset(("tick", "x", "y"))


InputFields = tuple[int, float, float]
"""A default ``INPUT``'s ``(tick, x, y)``, as :func:`decode_received` returns it."""


def decode_client_message(
    data: bytes | bytearray | memoryview, inputs: InputDecoder | None = None
) -> ClientMessage | FieldInput:
    """Decode and validate one client message; raise a ProtocolViolation on any fault.

    ``inputs``: the game's declared input fields (None: the default ``x``/``y`` sticks);
    with it, an ``INPUT`` decodes to a :class:`~server.net.inputs.FieldInput`. This is
    :func:`decode_received` with a default input wrapped in an :class:`Input`.
    """
    message = decode_received(data, inputs)
    if type(message) is tuple:
        return Input(*cast(InputFields, message))
    return cast(ClientMessage | FieldInput, message)


def decode_received(
    data: bytes | bytearray | memoryview, inputs: InputDecoder | None = None
) -> ClientMessage | FieldInput | InputFields:
    """:func:`decode_client_message` for the receive path: the same checks and errors,
    but a plain default ``INPUT`` (exactly ``tick``, ``x``, ``y``) comes back as the
    tuple ``(tick, x, y)`` with float sticks, not as an :class:`Input`.

    That message is sent by every player every tick, so it takes a fast path: one
    msgpack call and the same rules inlined, no message object. Anything unusual about
    it (other keys, a wrong type anywhere, a value out of range) falls through to the
    general checks, which give the precise error; a property test holds the fast path
    to them.
    """
    try:
        envelope = _unpack(data)
    except Exception as exc:  # msgpack raises many types for bad bytes; all mean "malformed"
        raise MalformedMessage(f"not a msgpack message: {type(exc).__name__}") from None
    if (
        type(envelope) is list
        and len(envelope) == 3
        and type(envelope[1]) is int  # 2.0 is not a message type (docs/protocol.md)
        and envelope[1] == 2
        and type(envelope[0]) is int
        and envelope[0] == PROTOCOL_VERSION
        and type(envelope[2]) is dict
    ):
        body = envelope[2]
        if inputs is not None:
            return inputs.decode(body)
        if body.keys() == _INPUT_KEYS:
            tick, x, y = body["tick"], body["x"], body["y"]
            if (
                type(tick) is int
                and 0 <= tick <= MAX_TICK
                and (type(x) is float or type(x) is int)
                and (type(y) is float or type(y) is int)
                and -1.0 <= x <= 1.0  # False for NaN
                and -1.0 <= y <= 1.0
            ):
                return tick, float(x), float(y)
    return _decode_checked(envelope)


def _decode_checked(envelope: Any) -> ClientMessage:
    """The general path: every rule checked in order, with a precise reason.

    The order (docs/protocol.md, "Order of checks"): envelope shape, envelope version
    (an integer equal to PROTOCOL_VERSION on every message, else VERSION_MISMATCH),
    message type, body.
    """
    if type(envelope) is not list or len(envelope) != 3:
        raise MalformedMessage("envelope must be an array [version, type, body]")
    version, mtype, body = envelope
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise VersionMismatch(
            f"envelope version {version!r}, this server speaks {PROTOCOL_VERSION}"
        )
    if type(mtype) is not int:
        raise MalformedMessage("envelope type must be an integer")
    if mtype not in _TYPE_BY_VALUE:
        raise UnknownMessageType(f"unknown message type {mtype}")
    kind = _TYPE_BY_VALUE[mtype]
    if type(body) is not dict:
        raise MalformedMessage("envelope body must be a map")
    cls, fields = _SPECS[kind]
    for key in body:
        if key not in fields:
            raise MalformedMessage(
                f"{kind.name}: unknown field {key!r} (allowed: {', '.join(fields) or 'none'})"
            )
    values: dict[str, Any] = {}
    for key, (check, required) in fields.items():
        if key in body:
            v = body[key]
            if v is None and not required:
                continue
            values[key] = check(v)
        elif required:
            raise MalformedMessage(f"{kind.name}: missing field {key!r}")
    if kind is MessageType.INPUT:
        check_view(values.get("view_tick"), values.get("view_alpha"))
    message: ClientMessage = cls(**values)
    return message


_TYPE_BY_VALUE: dict[int, MessageType] = {int(t): t for t in CLIENT_MESSAGES}


def _unpack(data: bytes | bytearray | memoryview) -> Any:
    """msgpack with its defaults: ``raw=False``, ``strict_map_key=True``.

    Passing the explicit ``max_*_len`` limits costs ~0.7 us per call (keyword parsing
    in the C extension), a sixth of an input's budget. They are unnecessary here: the
    websocket layer already refuses frames over ``max_message_bytes`` (4 KiB), and
    msgpack bounds every length by the buffer size and nesting by its stack limit.
    """
    return msgpack.unpackb(data)


def encode(mtype: MessageType, body: Mapping[str, Any]) -> bytes:
    """Encode one message ``[PROTOCOL_VERSION, type, body]``."""
    out: bytes = msgpack.packb([PROTOCOL_VERSION, int(mtype), body], use_bin_type=True)
    return out


def encode_client(message: ClientMessage) -> bytes:
    """Encode a client message (used by bots and tests) from its dataclass."""
    mtype = _CLIENT_TYPE[type(message)]
    fields = message._fields if isinstance(message, Input) else message.__slots__
    body = {k: getattr(message, k) for k in fields}
    body = {k: v for k, v in body.items() if v is not None}
    if isinstance(message, Hello) and not message.spectate:
        body.pop("spectate", None)
    return encode(mtype, body)


_CLIENT_TYPE: dict[type, MessageType] = {cls: t for t, (cls, _) in _SPECS.items()}


def decode_server_message(data: bytes) -> tuple[MessageType, dict[str, Any]]:
    """Decode a server message into ``(type, body)`` (for clients; trusts the server)."""
    version, mtype, body = msgpack.unpackb(data, raw=False)
    if version != PROTOCOL_VERSION:
        raise ProtocolViolation(f"server speaks version {version}", CloseCode.VERSION_MISMATCH)
    return MessageType(mtype), body
