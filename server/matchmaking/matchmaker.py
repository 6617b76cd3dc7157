"""The matchmaker: forms matches from waiting tickets, every ``interval_s``.

A pass (``run(now_s)``) takes the tickets of each game, oldest first as seeds, and grows a
group around each seed greedily: the next member is the free ticket closest to the seed on
the *sort key* (the numeric key most tickets' queries put a ``±`` window on) among those
that every member accepts and that accept every member; a group closes at the smallest
``max_players`` of its members, and is formed if it reached the largest ``min_players``.
Members leave the queue with a :class:`FormedMatch` whose labels are what the members'
properties agree on (equal strings/booleans, the mean of numbers).

The acceptance test runs on whole numpy columns (one per key over the tickets of a game):
the seed's query against every candidate, every candidate's query against the seed. A
clause that is not a single value or a range (``!=``, one-of) makes its ticket *complex*:
such pairs are checked again with the scalar :meth:`Ticket.accepts`, which is the
reference the tests hold the columns to. Candidates are cut to the seed's segment of the
*partition key* (the string key queries most often require, e.g. a region), then to its
window on the sort key, by binary searches over columns sorted by (partition, sort key);
the group then grows from the nearest ``MAX_CANDIDATES`` through one pairwise matrix of
them. A pass costs about ``O(n log n + seeds * window)``.

Tickets expire at ``expires_s``; ``cancel`` removes one. Each address may hold at most
``max_tickets_per_address`` tickets and the queue at most ``max_tickets``. Pure: no I/O,
no clock (``now_s`` is passed in).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from server.matchmaking.errors import QueueFull, TooManyTickets
from server.matchmaking.labels import Labels, Scalar, is_number
from server.matchmaking.tickets import Ticket

BoolArray = npt.NDArray[np.bool_]
NONE = -2
"""Code of "no equality required" in the requirement columns."""
MISSING = -1
"""Code of "no such property" in the string columns."""
MISSING_NUM = -1e300
"""Value of "no such number" in the numeric columns: below every window (labels are capped
at 1e15), so a range refuses it and the open bounds (-inf, inf) of no range accept it."""
FLOOR = -1e17
"""The lowest bound a numeric requirement has (it must refuse MISSING_NUM)."""
MAX_CANDIDATES = 24
"""A seed's group is grown from at most this many of its nearest mutual candidates (or
three times its ``max_players`` if more)."""


@dataclass(frozen=True, slots=True)
class FormedMatch:
    """A group of tickets that accept each other, with the labels of their match."""

    game: str
    tickets: tuple[Ticket, ...]
    labels: Labels


@dataclass(slots=True)
class PassResult:
    """What one pass did."""

    formed: list[FormedMatch] = field(default_factory=list)
    expired: list[Ticket] = field(default_factory=list)


def agreed_labels(tickets: tuple[Ticket, ...]) -> Labels:
    """Labels for a formed match: properties every member has and agrees on, numbers averaged."""
    first = tickets[0].properties
    labels: Labels = {}
    for key, value in first.items():
        values = [t.properties.get(key) for t in tickets]
        if is_number(value) and all(is_number(v) for v in values):
            mean = sum(float(v) for v in values if v is not None) / len(values)
            labels[key] = round(mean) if all(isinstance(v, int) for v in values) else mean
        elif all(type(v) is type(value) and v == value for v in values):
            labels[key] = value
    return labels


class _Columns:
    """The tickets of one game as ``(key, ticket)`` matrices for one pass at one time.

    Tickets are put in order of the sort key (``self.tickets[p]`` is position ``p``), so a
    seed's window on that key is a contiguous slice and every column of it a view.
    """

    def __init__(self, tickets: list[Ticket], now_s: float) -> None:
        n = len(tickets)
        names = sorted(
            {k for t in tickets for k in t.properties}
            | {c.key for t in tickets for c in t.query.clauses}
        )
        row = {k: i for i, k in enumerate(names)}
        shape = (len(names), n)
        num = np.full(shape, MISSING_NUM)
        sid = np.full(shape, MISSING, dtype=np.int64)
        lo = np.full(shape, -np.inf)
        hi = np.full(shape, np.inf)
        req = np.full(shape, NONE, dtype=np.int64)
        complex_ = np.zeros(n, dtype=np.bool_)
        self.codes: dict[tuple[str, Scalar], int] = {}
        relative: Counter[str] = Counter()
        for i, t in enumerate(tickets):
            for key, value in t.properties.items():
                if is_number(value):
                    num[row[key], i] = value
                else:
                    sid[row[key], i] = self.code(value)
            for c in t.query.clauses:
                r = row[c.key]
                low = math.nextafter(c.lo, math.inf) if c.lo_open else c.lo
                high = math.nextafter(c.hi, -math.inf) if c.hi_open else c.hi
                if c.around is not None:
                    relative[c.key] += 1
                    wlo, whi = t.window(c.around, float(t.properties[c.key]), now_s)
                    low, high = max(low, wlo), min(high, whi)
                if c.differs or len(c.equals) > 1 or not (c.equals or c.ranged):
                    complex_[i] = True
                elif c.equals and is_number(c.equals[0]):
                    low, high = max(low, float(c.equals[0])), min(high, float(c.equals[0]))
                elif c.equals:
                    req[r, i] = self.code(c.equals[0])
                if low > -math.inf or high < math.inf:
                    low = max(low, FLOOR)
                lo[r, i], hi[r, i] = low, high
        self.sort_row = row[relative.most_common(1)[0][0]] if relative else None
        required = np.count_nonzero(req != NONE, axis=1) if n else np.zeros(0)
        self.part_row = int(np.argmax(required)) if len(required) and required.max() else None
        sort_values = num[self.sort_row] if self.sort_row is not None else np.zeros(n)
        part_values = sid[self.part_row] if self.part_row is not None else np.zeros(n)
        order = np.lexsort((sort_values, part_values))
        self.tickets = [tickets[o] for o in order]
        self.num, self.sid, self.lo, self.hi, self.req = (
            a[:, order] for a in (num, sid, lo, hi, req)
        )
        self.ranged = (self.lo > -np.inf) | (self.hi < np.inf)
        self.complex = complex_[order]
        self.min_p = np.array([t.min_players for t in self.tickets], dtype=np.int64)
        self.max_p = np.array([t.max_players for t in self.tickets], dtype=np.int64)
        self.seeds = np.argsort(order, kind="stable")
        """Positions oldest first (the tickets came in oldest first)."""

    def code(self, value: Scalar) -> int:
        """An integer per distinct string/boolean (kept apart by kind)."""
        return self.codes.setdefault((type(value).__name__, value), len(self.codes))

    def window(self, p: int) -> slice:
        """Positions the ticket at ``p`` may accept: its segment of the partition key (the
        string key queries most often require), then its window on the sort key."""
        start, stop = 0, len(self.tickets)
        g = self.part_row
        if g is not None:
            need = self.req[g, p]
            if need == NONE:
                return slice(start, stop)  # the sort key is sorted only within segments
            start = int(np.searchsorted(self.sid[g], need, side="left"))
            stop = int(np.searchsorted(self.sid[g], need, side="right"))
        r = self.sort_row
        if r is None or not self.ranged[r, p]:
            return slice(start, stop)
        segment = self.num[r, start:stop]
        lo = start + int(np.searchsorted(segment, self.lo[r, p], side="left"))
        hi = start + int(np.searchsorted(segment, self.hi[r, p], side="right"))
        return slice(lo, hi)

    def mutual(self, p: int, s: slice) -> BoolArray:
        """Which positions of ``s`` accept ``p`` and are accepted by it (simple clauses)."""
        q = slice(p, p + 1)
        num, need, mine = self.num[:, s], self.req[:, q], self.num[:, q]
        ok = (num >= self.lo[:, q]) & (num <= self.hi[:, q])
        ok &= (self.sid[:, s] == need) | (need == NONE)
        ok &= (self.lo[:, s] <= mine) & (mine <= self.hi[:, s])
        theirs = self.req[:, s]
        ok &= (theirs == self.sid[:, q]) | (theirs == NONE)
        return np.asarray(ok.all(axis=0))

    def pairwise(self, idx: npt.NDArray[np.intp]) -> BoolArray:
        """``m[a, b]``: positions ``idx[a]`` and ``idx[b]`` accept each other (simple clauses)."""
        num, sid = self.num[:, None, idx], self.sid[:, None, idx]
        lo, hi, req = self.lo[:, idx, None], self.hi[:, idx, None], self.req[:, idx, None]
        accepts = ((num >= lo) & (num <= hi) & ((sid == req) | (req == NONE))).all(axis=0)
        return np.asarray(accepts & accepts.T)


class Matchmaker:
    """Holds tickets and forms matches on ``run``."""

    def __init__(
        self,
        ticket_ttl_s: float = 60.0,
        widen_per_s: float = 0.0,
        max_tickets: int = 50_000,
        max_tickets_per_address: int = 8,
    ) -> None:
        self.ticket_ttl_s = ticket_ttl_s
        self.widen_per_s = widen_per_s
        self.max_tickets = max_tickets
        self.max_tickets_per_address = max_tickets_per_address
        self.tickets: dict[str, Ticket] = {}
        self._per_address: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self.tickets)

    def add(self, ticket: Ticket) -> None:
        """Queue a ticket (raise :class:`TooManyTickets` / :class:`QueueFull`)."""
        if self._per_address[ticket.address] >= self.max_tickets_per_address:
            raise TooManyTickets(
                f"this address holds its maximum of {self.max_tickets_per_address} tickets"
            )
        if len(self.tickets) >= self.max_tickets:
            raise QueueFull(f"the matchmaker holds its maximum of {self.max_tickets} tickets")
        self.tickets[ticket.ticket_id] = ticket
        self._per_address[ticket.address] += 1

    def cancel(self, ticket_id: str) -> Ticket | None:
        """Remove a waiting ticket; the ticket, or None if it is not waiting."""
        ticket = self.tickets.pop(ticket_id, None)
        if ticket is not None:
            self._release(ticket)
        return ticket

    def _release(self, ticket: Ticket) -> None:
        self._per_address[ticket.address] -= 1
        if self._per_address[ticket.address] <= 0:
            del self._per_address[ticket.address]

    def run(self, now_s: float) -> PassResult:
        """One pass: expire, then form as many matches as the queue allows."""
        result = PassResult()
        for t in [t for t in self.tickets.values() if t.expires_s <= now_s]:
            del self.tickets[t.ticket_id]
            self._release(t)
            result.expired.append(t)
        games: dict[str, list[Ticket]] = {}
        for t in self.tickets.values():
            games.setdefault(t.game, []).append(t)
        for game, tickets in games.items():
            for group in self._form(tickets, now_s):
                for t in group:
                    del self.tickets[t.ticket_id]
                    self._release(t)
                result.formed.append(FormedMatch(game, group, agreed_labels(group)))
        return result

    def _form(self, tickets: list[Ticket], now_s: float) -> list[tuple[Ticket, ...]]:
        tickets.sort(key=lambda t: t.created_s)
        cols = _Columns(tickets, now_s)
        free = np.ones(len(tickets), dtype=np.bool_)
        groups: list[tuple[Ticket, ...]] = []
        for seed in cols.seeds.tolist():
            if not free[seed]:
                continue
            members = self._grow(cols, seed, free, now_s)
            if members is not None:
                free[members] = False
                groups.append(tuple(cols.tickets[m] for m in members))
        return groups

    def _grow(self, cols: _Columns, seed: int, free: BoolArray, now_s: float) -> list[int] | None:
        lo_p, hi_p = int(cols.min_p[seed]), int(cols.max_p[seed])
        s = cols.window(seed)
        cand = free[s] & (cols.max_p[s] >= lo_p)
        if int(np.count_nonzero(cand)) + 1 < lo_p:  # cheap before the full test
            return None
        cand &= cols.mutual(seed, s)
        cand &= cols.min_p[s] <= hi_p
        if s.start <= seed < s.stop:
            cand[seed - s.start] = False
        idx = s.start + np.flatnonzero(cand)
        if len(idx) + 1 < lo_p:
            return None
        r = cols.sort_row
        if r is not None:
            distance = np.abs(cols.num[r, idx] - cols.num[r, seed])
        else:
            distance = idx.astype(np.float64)
        keep = max(MAX_CANDIDATES, 3 * hi_p) if hi_p > 2 else 8
        if len(idx) > keep:
            nearest = np.argpartition(distance, keep)[:keep]
            idx, distance = idx[nearest], distance[nearest]
        idx = idx[np.argsort(distance, kind="stable")]
        if hi_p == 2:  # a pair: the nearest mutual candidate (no pairwise check needed)
            return self._pair(cols, seed, idx, lo_p, now_s)
        rows = [
            int.from_bytes(b, "little")
            for b in np.packbits(cols.pairwise(idx), axis=1, bitorder="little")
        ]
        mins, maxs = cols.min_p[idx].tolist(), cols.max_p[idx].tolist()
        members = [seed]
        allowed = (1 << len(idx)) - 1
        for k in range(len(idx)):
            if len(members) >= hi_p:
                break
            if not (allowed >> k) & 1 or maxs[k] <= len(members) or mins[k] > hi_p:
                continue
            j = int(idx[k])
            if (cols.complex[j] or cols.complex[members].any()) and not all(
                cols.tickets[j].accepts(cols.tickets[m], now_s)
                and cols.tickets[m].accepts(cols.tickets[j], now_s)
                for m in members
            ):
                continue
            members.append(j)
            lo_p, hi_p = max(lo_p, mins[k]), min(hi_p, maxs[k])
            allowed &= rows[k]
        return members if lo_p <= len(members) <= hi_p else None

    @staticmethod
    def _pair(
        cols: _Columns, seed: int, idx: npt.NDArray[np.intp], lo_p: int, now_s: float
    ) -> list[int] | None:
        if lo_p == 1 and not len(idx):
            return [seed]
        for j in idx.tolist():
            if int(cols.max_p[j]) >= 2 and (
                not (cols.complex[j] or cols.complex[seed])
                or (
                    cols.tickets[j].accepts(cols.tickets[seed], now_s)
                    and cols.tickets[seed].accepts(cols.tickets[j], now_s)
                )
            ):
                return [seed, j]
        return [seed] if lo_p == 1 else None
