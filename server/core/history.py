"""Lag compensation's memory: a ring of the last ticks' positions, and rewinding into it.

One row per tick, one ``[ticks, entities]`` numpy block per field (net ids, ``x``, ``y``
in subunits, and the hitbox radius when the game declares one); no per-entity objects.
A row holds the recorded entities in ascending net-id order (the world keeps
``netids`` ascending by slot), padded with :data:`PAD`.

:meth:`History.rewind` answers "where was everything when the shooter saw tick ``t`` and
a fraction ``alpha`` toward ``t + 1``", exactly and in integers (docs/game-definitions.md,
``[lag_compensation]``)::

    aq = floor(alpha * 65536 + 0.5)                   # alpha in 1/65536
    x  = x_t + ((x_t1 - x_t) * aq + 32768) >> 16      # >> is floor division by 65536

for each entity recorded at ``t`` (one that is gone at ``t + 1`` keeps ``x_t``). A view
later than the newest row is clamped to it (alpha 0), one older than ``limit`` ticks
before the tick being simulated (or than the oldest row) is clamped to that row; each
clamped view is flagged. The world is never changed: a rewind is for the caller's own
hit test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from server.core.world import World
    from server.gamedef.schema import GameDefinition

PAD = np.uint32(0xFFFF_FFFF)
"""Net id of an empty place in a row (sorts after every real net id)."""
ALPHA_ONE = 1 << 16
"""``view_alpha`` is resolved to 1/65536."""


@dataclass(frozen=True, slots=True)
class Rewound:
    """Past positions for ``n`` views: per view, one row of the history's entities.

    ``netids``, ``x``, ``y`` (int64 subunits), ``radius`` (int64 subunits, None when the
    game declares no hitbox) and ``valid`` are ``[n, E]``; ``ticks``, ``alpha_q`` (the
    alpha used, in 1/65536) and ``clamped`` are ``[n]``.
    """

    ticks: NDArray[np.int64]
    alpha_q: NDArray[np.int64]
    clamped: NDArray[np.bool_]
    netids: NDArray[np.uint32]
    x: NDArray[np.int64]
    y: NDArray[np.int64]
    radius: NDArray[np.int64] | None
    valid: NDArray[np.bool_]


def quantize_alpha(alpha: ArrayLike) -> NDArray[np.int64]:
    """``floor(alpha * 65536 + 0.5)`` in 0..65536 (NaN counts as 0, out of range is clipped)."""
    a = np.nan_to_num(np.asarray(alpha, dtype=np.float64), nan=0.0, posinf=1.0, neginf=0.0)
    return np.floor(np.clip(a, 0.0, 1.0) * ALPHA_ONE + 0.5).astype(np.int64)


class History:
    """The last ``limit + 1`` ticks of recorded positions (a ring, grown as entities grow)."""

    def __init__(self, limit: int, capacity: int = 64, with_radius: bool = False) -> None:
        """``limit``: the furthest back, in ticks, a rewind may reach from the tick being
        simulated; ``capacity``: entities per row to start with (rows grow on demand)."""
        if limit < 1:
            raise ValueError(f"history limit must be at least 1 tick, got {limit}")
        self.limit = limit
        self.rows = limit + 1
        self.tick_of = np.full(self.rows, -1, dtype=np.int64)
        self.count = np.zeros(self.rows, dtype=np.int64)
        self.netid = np.full((self.rows, capacity), PAD, dtype=np.uint32)
        self.x = np.zeros((self.rows, capacity), dtype=np.int32)
        self.y = np.zeros((self.rows, capacity), dtype=np.int32)
        self.radius = np.zeros((self.rows, capacity), dtype=np.int32) if with_radius else None
        self.newest = -1
        """The last tick recorded (-1: none)."""
        self.first = -1
        """The first tick recorded (-1: none)."""

    @property
    def capacity(self) -> int:
        """Entities a row holds before the blocks grow."""
        return int(self.netid.shape[1])

    def _grow(self, n: int) -> None:
        extra = max(n, 2 * self.capacity) - self.capacity
        self.netid = np.pad(self.netid, ((0, 0), (0, extra)), constant_values=PAD)
        self.x = np.pad(self.x, ((0, 0), (0, extra)))
        self.y = np.pad(self.y, ((0, 0), (0, extra)))
        if self.radius is not None:
            self.radius = np.pad(self.radius, ((0, 0), (0, extra)))

    def record(
        self,
        tick: int,
        netids: NDArray[np.uint32],
        x: NDArray[np.integer],
        y: NDArray[np.integer],
        radius: NDArray[np.integer] | None = None,
    ) -> None:
        """Store the positions after ``tick`` (net ids ascending; ticks increase by one)."""
        n = len(netids)
        if n > self.capacity:
            self._grow(n)
        r = tick % self.rows
        self.netid[r, :n] = netids
        self.netid[r, n:] = PAD
        self.x[r, :n] = x
        self.y[r, :n] = y
        if self.radius is not None and radius is not None:
            self.radius[r, :n] = radius
        self.count[r] = n
        self.tick_of[r] = tick
        self.newest = tick
        if self.first < 0:
            self.first = tick

    def oldest(self, now: int) -> int:
        """The oldest tick a rewind during tick ``now`` may reach."""
        return max(now - self.limit, self.first, self.newest - self.rows + 1)

    def clamp(
        self, now: int, ticks: ArrayLike, alpha_q: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
        """Views bounded to what the ring holds for a rewind during tick ``now``.

        Later than :attr:`newest` (or at it with alpha > 0): the newest row, alpha 0.
        Older than :meth:`oldest`: that row, alpha 0. Returns ``(ticks, alpha_q, clamped)``.
        """
        t = np.asarray(ticks, dtype=np.int64).copy()
        aq = alpha_q.copy()
        newest = max(min(self.newest, now - 1), self.first)
        oldest = min(self.oldest(now), newest)
        future = (t > newest) | ((t == newest) & (aq > 0))
        past = t < oldest
        t[future] = newest
        t[past] = oldest
        aq[future | past] = 0
        return t, aq, future | past

    def rewind(self, now: int, ticks: ArrayLike, alpha: ArrayLike) -> Rewound:
        """Interpolated past positions for each view ``(ticks[i], alpha[i])`` during ``now``.

        See the module docstring for the arithmetic and the clamping. With nothing
        recorded yet every row is empty (``valid`` all False).
        """
        t_in = np.atleast_1d(np.asarray(ticks, dtype=np.int64))
        aq_in = np.broadcast_to(quantize_alpha(alpha), t_in.shape)
        n = len(t_in)
        if self.newest < 0:
            e64 = np.zeros((n, 0), dtype=np.int64)
            return Rewound(
                t_in.copy(),
                np.zeros(n, dtype=np.int64),
                np.ones(n, dtype=bool),
                np.zeros((n, 0), dtype=np.uint32),
                e64,
                e64,
                None if self.radius is None else e64,
                np.zeros((n, 0), dtype=bool),
            )
        t, aq, clamped = self.clamp(now, t_in, aq_in.astype(np.int64))
        r0 = t % self.rows
        r1 = (t + 1) % self.rows
        ids0 = self.netid[r0]
        valid = ids0 != PAD
        x0 = self.x[r0].astype(np.int64)
        y0 = self.y[r0].astype(np.int64)
        x, y = x0, y0
        moving = aq > 0
        if moving.any():
            row = (np.arange(n, dtype=np.int64) << 32)[:, None]
            flat1 = (row | self.netid[r1].astype(np.int64)).ravel()
            key0 = (row | ids0.astype(np.int64)).ravel()
            pos = np.minimum(np.searchsorted(flat1, key0), len(flat1) - 1)
            found = (flat1[pos] == key0).reshape(ids0.shape) & valid & moving[:, None]
            x1 = np.where(found, self.x[r1].astype(np.int64).ravel()[pos].reshape(ids0.shape), x0)
            y1 = np.where(found, self.y[r1].astype(np.int64).ravel()[pos].reshape(ids0.shape), y0)
            w = aq[:, None]
            x = x0 + (((x1 - x0) * w + ALPHA_ONE // 2) >> 16)
            y = y0 + (((y1 - y0) * w + ALPHA_ONE // 2) >> 16)
        radius = None if self.radius is None else self.radius[r0].astype(np.int64)
        return Rewound(t, aq, clamped, ids0, x, y, radius, valid)


def make_history(definition: GameDefinition) -> History | None:
    """The ring a definition's ``[lag_compensation]`` asks for (None without the section)."""
    lag = definition.latency.lag_compensation
    if lag is None:
        return None
    limit = lag.history_ticks(definition.tick_rate_hz)
    return History(limit, 64, lag.hitbox is not None)


def record_history(history: History, definition: GameDefinition, world: World, tick: int) -> None:
    """Record the world after ``tick``: the entities of the recorded archetypes."""
    lag = definition.latency.lag_compensation
    assert lag is not None
    sel = world.mask("position")
    if lag.archetypes:
        kinds = [a.kind_id for a in definition.archetypes if a.name in lag.archetypes]
        sel &= np.isin(world.col("kind"), np.asarray(kinds, dtype=np.int64))
    radius = None
    if lag.hitbox is not None:
        has = world.mask(lag.hitbox.split(".", 1)[0])
        radius = np.where(has, world.col(lag.hitbox), 0)[sel]
    history.record(
        tick,
        world.netids[sel].astype(np.uint32),
        world.col("position.x")[sel],
        world.col("position.y")[sel],
        radius,
    )
