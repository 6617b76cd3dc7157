"""The per-connection message allowance follows the game's tick rate (issue 21).

An honest client sends one input per tick, an ack every tenth frame and a ping a second;
at 60 Hz that is 67 messages/s, which a fixed 60/s bucket closed with RATE_LIMITED once
its burst ran out (17 s in), and the tick-rate sweep read it as 43 frames/s.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.config import ServerConfig
from server.errors import RateLimited
from server.net.session import ClientSession, TokenBucket, message_allowance

DEFAULTS = ServerConfig()


def refused_at(bucket: TokenBucket, tick_rate_hz: int, extra_per_tick: int, seconds: float) -> int:
    """Feed ``bucket`` an honest client's traffic (plus ``extra_per_tick`` more messages
    per tick); the tick of the first refusal, or -1."""
    for tick in range(int(seconds * tick_rate_hz)):
        now = tick / tick_rate_hz
        sends = 1 + extra_per_tick + (tick % 10 == 0) + (tick % tick_rate_hz == 0)
        for _ in range(sends):
            if not bucket.take(now):
                return tick
    return -1


def bucket_for(tick_rate_hz: int) -> TokenBucket:
    rate, burst = message_allowance(
        DEFAULTS.rate_messages_per_s, DEFAULTS.rate_burst_messages, tick_rate_hz
    )
    return TokenBucket(rate, burst)


@pytest.mark.parametrize("tick_rate_hz", [10, 20, 30, 60, 128])
def test_an_honest_client_is_never_limited_at_any_tick_rate(tick_rate_hz: int) -> None:
    """A minute of one input per tick, acks and pings passes the bucket at every rate."""
    assert refused_at(bucket_for(tick_rate_hz), tick_rate_hz, 0, 60.0) == -1


def test_the_fixed_60_per_s_bucket_closed_an_honest_60_hz_client() -> None:
    """The old bucket (the configured figures unscaled) refused that client after ~17 s."""
    old = TokenBucket(DEFAULTS.rate_messages_per_s, DEFAULTS.rate_burst_messages)
    tick = refused_at(old, 60, 0, 60.0)
    assert 15 * 60 < tick < 20 * 60


def test_the_20_hz_defaults_are_unchanged() -> None:
    """Up to 30 Hz the documented 60 msg/s, burst 120 hold as configured."""
    assert message_allowance(60.0, 120.0, 20) == (60.0, 120.0)
    assert message_allowance(60.0, 120.0, 30) == (60.0, 120.0)
    assert message_allowance(500.0, 900.0, 128) == (500.0, 900.0)  # configured higher: kept


@pytest.mark.parametrize("tick_rate_hz", [20, 60, 128])
def test_a_client_sending_several_messages_a_tick_is_still_limited(tick_rate_hz: int) -> None:
    """Three extra messages per tick (4+ per tick) are refused within seconds."""
    tick = refused_at(bucket_for(tick_rate_hz), tick_rate_hz, 3, 60.0)
    assert 0 <= tick < 10 * tick_rate_hz


class ReferenceBucket:
    """The token bucket written plainly (refill by elapsed time, capped with ``min``): what
    the lean :meth:`TokenBucket.take` must equal."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.updated = rate, burst, burst, None

    def take(self, now: float, amount: float = 1.0) -> bool:
        if self.updated is None:
            self.updated = now
        elapsed = now - self.updated
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.updated = now
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(st.tuples(st.floats(0.0, 0.5), st.integers(0, 5000)), min_size=1, max_size=40),
    rate=st.floats(0.5, 100.0),
    burst=st.floats(1.0, 50.0),
    byte_rate=st.floats(100.0, 1e5),
    byte_burst=st.floats(100.0, 1e5),
)
def test_admit_spends_exactly_what_two_plain_buckets_would(
    steps: list[tuple[float, int]], rate: float, burst: float, byte_rate: float, byte_burst: float
) -> None:
    """``ClientSession.admit`` (two lean ``take`` calls, the message bucket first): the same
    verdict and the same tokens left after every message as two plain reference buckets."""
    session = ClientSession(1, TokenBucket(rate, burst), TokenBucket(byte_rate, byte_burst), 0.0)
    ref_m, ref_b = ReferenceBucket(rate, burst), ReferenceBucket(byte_rate, byte_burst)
    now = 0.0
    for dt, size in steps:
        now += dt
        expected = ref_m.take(now) and ref_b.take(now, size)
        try:
            session.admit(size, now)
            ok = True
        except RateLimited:
            ok = False
        assert ok == expected
        assert session.message_bucket.tokens == pytest.approx(ref_m.tokens, rel=1e-12)
        assert session.byte_bucket.tokens == pytest.approx(ref_b.tokens, rel=1e-12)
        if not ok:
            return  # the connection closes RATE_LIMITED
