"""Per-connection state that needs no I/O: rate limiting and bookkeeping.

The gateway (:mod:`server.gateway`) owns the socket; a :class:`ClientSession`
takes bytes and the current time and either returns a decoded message or raises a
:class:`~server.errors.ProtocolViolation` carrying the close code. Tested by calling it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.errors import RateLimited
from server.net.codec import decode_client_message
from server.net.inputs import FieldInput, InputDecoder
from server.net.messages import ClientMessage
from server.net.protocol import CloseCode


@dataclass(slots=True)
class TokenBucket:
    """A token bucket: ``rate_per_s`` tokens per second, at most ``burst`` saved up."""

    rate_per_s: float
    burst: float
    tokens: float = -1.0
    updated_s: float = 0.0

    def take(self, now_s: float, amount: float = 1.0) -> bool:
        """Spend ``amount`` tokens if there are enough; False (and nothing spent) if not.

        The first call fills the bucket, a later one refills only when time has passed.
        :meth:`ClientSession.admit` inlines this for both of a connection's buckets (per
        client message); the two must change together."""
        if self.tokens < 0:
            self.tokens = self.burst
            self.updated_s = now_s
        elif now_s > self.updated_s:
            t = self.tokens + (now_s - self.updated_s) * self.rate_per_s
            self.tokens = t if t < self.burst else self.burst
            self.updated_s = now_s
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True


MESSAGES_PER_TICK = 2.0
"""The least message allowance per tick of the fastest hosted game: one input per tick
(docs/protocol.md) plus room for acks, pings and snapshot requests."""
BURST_S = 2.0
"""The least message burst, in seconds of that allowance."""


def message_allowance(rate_per_s: float, burst: float, tick_rate_hz: float) -> tuple[float, float]:
    """The per-connection message bucket ``(messages/s, burst)`` for a server whose fastest
    game ticks at ``tick_rate_hz``: the configured figures, raised to ``MESSAGES_PER_TICK``
    per tick and a burst of ``BURST_S`` seconds of it when the game is fast enough to need it.

    An honest client sends one input per tick, an ack every tenth frame and a ping a
    second: 67 messages/s at 60 Hz, which the 20 Hz default of 60/s closed with
    ``RATE_LIMITED`` once the burst ran out (17 s). At 20 Hz the defaults are unchanged.
    """
    per_tick = MESSAGES_PER_TICK * tick_rate_hz
    return max(rate_per_s, per_tick), max(burst, BURST_S * per_tick)


@dataclass(slots=True)
class ClientSession:
    """One connection's protocol state: limits, timestamps, which seat it holds."""

    conn_id: int
    message_bucket: TokenBucket
    byte_bucket: TokenBucket
    opened_s: float
    last_received_s: float = 0.0
    seat: Any = None
    match: Any = None
    trace_id: str = ""
    messages_received: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    inputs: InputDecoder | None = None
    """The seated match's declared input fields (None: the default ``x``/``y`` sticks)."""

    def receive(self, data: bytes, now_s: float) -> ClientMessage | FieldInput:
        """Account for and decode one binary message (raises ProtocolViolation)."""
        self.admit(len(data), now_s)
        return decode_client_message(data, self.inputs)

    def admit(self, size: int, now_s: float) -> None:
        """Account for one message of ``size`` bytes at ``now_s`` before it is decoded:
        the timestamps and both rate limits (raises RateLimited; the message bucket is
        checked first). :meth:`receive` is this and then the decoding."""
        self.last_received_s = now_s
        self.messages_received += 1
        # Both buckets' take() inlined, unrolled (two calls per message were ~3% of a
        # loaded server); tests/net/test_rate_limit.py holds this to the plain buckets.
        mb = self.message_bucket
        tokens = mb.tokens
        if tokens < 0:
            tokens = mb.burst
            mb.updated_s = now_s
        elif now_s > mb.updated_s:
            tokens += (now_s - mb.updated_s) * mb.rate_per_s
            if tokens > mb.burst:
                tokens = mb.burst
            mb.updated_s = now_s
        if tokens < 1.0:
            mb.tokens = tokens
            raise RateLimited("message rate limit exceeded", CloseCode.RATE_LIMITED)
        mb.tokens = tokens - 1.0
        bb = self.byte_bucket
        tokens = bb.tokens
        if tokens < 0:
            tokens = bb.burst
            bb.updated_s = now_s
        elif now_s > bb.updated_s:
            tokens += (now_s - bb.updated_s) * bb.rate_per_s
            if tokens > bb.burst:
                tokens = bb.burst
            bb.updated_s = now_s
        if tokens < size:
            bb.tokens = tokens
            raise RateLimited("message rate limit exceeded", CloseCode.RATE_LIMITED)
        bb.tokens = tokens - size
