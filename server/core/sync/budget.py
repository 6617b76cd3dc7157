"""Per-client byte budgets: which changed rows a frame carries when not all fit.

Off by default (``[sync] budget_bytes_per_s = 0``). When on, each seat's frame pays, in
this order, whatever its share of the budget:

1. the frame overhead, its events and other tail keys (recent events first), every
   entered and left row, the seat's own entity, and every changed row unsent for
   ``max_stale_ticks`` (the staleness bound: nothing in view is older than that);
2. then, while its share lasts, its near changed rows (within ``falloff_units``) unsent
   for two snapshots or more (so near things are at most one snapshot stale when the
   budget allows it), then its other changed rows by descending priority:

       priority = importance[kind] x falloff(distance) x (1 + ticks since last sent)
       falloff  = 1 / (1 + (distance / falloff_units)**4)

The rest are held back (the seat keeps what it has, so the next delta is still correct)
and grow more urgent every build (the staleness accumulator). The fourth power keeps
near things ahead of far ones however long the far ones have waited within the bound
(at ``3 x falloff_units`` an entity is 1/82 as urgent as at distance 0; with a square it
was 1/10 and far rows crowded out near ones). Importance is per kind, from the game
definition (``[sync.importance]``, 1 by default). An accumulator per seat carries what a
frame under- or overspent into the next, within one frame's share either way, so a
client's bytes per second stay within its budget plus one frame.

No sort: priorities are binned into :data:`LEVELS` levels (quarter octaves), the cost of
each (seat, level) is one ``bincount``, and each seat takes its levels from the top
while they fit; in the one level that fits only in part, rows go in pair order. This is
Unity Netcode for Entities' importance x staleness scheme over a TCP baseline (see
docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from server.gamedef.schema import GameDefinition

if TYPE_CHECKING:
    from server.core.sync.budget_pairs import Views

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
OWN = 1e9
"""The weight of a pair at distance 0 (the seat's own entity): always sent."""
FRAME_OVERHEAD_BYTES = 48
"""About what a frame costs before its rows (envelope, keys, bin headers)."""
LEVELS = 96
"""Priority levels: a quarter octave each, from 2**-16 up (lower ones share the last)."""
NEAR_MARGIN_UNITS = 0.5
"""Rows this much beyond ``falloff_units`` count as near too: clients measure "near" on
quantized positions, the server on exact ones (a 1/16-unit step moves a distance by
less than 0.1 unit), so an entity the client sees at 49.98 units is near here as well."""
_TOP = ((127 + 8) << 2) + 1
"""``level = _TOP - quarter octave``: scores from 2**8 up share level 2 (the best)."""


@dataclass(slots=True)
class Budget:
    """One build's budget inputs for the seats of an explicit build."""

    allow: F64
    """Bytes per seat (in ``seats`` order) for its changed rows: the frame's share plus
    carried credit, less what is paid first (overhead, tail keys)."""
    prio: F64
    """Per visible pair: importance x falloff (staleness is added here)."""
    tick: int
    max_stale_ticks: int
    fresh: NDArray[np.bool_] | None = None
    """Per seat: this frame is a full snapshot."""
    near: NDArray[np.bool_] | None = None
    """Per visible pair: within ``falloff_units`` (None: no distances)."""
    config: BudgetConfig | None = None
    """The match's settings (its stamp matrix: the staleness accumulators)."""


@dataclass(slots=True)
class BudgetConfig:
    """A match's byte budget settings (``bytes_per_frame`` 0: off)."""

    bytes_per_frame: float = 0.0
    """Each seat's share per snapshot (``budget_bytes_per_s / snapshot_rate_hz``)."""
    falloff_units: float = 50.0
    max_stale_ticks: int = 20
    """A changed row unsent for this many ticks goes whatever the budget."""
    importance: F64 | None = None
    """Per kind (index = kind id); None: 1 for every kind."""
    credit: F64 | None = None
    """Per seat: bytes carried over from earlier frames, within one frame's share."""
    stamp: NDArray[np.uint16] = field(default_factory=lambda: np.zeros((0, 0), np.uint16))
    """Per ``[seat, handle]`` (the explicit baselines' shape): the tick (mod 2**16) the
    seat's copy last equalled the entity's quantized position (the staleness
    accumulator of :mod:`server.core.sync.budget_pairs`)."""
    views: Views | None = None
    """What each seat saw at its last budgeted build (set by the first one)."""
    table: tuple[tuple[float, int, tuple[float, ...]], I64] | None = None
    """The level table and the settings it was built for (:meth:`level_table`)."""

    def set_importance(self, weights: Sequence[float]) -> None:
        """Importance per kind id (the definition's archetypes, in file order)."""
        w = np.asarray(weights, dtype=np.float64)
        self.importance = None if len(w) == 0 or bool(np.all(w == 1.0)) else w

    def for_build(
        self,
        tick: int,
        seats: I64,
        kinds_of_pairs: NDArray[np.uint8],
        d2: F64 | None,
        tail_bytes: I64 | None = None,
        fresh: NDArray[np.bool_] | None = None,
    ) -> Budget:
        """This build's :class:`Budget` for ``seats`` and their visible pairs.

        ``tail_bytes``: per seat, the bytes of its frame's tail keys (events, acks),
        paid before any changed row; ``fresh``: per seat, a full snapshot.
        """
        imp = self.importance
        if imp is None:
            prio = np.ones(len(kinds_of_pairs))
        else:
            prio = imp[np.minimum(kinds_of_pairs, len(imp) - 1)]
        near = None
        if d2 is not None:
            prio = prio * falloff(d2, self.falloff_units)
            near = d2 <= self.near_d2()
        allow = self.allow(seats, tail_bytes)
        return Budget(allow, prio, tick, self.max_stale_ticks, fresh, near, self)

    def allow(self, seats: I64, tail_bytes: I64 | None) -> F64:
        """Bytes per seat for its rows: its share plus carried credit, less what is paid
        first (the frame's overhead and ``tail_bytes``, its tail keys)."""
        rows = int(seats.max(initial=-1)) + 1
        if self.credit is None or len(self.credit) < rows:
            grown = np.zeros(rows)
            if self.credit is not None:
                grown[: len(self.credit)] = self.credit
            self.credit = grown
        allow: F64 = self.bytes_per_frame + self.credit[seats] - FRAME_OVERHEAD_BYTES
        if tail_bytes is not None:
            allow = allow - tail_bytes
        return allow

    def near_d2(self) -> float:
        """Squared distance (world units) within which a row is near."""
        return (self.falloff_units + NEAR_MARGIN_UNITS) ** 2

    def stamps(self, shape: tuple[int, ...]) -> NDArray[np.uint16]:
        """The ``[seat, handle]`` stamp matrix, grown (contents kept) to ``shape``."""
        st = self.stamp
        if st.shape != shape:
            grown = np.zeros(shape, dtype=np.uint16)
            r, c = min(shape[0], st.shape[0]), min(shape[1], st.shape[1])
            grown[:r, :c] = st[:r, :c]
            self.stamp = st = grown
        return st

    def level_table(self) -> tuple[I64, int]:
        """``(table, ages)``: the level of a changed row by ``(kind * BANDS + band) *
        ages + min(age, ages - 1)`` (see :func:`levels_of`); built once per settings."""
        imp = self.importance if self.importance is not None else np.ones(1)
        key = (self.falloff_units, self.max_stale_ticks, tuple(imp.tolist()))
        if self.table is not None and self.table[0] == key:
            return self.table[1], self.max_stale_ticks + 1
        ages = self.max_stale_ticks + 1
        d2 = np.arange(BANDS, dtype=np.float64) * (self.near_d2() / NEAR_BANDS)  # near edges
        r = d2 / (self.falloff_units * self.falloff_units)
        fall: F64 = 1.0 / (1.0 + r * r)  # as falloff(), without the own entity's weight
        shape = (len(imp), BANDS, ages)
        p = np.broadcast_to(imp[:, None, None] * fall[None, :, None], shape).reshape(-1)
        a = np.broadcast_to(np.arange(ages)[None, None, :], shape).reshape(-1)
        near = np.broadcast_to((np.arange(BANDS) < NEAR_BANDS)[None, :, None], shape)
        table = _levels(p, a, near.reshape(-1), a >= self.max_stale_ticks)
        self.table = (key, table)
        return table, ages

    def forget(self, seats: I64) -> None:
        """``seats`` start afresh (they left or rejoined): no credit, no debt."""
        if self.credit is not None:
            self.credit[seats[seats < len(self.credit)]] = 0.0

    def spent(self, seats: I64, sizes: Sequence[int]) -> None:
        """Carry each seat's under- or overspend (bytes) into its next frame."""
        assert self.credit is not None
        share = self.bytes_per_frame
        left = self.credit[seats] + share - np.asarray(sizes, dtype=np.float64)
        self.credit[seats] = np.minimum(np.maximum(left, -share), share)


def budget_config(definition: GameDefinition) -> BudgetConfig:
    """A match's :class:`BudgetConfig` from its ``[sync]`` (off when no budget is set)."""
    sync = definition.sync
    cfg = BudgetConfig()
    if sync.budget_bytes_per_s <= 0:
        return cfg
    cfg.bytes_per_frame = sync.budget_bytes_per_s / sync.snapshot_rate_hz
    cfg.falloff_units = sync.budget_falloff_units
    cfg.max_stale_ticks = max(1, int(sync.budget_max_stale_ms * definition.tick_rate_hz // 1000))
    weights = dict(sync.importance)
    cfg.set_importance([weights.get(a.name, 1.0) for a in definition.archetypes])
    return cfg


def falloff(d2: F64, units: float) -> F64:
    """``1 / (1 + d^4 / units^4)``, and :data:`OWN` at distance 0 (the own entity)."""
    r = d2 / (units * units)
    out: F64 = 1.0 / (1.0 + r * r)
    out[d2 == 0] = OWN
    return out


def hold_rows(
    budget: Budget,
    sent_q: NDArray[np.uint32],
    changed: NDArray[np.bool_],
    entered: NDArray[np.bool_],
    flat: I64,
    qi: I64,
    old_q: NDArray[np.uint32],
    new_q: NDArray[np.uint32],
    netids: NDArray[np.uint32],
    n: int,
) -> None:
    """The general explicit path's budget: hold back the changed rows beyond each seat's
    share (``changed`` loses them, ``sent_q`` gets back what the client keeps) and
    restart the accumulators of what is fresh (sent now, or equal to what is held).

    ``flat`` indexes ``sent_q`` per visible pair; ``qi``: seat index (0..n-1) per pair,
    grouped ascending.
    """
    assert budget.config is not None
    stamp = budget.config.stamps(sent_q.shape).reshape(-1)
    now = np.uint16(budget.tick & 0xFFFF)
    age = (now - stamp[flat]).astype(np.int64)  # uint16 arithmetic wraps
    width = 2 if int(netids.max(initial=0)) < 65536 else 4
    hold = hold_back(budget, changed, entered, qi, old_q, new_q, age, width, n)
    sent_q.reshape(-1)[flat[hold]] = old_q[hold]  # the client keeps what it has
    changed[hold] = False
    stamp[flat[changed | entered | (old_q == new_q)]] = now
    if budget.fresh is not None and budget.fresh.any():
        # A full snapshot's rows would all come due on the same build a bound later
        # (a burst every max_stale_ticks): spread their first deadlines over half of it.
        e = np.flatnonzero(entered & budget.fresh[qi])
        spread = max(1, budget.max_stale_ticks // 2)
        stamp[flat[e]] = now - (flat[e] % spread).astype(np.uint16)


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

    ``qi`` (seat index per pair, grouped ascending); ``age``: ticks since each pair's
    copy last equalled the entity's position (its staleness). Entered rows and forced
    rows (own entity, stale) are paid first; the rest by descending priority level per
    seat.
    """
    ch = np.flatnonzero(changed)
    if len(ch) == 0:
        return ch
    cost, _, _, _ = row_costs(old_q[ch], new_q[ch], width)
    a = age[ch]
    p = budget.prio[ch]
    near = budget.near[ch] if budget.near is not None else None
    level = _levels(p, a, near, (a >= budget.max_stale_ticks) | (p >= OWN))
    room = budget.allow - np.bincount(qi[entered], minlength=n) * (width + 5)
    out: I64 = ch[~fit_levels(qi[ch], level, cost, room, n)]
    return out


def row_costs(
    old_q: NDArray[np.uint32], new_q: NDArray[np.uint32], width: int
) -> tuple[I64, NDArray[np.bool_], NDArray[np.int32], NDArray[np.int32]]:
    """Per changed row: its bytes, whether it goes as an int8 step, and the steps."""
    d = new_q.view(np.uint16).reshape(-1, 2).astype(np.int32)  # little-endian: qx, qy
    d -= old_q.view(np.uint16).reshape(-1, 2)
    dx, dy = d[:, 0], d[:, 1]
    ok = np.maximum(np.abs(dx), np.abs(dy)) <= 127
    cost: I64 = np.where(ok, width + 2, width + 4)
    return cost, ok, dx, dy


NEAR_BANDS = 32
"""Distance bands of the level table inside ``near_d2`` (bands are even in ``d^2``)."""
BANDS = NEAR_BANDS * 64
"""Bands of the level table: to 8 x the near distance (farther rows share the last)."""


def levels_of(cfg: BudgetConfig, kinds: NDArray[np.uint8], d2: F64, age: I64) -> I64:
    """Each changed row's priority level (0: forced; 1: near and a snapshot late).

    One lookup per row in :meth:`BudgetConfig.level_table` by (kind, distance band,
    age): the falloff of a band is taken at its near edge, within a sixteenth of an
    octave of the row's own up to 8 x ``near_d2``. The own entity (distance 0) is forced.
    """
    table, ages = cfg.level_table()
    scale = NEAR_BANDS / cfg.near_d2()
    band = np.minimum((d2 * scale).astype(np.int64), BANDS - 1)
    idx = np.minimum(age, ages - 1)
    idx += band * ages
    if cfg.importance is not None:
        idx += np.minimum(kinds, len(cfg.importance) - 1).astype(np.int64) * (BANDS * ages)
    level: I64 = table[idx]
    level[d2 == 0] = 0
    return level


def _levels(p: F64, age: I64, near: NDArray[np.bool_] | None, forced: NDArray[np.bool_]) -> I64:
    """Level 0: forced; 1: near rows a snapshot late; 2..LEVELS+1 by descending priority."""
    # A float32's bits over 2**21 are its exponent and two mantissa bits: a quarter octave.
    score = (p * (age + 1)).astype(np.float32)
    quarter = score.view(np.int32) >> 21
    level: I64 = np.clip(_TOP - quarter, 2, LEVELS + 1).astype(np.int64)
    if near is not None:
        level[near & (age >= 2)] = 1
    level[forced] = 0
    return level


def fit_levels(seat: I64, level: I64, cost: I64, room: F64, n: int) -> NDArray[np.bool_]:
    """Which rows fit: each seat (``seat``: 0..n-1, grouped ascending) takes its levels
    from the top while they fit in ``room``, level 0 whatever the room; in the one level
    that fits only in part, rows go in order."""
    span = LEVELS + 2
    sums = np.bincount(seat * span + level, weights=cost, minlength=n * span).reshape(n, span)
    cum = np.cumsum(sums, axis=1)
    whole = (cum <= room[:, None]).sum(axis=1)  # levels of each seat that fit entirely
    whole = np.maximum(whole, 1)  # forced rows go whatever the room
    thr = whole[seat]
    fits: NDArray[np.bool_] = level < thr
    edge = np.flatnonzero(level == thr)  # the one partly fitting level, in pair order
    if len(edge):
        es = seat[edge]
        run = np.cumsum(cost[edge])
        starts = np.searchsorted(es, es, side="left")  # grouped by seat: run starts
        before = np.r_[0, run][starts]
        got_before = cum[es, whole[es] - 1]
        fits[edge] = got_before + (run - before) <= room[es]
    return fits
