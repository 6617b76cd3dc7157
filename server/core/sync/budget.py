"""Per-client byte budgets: which changed rows a frame carries when not all fit.

Off by default (``[sync] budget_bytes_per_s = 0``). When on, each seat's frame carries
every entered and left row, then its changed rows by priority until the frame's share
of the budget is spent; the rest are held back (the seat keeps what it has, so the
next delta is still correct) and grow more urgent every build:

    priority = importance x falloff x (1 + ticks since last sent)
    falloff  = 1 / (1 + (distance / falloff_units)**2); the seat's own entity first

A row unsent for ``max_stale_ticks``, and the seat's own entity, go out whatever the
budget (the staleness bound; the player's own state is never late). An accumulator per
seat carries what a frame under- or overspent into the next, clamped to one frame's
share, so a client's bytes per second stay within its budget plus one frame. This is
Unity Netcode for Entities' importance x staleness scheme over a TCP baseline (see
docs/architecture.md). Importance is 1 for every kind unless set per kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from server.core.sync.encode import bounds

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
OWN = 1e9
"""The weight of a pair at distance 0 (the seat's own entity): always sent."""
FRAME_OVERHEAD_BYTES = 48
"""About what a frame costs before its rows (envelope, keys, bin headers)."""


@dataclass(slots=True)
class Budget:
    """One build's budget inputs for the seats of an explicit build."""

    allow: F64
    """Bytes per seat (in ``seats`` order) for the whole frame."""
    prio: F64
    """Per visible pair: importance x falloff (staleness is added here)."""
    tick: int
    max_stale_ticks: int


@dataclass(slots=True)
class BudgetConfig:
    """A match's byte budget settings (``bytes_per_frame`` 0: off)."""

    bytes_per_frame: float = 0.0
    """Each seat's share per snapshot (``budget_bytes_per_s / snapshot_rate_hz``)."""
    falloff_units: float = 50.0
    max_stale_ticks: int = 20
    importance: F64 | None = None
    """Per kind (index = kind); None: 1 for every kind."""
    credit: F64 | None = None
    """Per seat: bytes carried over from earlier frames, within one frame's share."""

    def for_build(
        self, tick: int, seats: I64, kinds_of_pairs: NDArray[np.uint8], d2: F64 | None
    ) -> Budget:
        """This build's :class:`Budget` for ``seats`` and their visible pairs."""
        rows = int(seats.max(initial=-1)) + 1
        if self.credit is None or len(self.credit) < rows:
            grown = np.zeros(rows)
            if self.credit is not None:
                grown[: len(self.credit)] = self.credit
            self.credit = grown
        imp = (
            np.ones(len(kinds_of_pairs))
            if self.importance is None
            else self.importance[np.minimum(kinds_of_pairs, len(self.importance) - 1)]
        )
        prio = imp if d2 is None else imp * falloff(d2, self.falloff_units)
        allow = self.bytes_per_frame + self.credit[seats]
        return Budget(allow, prio, tick, self.max_stale_ticks)

    def spent(self, seats: I64, sizes: list[int]) -> None:
        """Carry each seat's under- or overspend (bytes) into its next frame."""
        assert self.credit is not None
        share = self.bytes_per_frame
        left = self.credit[seats] + share - np.asarray(sizes, dtype=np.float64)
        self.credit[seats] = np.minimum(np.maximum(left, -share), share)


def falloff(d2: F64, units: float) -> F64:
    """``1 / (1 + d^2 / units^2)``, and a large weight at distance 0 (the own entity)."""
    out: F64 = 1.0 / (1.0 + d2 / (units * units))
    out[d2 == 0] = OWN
    return out


def hold_back(
    budget: Budget,
    changed: NDArray[np.bool_],
    entered: NDArray[np.bool_],
    qi: I64,
    old_q: NDArray[np.uint32],
    new_q: NDArray[np.uint32],
    age: I64,
    width: int,
    n: int,
) -> I64:
    """Indexes (into the pairs) of changed rows that do not fit their seat's budget.

    ``age`` is ticks since each pair's position was last sent. Rows are taken per seat
    in descending priority; entered rows and the frame overhead are paid first.
    """
    ch = np.flatnonzero(changed)
    if len(ch) == 0:
        return ch
    o, nq = old_q[ch], new_q[ch]
    dx = (nq & 0xFFFF).astype(np.int32) - (o & 0xFFFF).astype(np.int32)
    dy = (nq >> 16).astype(np.int32) - (o >> 16).astype(np.int32)
    near = (np.abs(dx) <= 127) & (np.abs(dy) <= 127)
    cost = width + np.where(near, 2, 4)
    a = age[ch]
    seat = qi[ch]
    order = np.lexsort((-(budget.prio[ch] * (a + 1)), seat))
    seat_s = seat[order]
    cum = np.cumsum(cost[order])
    start = bounds(seat_s, n)
    before = np.r_[0, cum][start[seat_s]]
    entered_cost = np.bincount(qi[entered], minlength=n) * (width + 5)
    room = budget.allow - FRAME_OVERHEAD_BYTES - entered_cost
    fits = (cum - before) <= room[seat_s]
    fits |= a[order] >= budget.max_stale_ticks
    fits |= budget.prio[ch][order] >= OWN
    out: I64 = ch[order[~fits]]
    return out
