"""How stale each bot's copy of the world is, measured against the server's truth.

With ``--staleness`` a swarm process adds one *truth spectator*: a spectator of the
bots' match (``HELLO {spectate, match_id}``). A spectator sees the whole match and its
frames are never under a byte budget (the budget applies to players' seats), so after
its frame for tick ``T`` its mirror holds every entity's quantized position at ``T``
exactly, as the server has it. That is the truth.

After each bot applies its frame for tick ``T``, its mirror is compared with the truth
at ``T`` (kept for the last :data:`RING` ticks; a bot frame that arrives before the
truth's waits for it):

- an entity whose held position equals the truth's is *fresh* at ``T``;
- an entity's staleness at ``T`` is ``T`` minus the last tick it was fresh (0 when it is
  fresh now): how old the bot's copy is against the truth, in ticks. An entity enters
  a bot's view with its exact position, so every held entity has been fresh once.

Counted per (bot, held entity, frame) in the measuring window, in two histograms (ticks):
entities within :data:`NEAR_UNITS` of the bot's own entity (truth distance) and all held
entities. A tick the truth misses (its frame skipped) is not compared, which can only make
later figures larger. Cost: a few whole-array numpy operations per bot frame.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from numpy.typing import NDArray

from client_sim.mirror import NetMirror

RING = 16
"""Ticks of truth kept (and the longest a bot frame waits for its truth)."""
NEAR_UNITS = 50.0
"""The issue's "near": within this distance (world units) of the bot's own entity."""
BINS = 256
"""Histogram bins (ticks); staleness beyond the last bin counts in it."""

U32 = NDArray[np.uint32]
I64 = NDArray[np.int64]


class StalenessMeter:
    """Truth by tick, each bot's last-fresh ticks, and the two histograms."""

    def __init__(self, near_units: float = NEAR_UNITS) -> None:
        self.near_units = near_units
        self.step = (1.0, 1.0)
        """World units per quantization step (x, y), from the truth's ``WELCOME``."""
        self.rates = (20, 20)
        """``(tick_rate_hz, snapshot_rate_hz)`` of the match."""
        self.match_id = ""
        """The first welcomed bot's match: the one the truth spectator watches."""
        self.first_welcome = asyncio.Event()
        self.truth: dict[int, tuple[U32, NDArray[np.bool_]]] = {}
        self._pending: dict[int, list[tuple[int, I64, U32, int, bool]]] = {}
        self._since: dict[int, I64] = {}
        self.near = np.zeros(BINS, np.int64)
        self.all = np.zeros(BINS, np.int64)
        self.compared = 0
        """Bot frames compared with the truth (in the window)."""
        self.unmatched = 0
        """Bot frames whose tick the truth never had."""

    def welcomed(self, welcome: dict[str, Any], truth: bool) -> None:
        """A bot (or the truth spectator) was welcomed: the match to watch, the steps."""
        if not truth:
            if not self.match_id:
                self.match_id = str(welcome.get("match_id", ""))
                self.first_welcome.set()
            return
        q = welcome.get("quantize") or {}
        self.step = (float(q.get("position.x", 1.0)), float(q.get("position.y", 1.0)))
        self.rates = (int(welcome["tick_rate_hz"]), int(welcome["snapshot_rate_hz"]))

    def truth_frame(self, tick: int, mirror: NetMirror) -> None:
        """The truth spectator applied its frame for ``tick``: keep it, settle waiting bots."""
        self.truth[tick] = (mirror.pos.copy(), mirror.known.copy())
        for old in [t for t in self.truth if t <= tick - RING]:
            del self.truth[old]
        for t in sorted(t for t in self._pending if t <= tick):
            for entry in self._pending.pop(t):
                if t == tick:
                    self._compare(t, *entry)
                else:
                    self.unmatched += entry[4]

    def bot_frame(self, bot: int, tick: int, mirror: NetMirror, own: int, counted: bool) -> None:
        """Bot ``bot`` applied its frame for ``tick``; ``counted``: inside the window."""
        ids = np.flatnonzero(mirror.known)
        entry = (bot, ids, mirror.pos[ids], own, counted)
        if tick in self.truth:
            self._compare(tick, *entry)
        elif not self.truth or tick > max(self.truth):
            self._pending.setdefault(tick, []).append(entry)
        else:
            self.unmatched += counted

    def _compare(self, tick: int, bot: int, ids: I64, vals: U32, own: int, counted: bool) -> None:
        tpos, tknown = self.truth[tick]
        ids = ids[ids < len(tpos)]
        vals = vals[: len(ids)]
        since = self._since.get(bot)
        top = int(ids.max(initial=0)) + 1
        if since is None or len(since) < top:
            grown = np.full(max(top, len(tpos)), -1, np.int64)
            if since is not None:
                grown[: len(since)] = since
            since = self._since[bot] = grown
        truth = tpos[ids]
        fresh = (vals == truth) & tknown[ids]
        since[ids[fresh]] = tick
        if not counted or own < 0 or own >= len(tpos) or not tknown[own]:
            return
        stale = tick - since[ids]
        stale[since[ids] < 0] = BINS - 1  # never fresh while held: as stale as it gets
        o = int(tpos[own])
        dx = ((truth & 0xFFFF).astype(np.float64) - (o & 0xFFFF)) * self.step[0]
        dy = ((truth >> 16).astype(np.float64) - (o >> 16)) * self.step[1]
        near = dx * dx + dy * dy <= self.near_units**2
        clipped = np.minimum(stale, BINS - 1)
        self.all += np.bincount(clipped, minlength=BINS)
        self.near += np.bincount(clipped[near], minlength=BINS)
        self.compared += 1

    def results(self) -> dict[str, Any]:
        """This process's histograms (summed over processes by :func:`summary`)."""
        return {
            "near": self.near.tolist(),
            "all": self.all.tolist(),
            "compared": self.compared,
            "rates": list(self.rates),
            "unmatched": self.unmatched + sum(e[4] for v in self._pending.values() for e in v),
        }


def summary(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Merged figures: near p50/p99/max in snapshots, all held p99/max in seconds."""
    tick_rate_hz, snapshot_rate_hz = parts[0]["rates"]
    ticks_per_snapshot = tick_rate_hz // max(1, snapshot_rate_hz)
    near = np.sum([np.asarray(p["near"]) for p in parts], axis=0)
    held = np.sum([np.asarray(p["all"]) for p in parts], axis=0)

    def q(h: NDArray[np.int64], frac: float) -> int:
        c = np.cumsum(h)
        return int(np.searchsorted(c, frac * c[-1])) if c[-1] else 0

    def top(h: NDArray[np.int64]) -> int:
        nz = np.flatnonzero(h)
        return int(nz[-1]) if len(nz) else 0

    snap = max(1, ticks_per_snapshot)
    return {
        "near_units": NEAR_UNITS,
        "near_samples": int(near.sum()),
        "near_snapshots": {
            "p50": q(near, 0.5) / snap,
            "p99": q(near, 0.99) / snap,
            "max": top(near) / snap,
            "mean": round(float((near * np.arange(BINS)).sum() / max(1, near.sum())) / snap, 3),
        },
        "held_samples": int(held.sum()),
        "held_s": {"p99": q(held, 0.99) / tick_rate_hz, "max": top(held) / tick_rate_hz},
        "frames_compared": sum(int(p["compared"]) for p in parts),
        "frames_unmatched": sum(int(p["unmatched"]) for p in parts),
    }
