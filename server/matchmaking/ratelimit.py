"""A token bucket per client address, for the HTTP matchmaking routes.

Each address gets ``burst`` tokens, refilled at ``rate_per_s``; a request costs one (or
``cost``). The table is bounded: past ``max_addresses`` it forgets the least recently
used address, so a flood of spoofed addresses costs memory ``O(max_addresses)`` and an
honest client at worst gets a fresh bucket. Time is passed in (seconds, any monotonic
origin). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import OrderedDict


class AddressLimiter:
    """``allow(address, now_s)`` is True while the address has tokens left."""

    def __init__(self, rate_per_s: float, burst: float, max_addresses: int = 10_000) -> None:
        if rate_per_s <= 0 or burst < 1 or max_addresses < 1:
            raise ValueError("rate_per_s > 0, burst >= 1 and max_addresses >= 1 are required")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_addresses = max_addresses
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        """address -> (tokens, updated_s), least recently used first."""

    def __len__(self) -> int:
        return len(self._buckets)

    def tokens(self, address: str, now_s: float) -> float:
        """Tokens the address has at ``now_s`` (``burst`` for an unknown one)."""
        tokens, updated = self._buckets.get(address, (self.burst, now_s))
        return min(self.burst, tokens + max(0.0, now_s - updated) * self.rate_per_s)

    def allow(self, address: str, now_s: float, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens of the address if it has them; False (nothing spent) if not."""
        tokens = self.tokens(address, now_s)
        ok = tokens >= cost
        if ok:
            tokens -= cost
        self._buckets[address] = (tokens, now_s)
        self._buckets.move_to_end(address)
        if len(self._buckets) > self.max_addresses:
            self._buckets.popitem(last=False)
        return ok
