"""Area-of-interest state sync: per-client deltas for all clients at once, by cell.

Every snapshot build bins the entities into small cells once
(:class:`~server.core.sync.cells.CellBins`) and decides, for each client, what entered,
changed and left its view since what it holds. Two kinds of baseline:

- **implicit** (:mod:`server.core.sync.steady`): a seat that took the last build holds
  exactly what that build showed it. Its changed rows in the cells wholly inside its
  circle are shared runs encoded once per build; only the rim of its circle, new or
  teleported entities and deaths are checked pair by pair. Seats whose circle covers
  the whole match now and at the last build all get the same delta: encoded once, the
  same bytes object for every such seat without per-seat keys.
- **explicit** (:mod:`server.core.sync.explicit`): a ``[seat, handle]`` matrix of what
  was sent, for everything else (a slow reader that skipped frames, a full snapshot,
  overload relief, builds with replicated fields, callers that give no positions).
  A seat moves from implicit to explicit by writing down what it implicitly holds.

Frames are slices of shared buffers joined with pre-encoded msgpack pieces
(:mod:`server.core.sync.encode`); the wire format is docs/protocol.md STATE.

Baseline ("what the client has"): over a websocket (TCP, ordered, reliable) a frame
handed to the transport is received in order or the connection dies, so the baseline
of the next delta is the last frame *committed* to the transport. A client whose
previous frame is still unsent (a slow reader) is simply not given a new one: its
baseline stays (explicit from then on), and the next frame it gets is computed fresh
against it (latest-frame-wins with no stale frame ever built). A reconnecting client
gets a full snapshot. Clients still send ``ack`` (it measures state age), but we do
not resend unacknowledged changes the way a UDP protocol must.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.core.spatial import SpatialIndex
from server.core.sync.budget import BudgetConfig
from server.core.sync.budget_pairs import budgeted_rows
from server.core.sync.cells import CellBins, cell_side
from server.core.sync.encode import PROTOCOL_VERSION, STATE_MESSAGE_TYPE, Part, encode, share
from server.core.sync.explicit import UNKNOWN, ExplicitBaselines
from server.core.sync.msgbytes import FieldRows, frame_tails
from server.core.sync.steady import LastBuild, bounding_box, d2, last_build, steady_rows

__all__ = ["PROTOCOL_VERSION", "STATE_MESSAGE_TYPE", "UNKNOWN", "InterestSync", "StateFrameStats"]
I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


@dataclass(slots=True)
class StateFrameStats:
    """Counts from one build, for metrics and benchmarks."""

    pairs: int = 0
    entered: int = 0
    changed: int = 0
    left: int = 0
    frames: int = 0
    payload_bytes: int = 0
    field_rows: int = 0
    """Replicated-field values sent (one per field per entity per viewer)."""
    field_bytes: int = 0
    """Bytes of those rows' ids and values (``r`` headers excluded): per changed field
    ``w`` + its wire size; ``field_bytes / field_rows`` is the cost of one."""
    steady: int = 0
    """Seats built from their implicit baseline (shared cell runs)."""
    shared: int = 0
    """Of those, seats whose whole-match view reused the one encoded delta."""


class InterestSync:
    """Builds state frames for many viewers against what each was last sent."""

    def __init__(
        self, radius_units: float, fields: Sequence[tuple[np.dtype[Any], bool]] = ()
    ) -> None:
        self.radius_units = radius_units
        self.explicit = ExplicitBaselines([d for d, _ in fields], [o for _, o in fields])
        self.cell_units: float | None = None
        """Side of the interest cells (world units); None: chosen per build by
        :func:`~server.core.sync.cells.cell_side` from the entities' density."""
        self._implicit = np.zeros(0, dtype=bool)
        """Per seat: holds exactly what :attr:`_last` showed it (no explicit row)."""
        self._last: LastBuild | None = None
        self.last_stats = StateFrameStats()
        self.small_pairs = 20_000
        """Below about this many visible pairs per build the explicit path is as fast
        (measured in ``python -m benchmarks aoi``): builds take it unless the radius
        covers the whole world from anywhere in it. Decided on the last build's pairs
        per seat, with hysteresis (cells from ``small_pairs``, pairs below half)."""
        self._cells_mode = False
        self.budget = BudgetConfig()
        """Per-client byte budget with priority (:mod:`server.core.sync.budget`); off
        while ``budget.bytes_per_frame`` is 0. On, every seat takes the explicit path."""
        self.far_every = 1
        """Overload relief: when > 1, entities in the outer half of the radius get a
        changed-update only on every ``far_every``-th build (entered and left are never
        delayed). Their baseline stays what the client has, so the next update is a
        correct delta. Needs ``entity_xy`` in :meth:`build`, and applies only to builds
        in the pair path's range (below :attr:`small_pairs`): on the cell path the
        explicit baselines it needs cost more than the rows it saves."""

    def forget(self, seats: I64 | list[int]) -> None:
        """Drop what ``seats`` were sent (they left, or will get a full snapshot)."""
        seats = np.asarray(seats, dtype=np.int64)
        self._implicit[seats[seats < len(self._implicit)]] = False
        self._forget_explicit(seats)

    def _forget_explicit(self, seats: I64) -> None:
        """Drop ``seats``' explicit baselines; the budget's view lists lose their slots."""
        freed = self.explicit.forget(seats)
        if len(freed) and self.budget.views is not None:
            self.budget.views.drop(freed)

    def known(self, seats: I64, netids: I64) -> NDArray[np.bool_]:
        """``[len(netids), len(seats)]``: did each seat's last frame leave it holding each id?

        Uses the handle -> net id map of the last build, so an entity that died since
        is still found (its seats have not yet been told it left).
        """
        ex = self.explicit
        out = np.zeros((len(netids), len(seats)), dtype=bool)
        hn = ex.handle_netid.astype(np.int64)
        if len(hn) == 0 or len(netids) == 0:
            return out
        order = np.argsort(hn, kind="stable")
        sorted_ids = hn[order]
        pos = np.clip(np.searchsorted(sorted_ids, netids), 0, len(hn) - 1)
        found = (sorted_ids[pos] == netids) & (netids != 0)
        rows_ok = seats < ex.rows
        if not found.any() or not rows_ok.any():
            return out
        handles = order[pos[found]]
        slot = ex.slot_of[seats[rows_ok]]
        has = slot >= 0
        sub = np.zeros((len(slot), len(handles)), dtype=bool)  # [seat, event]
        if has.any():
            sub[has] = ex.sent_q[np.ix_(slot[has], handles)] != UNKNOWN
        last = self._last
        imp = np.zeros(len(seats), dtype=bool)
        imp[rows_ok] = self._implicit[seats[rows_ok]]
        if last is not None and imp[rows_ok].any():
            r2 = self.radius_units**2
            hh = np.minimum(handles, len(last.x) - 1)
            sr = seats[rows_ok]
            dist = d2(
                last.x[hh][None, :], last.y[hh][None, :], last.vx[sr][:, None], last.vy[sr][:, None]
            )
            geo = (dist <= r2) & (handles < len(last.x))[None, :]
            sub = np.where(imp[rows_ok][:, None], geo, sub)
        block = np.zeros((int(found.sum()), len(seats)), dtype=bool)
        block[:, rows_ok] = sub.T
        out[found] = block
        return out

    def known_count(self, seat: int) -> int:
        """How many entities ``seat`` currently has in its mirror (for tests and stats)."""
        if seat < len(self._implicit) and self._implicit[seat] and self._last is not None:
            return len(self._held(np.array([seat], dtype=np.int64))[1])
        return int((self.explicit.sent_row(seat) != UNKNOWN).sum())

    def _held(self, seats: I64) -> tuple[I64, I64]:
        """``(seat, handle)`` pairs the implicit ``seats`` hold after the last build.

        Candidates come from cells over the last build's positions (a radius query per
        seat, not every seat against every entity); the test that decides is the same
        ``d2 <= radius**2`` as the build's."""
        last = self._last
        assert last is not None
        alive = np.flatnonzero(last.netid != 0)
        if len(alive) == 0 or len(seats) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        ax, ay = last.x[alive], last.y[alive]
        r = self.radius_units
        bins = CellBins(ax, ay, self.cell_units or cell_side(r, len(alive), last.box))
        vx, vy = last.vx[seats], last.vy[seats]
        qi, idx = bins.query(vx, vy, r * (1 + 1e-9) + bins.eps, ax, ay)
        keep = d2(ax[idx], ay[idx], vx[qi], vy[qi]) <= r**2
        return seats[qi[keep]], alive[idx[keep]]

    def _go_explicit(self, seats: I64) -> None:
        """Write down what implicit ``seats`` hold, so the explicit path can take them."""
        seats = seats[self._implicit[seats]]
        if len(seats) == 0 or self._last is None:
            return
        s, h = self._held(seats)
        self.explicit.adopt(seats, s, h, self._last.q[h])
        self._implicit[seats] = False

    def build(
        self,
        tick: int,
        index: SpatialIndex,
        netids: NDArray[np.uint32],
        kinds: NDArray[np.uint8],
        packed_q: NDArray[np.uint32],
        handles: I64,
        seats: I64,
        viewer_x: F64,
        viewer_y: F64,
        full: NDArray[np.bool_],
        entity_xy: tuple[F64, F64] | None = None,
        field_values: Sequence[tuple[NDArray[Any], NDArray[np.bool_]]] | None = None,
        owner_seat: I64 | None = None,
        tails: Sequence[tuple[int, bytes]] | None = None,
    ) -> list[bytes]:
        """One encoded ``state`` message per seat in ``seats`` (ascending, unique).

        ``netids``, ``kinds``, ``packed_q`` and ``handles`` are per slot (the index's
        ids are slots); ``viewer_x``/``viewer_y`` are each seat's point of view in
        world units; ``full`` marks seats that get a full snapshot (their mirror is
        reset). The caller commits to sending every returned frame: the baseline
        advances for all ``seats``.

        ``entity_xy`` (per slot, world units): the positions visibility is decided on.
        Given, the build bins them into cells and takes the implicit path for steady
        seats; None, it asks ``index`` (and every seat stays explicit).

        Replicated fields: ``field_values`` holds, per field, the wire values by slot
        and which slots have the field; a row goes to a seat for every entity that
        entered its view and afterwards when the value differs from what that seat was
        sent (``STATE.r``). ``owner_seat`` (per slot, -1: nobody) says whose own entity
        each slot is, for ``to = "owner"`` fields (None: owner fields go to nobody, as
        for spectators). ``tails``: per seat in ``seats``, ``(key count, encoded
        key/value pairs)`` appended after the frame's own keys (events, acks); ``(0,
        b"")`` for none.
        """
        n = len(seats)
        small = self._small(n)
        stats = StateFrameStats(frames=n)
        self.last_stats = stats
        ex = self.explicit
        ex.ensure(int(seats[-1]) + 1 if n else 0, int(handles.max(initial=-1)) + 1)
        if len(self._implicit) < ex.rows:
            self._implicit = np.concatenate(
                [self._implicit, np.zeros(ex.rows - len(self._implicit), dtype=bool)]
            )
        radius = self.radius_units
        # Relief holds changes back, so baselines differ from the last build: explicit
        # for as long as relief is on (one switch, not one every other build). Only in
        # the pair path's range: on the cell path the explicit path it needs costs more
        # CPU than the rows it holds back (1.5x the build at (5000, 200), docs/benchmarks.md),
        # so a relieved build there keeps every seat's full rate.
        relief = self.far_every > 1 and entity_xy is not None and small
        far_skip = relief and tick % self.far_every != 0
        budget_on = self.budget.bytes_per_frame > 0
        eligible = entity_xy is not None and not field_values and not relief
        eligible = eligible and not budget_on
        if eligible and small and entity_xy is not None:
            # Few visible pairs: the pair path's few numpy calls per build beat the cell
            # path's fixed cost, unless every view is the whole match (encoded once).
            eligible = self._whole_world(radius, bounding_box(*entity_xy))
        steady = np.zeros(n, dtype=bool)
        if eligible and self._last is not None:
            steady = self._implicit[seats] & ~full
        stay = np.zeros(ex.rows, dtype=bool)
        stay[seats[steady]] = True
        self._go_explicit(np.flatnonzero(self._implicit & ~stay))
        if full.any():
            self.forget(seats[full])
            self.budget.forget(seats[full])
        cur_netid = np.zeros(ex.cols, dtype=np.uint32)
        cur_netid[handles] = netids
        ex.note_deaths(cur_netid)
        out_steady = None
        box = bounding_box(*entity_xy) if entity_xy is not None else None
        cell = self.cell_units or cell_side(radius, len(netids), box)
        made: list[CellBins] = []

        def bins_of() -> CellBins:
            assert entity_xy is not None
            if not made:
                made.append(CellBins(*entity_xy, cell))
            return made[0]

        if entity_xy is not None and steady.any():
            assert self._last is not None
            xs, ys = entity_xy
            sv = seats[steady]
            out_steady = steady_rows(
                self._last, bins_of, cell, radius, netids, kinds, packed_q, handles, xs, ys,
                viewer_x[steady], viewer_y[steady], self._last.vx[sv], self._last.vy[sv], box,
            )  # fmt: skip
            if out_steady is None:
                self._go_explicit(sv)
                steady[:] = False
        # Everything else: the explicit path over this build's visible pairs.
        lp = np.flatnonzero(~steady)
        lseats = seats[lp]
        parts_ex: Part | None = None
        r_cols: list[FieldRows] | None = None
        lean = budget_on and entity_xy is not None and not field_values  # relief: moot
        if len(lp) and lean and entity_xy is not None:  # the byte budget's own build
            tb = None if tails is None else np.array([len(tails[i][1]) for i in lp.tolist()])
            parts_ex, stats.pairs = budgeted_rows(
                ex, self.budget, tick, lseats, viewer_x[lp], viewer_y[lp], bins_of(), radius,
                entity_xy, netids, kinds, packed_q, handles, tb, full[lp],
            )  # fmt: skip
        elif len(lp):
            if self.budget.views is not None:
                self.budget.views.release(ex)  # the general path keeps its own lists
            lx, ly = viewer_x[lp], viewer_y[lp]
            if eligible and entity_xy is not None:
                # These seats become implicit: decide on the same positions as the cells.
                qi, slots = bins_of().query(lx, ly, radius, *entity_xy)
            else:
                qi, slots = index.query_radius(lx, ly, radius, ordered=False)
            skip = None
            dist = None
            if entity_xy is not None and (far_skip or budget_on):
                dist = d2(entity_xy[0][slots], entity_xy[1][slots], lx[qi], ly[qi])
                skip = dist > (radius * 0.5) ** 2 if far_skip else None
            budget = None
            if budget_on:
                tb = None if tails is None else np.array([len(tails[i][1]) for i in lp.tolist()])
                budget = self.budget.for_build(tick, lseats, kinds[slots], dist, tb, full[lp])
            parts_ex, r_cols, stats.pairs = ex.delta(
                lseats, qi, slots, netids, kinds, packed_q, handles, skip,
                field_values, owner_seat, budget,
            )  # fmt: skip
        all_parts = [p for p in (parts_ex,) if p is not None]
        if out_steady is not None:
            all_parts += [*out_steady.parts, out_steady.shared]
        max_id = max((int(p.l_ids.max(initial=0)) for p in all_parts), default=0)
        width = 2 if int(netids.max(initial=0)) < 65536 and max_id < 65536 else 4
        frames: list[bytes] = [b""] * n
        tails_l = list(tails) if tails is not None else None
        if parts_ex is not None:
            self._count(stats, parts_ex)
            sub_tails = [tails_l[i] for i in lp.tolist()] if tails_l is not None else None
            nk, tail = frame_tails(r_cols, sub_tails, len(lp), width)
            if r_cols is not None:
                stats.field_rows = sum(len(ids) for ids, _, _ in r_cols)
                stats.field_bytes = sum(len(ids) * width + v.nbytes for ids, v, _ in r_cols)
            got = encode(tick, width, [parts_ex], full[lp].tolist(), nk, tail)
            if budget_on:
                self.budget.spent(lseats, [len(f) for f in got])
            for i, f in zip(lp.tolist(), got, strict=True):
                frames[i] = f
        if out_steady is not None:
            self._place_steady(frames, out_steady, np.flatnonzero(steady), tails_l, tick, width)
            stats.steady = int(steady.sum())
            stats.shared = int(out_steady.whole.sum())
            stats.pairs += out_steady.pairs
            e, c, left = out_steady.counts
            stats.entered += e
            stats.changed += c
            stats.left += left
        if eligible and entity_xy is not None:
            self._forget_explicit(lseats)
            self._implicit[seats] = True
            self._last = last_build(
                handles, netids, packed_q, *entity_xy, ex.rows, seats, viewer_x, viewer_y,
                self._last,
            )  # fmt: skip
        stats.payload_bytes = sum(map(len, frames))
        return frames

    def _small(self, n: int) -> bool:
        """Is this build (``n`` seats) in the pair path's range? Updates the mode."""
        st = self.last_stats
        est = st.pairs / max(1, st.frames) * n
        if self._cells_mode and est < self.small_pairs / 2:
            self._cells_mode = False
        elif not self._cells_mode and est >= self.small_pairs:
            self._cells_mode = True
        return not self._cells_mode

    def _whole_world(self, radius: float, box: tuple[float, float, float, float] | None) -> bool:
        """Does the radius reach across the entities' box now and at the last build?"""
        for b in (box, self._last.box if self._last is not None else None):
            if b is not None and (b[2] - b[0]) ** 2 + (b[3] - b[1]) ** 2 > radius * radius:
                return False
        return True

    @staticmethod
    def _count(stats: StateFrameStats, p: Part) -> None:
        stats.entered += len(p.e_ids)
        stats.changed += len(p.c_ids) + len(p.m_ids)
        stats.left += len(p.l_ids)

    @staticmethod
    def _place_steady(
        frames: list[bytes],
        out: Any,
        pos: I64,
        tails: list[tuple[int, bytes]] | None,
        tick: int,
        width: int,
    ) -> None:
        """Encode the steady seats' frames into ``frames`` at ``pos`` (seats order)."""
        whole = out.whole
        for sel, parts in ((np.flatnonzero(~whole), out.parts), (np.flatnonzero(whole), None)):
            if len(sel) == 0:
                continue
            at = pos[sel].tolist()
            sub = [tails[i] for i in at] if tails is not None else None
            nk, tail = frame_tails(None, sub, len(at), width)
            if parts is None:
                body = encode(tick, width, [out.shared], [False], [0], [b""])[0]
                got = share(body, tick, width, nk, tail)
            else:
                got = encode(tick, width, parts, [False] * len(at), nk, tail)
            for i, f in zip(at, got, strict=True):
                frames[i] = f
