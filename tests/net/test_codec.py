"""The codec: round trips, validation, and only documented errors for any bytes."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import msgpack
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from server.errors import (
    MalformedMessage,
    ProtocolViolation,
    UnknownMessageType,
    VersionMismatch,
)
from server.net import codec
from server.net.codec import decode_client_message, encode_client
from server.net.messages import Hello, Input
from server.net.protocol import PROTOCOL_VERSION, CloseCode
from server.testing import SAMPLE_CLIENT_MESSAGES


def raw(mtype: int, body: object, version: object = PROTOCOL_VERSION) -> bytes:
    out: bytes = msgpack.packb([version, mtype, body], use_bin_type=True)
    return out


VALID = list(SAMPLE_CLIENT_MESSAGES)


@pytest.mark.parametrize("message", VALID, ids=lambda m: type(m).__name__)
def test_codec_round_trips_every_client_message(message: object) -> None:
    """Encoding then decoding gives the same message back."""
    assert decode_client_message(encode_client(message)) == message


@pytest.mark.parametrize(
    ("data", "error", "text"),
    [
        (b"\xc1\xc1garbage", MalformedMessage, "not a msgpack"),
        (msgpack.packb({"a": 1}), MalformedMessage, "envelope"),
        (msgpack.packb([1, 2]), MalformedMessage, "envelope"),
        (raw(99, {}), UnknownMessageType, "unknown message type 99"),
        (raw(65, {}), UnknownMessageType, "unknown message type 65"),
        (raw(2, {"tick": 1, "x": 0.1}), MalformedMessage, "missing field 'y'"),
        (raw(2, {"tick": 1, "x": 0.1, "y": 0, "z": 1}), MalformedMessage, "unknown field 'z'"),
        (raw(2, {"tick": "1", "x": 0.1, "y": 0}), MalformedMessage, "expected an integer"),
        (raw(2, {"tick": 1, "x": math.nan, "y": 0}), MalformedMessage, "not finite"),
        (raw(2, {"tick": 1, "x": math.inf, "y": 0}), MalformedMessage, "not finite"),
        (raw(2, {"tick": 1, "x": 1e300, "y": 0}), MalformedMessage, "outside"),
        (raw(2, {"tick": -1, "x": 0, "y": 0}), MalformedMessage, "outside"),
        (raw(2, {"tick": True, "x": 0, "y": 0}), MalformedMessage, "expected an integer"),
        (raw(2, [1, 2, 3]), MalformedMessage, "body must be a map"),
        (raw(2, {"tick": 1, "x": 0, "y": 0}, version=7), VersionMismatch, "version 7"),
        (raw(1, {"version": 1}, version="1"), VersionMismatch, "version '1'"),
        (raw(1, {"version": 1}, version=True), VersionMismatch, "version True"),
        (raw(1, {"version": 1, "spectate": "yes"}), MalformedMessage, "boolean"),
        (raw(1, {"version": 1, "token": "x" * 4097}), MalformedMessage, "longer than"),
    ],
)
def test_codec_rejects_bad_messages_with_documented_errors(
    data: bytes, error: type[ProtocolViolation], text: str
) -> None:
    """Each kind of bad input raises its documented error type and a clear reason."""
    with pytest.raises(error, match=text) as info:
        decode_client_message(data)
    expected_code = {
        UnknownMessageType: CloseCode.UNKNOWN_MESSAGE_TYPE,
        VersionMismatch: CloseCode.VERSION_MISMATCH,
    }.get(error, CloseCode.MALFORMED_MESSAGE)
    assert info.value.close_code == expected_code


def test_codec_accepts_hello_of_another_version_for_the_handshake_to_refuse() -> None:
    """A hello whose body names another version decodes (the handshake answers 4000)."""
    msg = decode_client_message(raw(1, {"version": 99}))
    assert msg == Hello(version=99)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_codec_raises_only_protocol_violation_for_random_bytes(data: bytes) -> None:
    """Any bytes either decode or raise a ProtocolViolation, never another exception."""
    with contextlib.suppress(ProtocolViolation):
        decode_client_message(data)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64 - 1)
    | st.floats()
    | st.text(max_size=10)
    | st.binary(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    mtype=st.integers(-3, 80),
    body=st.dictionaries(
        st.sampled_from(["tick", "x", "y", "t", "version", "frame", "checksum", "token", "zz"]),
        msgpack_values,
        max_size=5,
    ),
    version=st.sampled_from([PROTOCOL_VERSION, 0, 2]),
)
def test_codec_raises_only_protocol_violation_for_mutated_messages(
    mtype: int, body: dict[str, object], version: int
) -> None:
    """Near-valid envelopes with random fields decode or raise a ProtocolViolation only."""
    try:
        data = raw(mtype, body, version)
    except (OverflowError, ValueError):
        return
    with contextlib.suppress(ProtocolViolation):
        decode_client_message(data)


@settings(max_examples=200, deadline=None)
@given(
    valid=st.sampled_from(VALID),
    cut=st.integers(0, 40),
    flip=st.integers(0, 255),
)
def test_codec_raises_only_protocol_violation_for_corrupted_valid_messages(
    valid: object, cut: int, flip: int
) -> None:
    """Truncated or bit-flipped valid messages never raise anything undocumented."""
    data = bytearray(encode_client(valid))
    if data:
        data[cut % len(data)] ^= flip
    for candidate in (bytes(data), bytes(data[: cut % (len(data) + 1)])):
        with contextlib.suppress(ProtocolViolation):
            decode_client_message(candidate)


def _outcome(decode: Callable[[bytes], object], data: bytes) -> object:
    try:
        return decode(data)
    except ProtocolViolation as exc:
        return (type(exc).__name__, str(exc))


def _general(data: bytes) -> object:
    """The general path alone (no INPUT fast path)."""
    try:
        envelope = msgpack.unpackb(data)
    except Exception as exc:
        raise MalformedMessage(f"not a msgpack message: {type(exc).__name__}") from None
    return codec._decode_checked(envelope)


_sticks = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1.0, max_value=1.0),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([-1.0, 0.0, 1.0, -0.0, 1.0000001, "x", None]),
)


_ticks = st.one_of(st.integers(0, 300), st.integers(-5, 2**64 - 1), st.just(2**53 + 1))
_envelopes = st.sampled_from([(PROTOCOL_VERSION, 2), (PROTOCOL_VERSION, 2.0), (True, 2), (0, 2)])


def _input_bytes(
    envelope: tuple[object, object],
    values: dict[str, object],
    order: list[str],
    extra: tuple[str, object] | None,
    single: bool,
    tail: bytes,
) -> bytes:
    """An INPUT-like message: ``values`` in ``order``, plus ``extra``, packed with single
    or double floats, then ``tail`` (hypothesis skips a double beyond float32's range)."""
    body = {k: values[k] for k in order}
    if extra is not None:
        body[extra[0]] = extra[1]
    try:
        data: bytes = msgpack.packb([*envelope, body], use_single_float=single)
    except OverflowError:
        assume(False)
    return data + tail


@settings(max_examples=400, deadline=None)
@given(
    tick=_ticks,
    x=_sticks,
    y=_sticks,
    single=st.booleans(),
    order=st.permutations(["tick", "x", "y"]),
    extra=st.sampled_from([None, ("seq", 7), ("view_tick", 3)]),
    envelope=_envelopes,
    tail=st.sampled_from([b"", b"\x00"]),
)
def test_input_fast_path_gives_what_the_msgpack_path_gives(
    tick: int,
    x: object,
    y: object,
    single: bool,
    order: list[str],
    extra: tuple[str, object] | None,
    envelope: tuple[object, object],
    tail: bytes,
) -> None:
    """The INPUT fast path agrees with the general checks on every encoding: the same
    Input, or the same error (unusual shapes, extra keys such as ``seq``, fall through)."""
    data = _input_bytes(envelope, {"tick": tick, "x": x, "y": y}, order, extra, single, tail)
    assert _outcome(decode_client_message, data) == _outcome(_general, data)


@settings(max_examples=400, deadline=None)
@given(
    tick=_ticks,
    x=_sticks,
    y=_sticks,
    single=st.booleans(),
    order=st.permutations(["tick", "x", "y"]),
    extra=st.sampled_from([None, ("seq", 7), ("view_tick", 3), ("x", None)]),
    envelope=_envelopes,
    tail=st.sampled_from([b"", b"\x00"]),
)
def test_a_received_tuple_is_what_the_general_path_accepts(
    tick: int,
    x: object,
    y: object,
    single: bool,
    order: list[str],
    extra: tuple[str, object] | None,
    envelope: tuple[object, object],
    tail: bytes,
) -> None:
    """The receive path's ``decode_received`` returns a ``(tick, x, y)`` tuple only for
    bytes the general checks decode to that very ``Input``, and otherwise what
    ``decode_client_message`` returns or raises."""
    data = _input_bytes(envelope, {"tick": tick, "x": x, "y": y}, order, extra, single, tail)
    try:
        got = codec.decode_received(data)
    except ProtocolViolation:
        got = None
    if type(got) is tuple:
        general = _outcome(_general, data)
        assert general == Input(*got)
        assert (type(general.x), type(general.y)) == (float, float)  # type: ignore[union-attr]
    else:
        assert _outcome(codec.decode_received, data) == _outcome(decode_client_message, data)


def test_a_float_message_type_is_malformed_on_the_input_fast_path_too() -> None:
    """``[1, 2.0, {tick, x, y}]`` is not an INPUT: the type must be an integer, and the
    fast path once took 2.0 == 2 for one."""
    data = msgpack.packb([PROTOCOL_VERSION, 2.0, {"tick": 1, "x": 0.5, "y": 0.0}])
    for decode in (decode_client_message, codec.decode_received):
        with pytest.raises(MalformedMessage, match="type must be an integer"):
            decode(data)
