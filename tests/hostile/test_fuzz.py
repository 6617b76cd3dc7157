"""Hostile bytes through the client codec and the session: documented errors only.

tests/net/test_codec.py already fuzzes random bytes, random envelopes and bit flips. This
module goes after what those leave out: structural surgery on valid messages (a field
replaced by any msgpack value, dropped, duplicated under another name, the envelope
nested or padded), msgpack's exotic types (ext, timestamps, non-string map keys, deep
nesting, big integers), byte splicing, and the same inputs through :class:`ClientSession`
with its token buckets. Whatever decodes must be a message the server can use as is.
"""

from __future__ import annotations

import math
from typing import Any

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from server.errors import (
    MalformedMessage,
    ProtocolViolation,
    RateLimited,
    UnknownMessageType,
    VersionMismatch,
)
from server.net.codec import MAX_TICK, decode_client_message, encode_client
from server.net.messages import Input
from server.net.protocol import PROTOCOL_VERSION, CloseCode
from server.net.session import ClientSession, TokenBucket
from server.testing import SAMPLE_CLIENT_MESSAGES

VALID = list(SAMPLE_CLIENT_MESSAGES)
DOCUMENTED = {
    CloseCode.MALFORMED_MESSAGE,
    CloseCode.UNKNOWN_MESSAGE_TYPE,
    CloseCode.VERSION_MISMATCH,  # an envelope version other than the integer 1
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 2**53 + 1])
    | st.text(max_size=40)
    | st.binary(max_size=40)
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=8))
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=6) | st.integers(-5, 5), children, max_size=4)
    ),
    max_leaves=10,
)


def decoded_or_documented(data: bytes) -> Any:
    """Decode; a refusal must be a documented ProtocolViolation. Returns the message or None."""
    refused: ProtocolViolation | None = None
    try:
        message = decode_client_message(data)
    except (MalformedMessage, UnknownMessageType, VersionMismatch) as exc:
        refused = exc
    if refused is not None:
        assert refused.close_code in DOCUMENTED
        assert refused.reason
        return None
    if isinstance(message, Input):
        # What reaches the match is always usable: finite sticks in range, a sane tick.
        assert math.isfinite(message.x)
        assert math.isfinite(message.y)
        assert -1.0 <= message.x <= 1.0
        assert -1.0 <= message.y <= 1.0
        assert 0 <= message.tick <= MAX_TICK
    return message


def pack(obj: Any) -> bytes | None:
    try:
        out: bytes = msgpack.packb(obj, use_bin_type=True)
    except (OverflowError, ValueError, TypeError):
        return None
    return out


@settings(max_examples=300, deadline=None)
@given(
    valid=st.sampled_from(VALID),
    surgery=st.sampled_from(["replace", "drop", "rename", "add", "nest", "pad", "retype"]),
    which=st.integers(0, 10),
    value=values,
)
def test_codec_refuses_surgically_altered_messages_with_documented_errors(
    valid: Any, surgery: str, which: int, value: Any
) -> None:
    """A valid message with one field replaced, dropped, renamed or added decodes or is refused."""
    version, mtype, body = msgpack.unpackb(encode_client(valid))
    keys = list(body)
    key = keys[which % len(keys)] if keys else "tick"
    envelope: Any = [version, mtype, dict(body)]
    if surgery == "replace":
        envelope[2][key] = value
    elif surgery == "drop":
        envelope[2].pop(key, None)
    elif surgery == "rename":
        envelope[2][key + "_"] = envelope[2].pop(key, value)
    elif surgery == "add":
        envelope[2][str(value)[:8]] = value
    elif surgery == "nest":
        envelope = [envelope, value]
    elif surgery == "pad":
        envelope = [*envelope, value]
    else:
        envelope[which % 3] = value
    data = pack(envelope)
    if data is not None:
        decoded_or_documented(data)


@settings(max_examples=300, deadline=None)
@given(
    valid=st.sampled_from(VALID),
    at=st.integers(0, 64),
    insert=st.binary(max_size=12),
    delete=st.integers(0, 6),
    tail=st.binary(max_size=8),
)
def test_codec_refuses_spliced_bytes_with_documented_errors(
    valid: Any, at: int, insert: bytes, delete: int, tail: bytes
) -> None:
    """Bytes inserted into, cut out of and appended to a valid message never escape as crashes."""
    data = encode_client(valid)
    i = at % (len(data) + 1)
    decoded_or_documented(data[:i] + insert + data[i + delete :] + tail)


@settings(max_examples=100, deadline=None)
@given(depth=st.integers(1, 3000), mtype=st.integers(-1, 300))
def test_codec_refuses_deep_nesting_and_odd_type_ids(depth: int, mtype: int) -> None:
    """Deeply nested arrays and out-of-table type ids give documented errors, not RecursionError."""
    decoded_or_documented(b"\x91" * depth + b"\xc0")
    data = pack([PROTOCOL_VERSION, mtype, {}])
    assert data is not None
    message = decoded_or_documented(data)
    if message is not None:
        assert mtype in (1, 2, 3, 4, 5, 6, 7, 10)


@settings(max_examples=100, deadline=None)
@given(frames=st.lists(st.binary(max_size=300) | values.map(pack), min_size=1, max_size=200))
def test_session_raises_only_protocol_violations_for_any_frame_sequence(
    frames: list[bytes | None],
) -> None:
    """A session fed any sequence of frames returns messages or raises ProtocolViolation only."""
    session = ClientSession(1, TokenBucket(60.0, 120.0), TokenBucket(65536.0, 131072.0), 0.0)
    for n, data in enumerate(f for f in frames if f is not None):
        refused: ProtocolViolation | None = None
        try:
            session.receive(data, now_s=n * 0.001)
        except ProtocolViolation as exc:
            refused = exc
        if isinstance(refused, RateLimited):
            assert refused.close_code == CloseCode.RATE_LIMITED
            assert n >= 120  # the burst is honoured before the limit bites
            break
        if refused is not None:
            assert refused.close_code in DOCUMENTED
