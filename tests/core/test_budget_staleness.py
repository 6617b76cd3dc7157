"""Byte budgets against the truth: bytes, staleness (client_sim.staleness) and importance.

In process: a budgeted :class:`InterestSync` builds the seats' frames, an unbudgeted one
builds a whole-world spectator's (the truth, as in ``benchmarks matrix``'s budget case),
and the bots' meter compares every seat's mirror with the truth after every frame.
Everything asserted is a count of ticks, rows or bytes.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

from client_sim.mirror import NetMirror
from client_sim.staleness import StalenessMeter, summary
from server.core.spatial import make_index
from server.core.sync.state import InterestSync

W = 400.0
STEP = 1 / 16
WELCOME = {"quantize": {"position.x": STEP, "position.y": STEP}, "tick_rate_hz": 20,
           "snapshot_rate_hz": 20}  # fmt: skip


def _q(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.rint(xs / STEP).astype(np.uint32) | (
        np.rint(ys / STEP).astype(np.uint32) << np.uint32(16)
    )
    return out


def _meter() -> StalenessMeter:
    meter = StalenessMeter()
    meter.welcomed({"match_id": "m"}, truth=False)
    meter.welcomed(WELCOME, truth=True)
    return meter


def test_meter_counts_ticks_since_each_copy_last_equalled_the_truth() -> None:
    """Entity 2 moves every tick and reaches the bot every third: staleness 0, 1, 2, ...;
    the own entity is always fresh; a bot frame may come before the truth's and waits."""
    meter = _meter()
    truth, bot = NetMirror(), NetMirror()
    for m in (truth, bot):
        m.known[[1, 2]] = True
        m.pos[1] = 100
    for t in range(1, 31):
        truth.pos[2] = 1000 + t
        if t % 3 == 0:
            bot.pos[2] = 1000 + t
        if t % 2:  # odd ticks: the bot's frame arrives first
            meter.bot_frame(0, t, bot, 1, True)
            meter.truth_frame(t, truth)
        else:
            meter.truth_frame(t, truth)
            meter.bot_frame(0, t, bot, 1, True)
    # Before tick 3 entity 2 was never fresh (the bot's copy never matched): the top bin.
    assert meter.all[255] == 2
    assert meter.all[:3].tolist() == [30 + 10, 9, 9]  # own 30x fresh; entity 2: 0, 1, 2
    assert meter.compared == 30
    assert meter.unmatched == 0
    meter.bot_frame(0, 5, bot, 1, True)  # a tick the truth has forgotten
    assert meter.unmatched == 1


def _scene(share: float, importance: list[float] | None, ticks: int) -> dict[str, Any]:
    """400 NPCs and 6 players random-walking; 6 budgeted seats, one truth spectator."""
    rng = np.random.default_rng(5)
    n_npc, n_seat = 400, 6
    n = n_npc + n_seat
    kinds = np.r_[np.zeros(n_npc), np.ones(n_seat)].astype(np.uint8)
    netids = np.arange(1, n + 1, dtype=np.uint32)
    handles = np.arange(n, dtype=np.int64)
    xs, ys = rng.uniform(0, W, n), rng.uniform(0, W, n)
    heading = rng.uniform(0, 2 * np.pi, n)
    sync = InterestSync(radius_units=120.0)
    sync.budget.bytes_per_frame = share
    sync.budget.max_stale_ticks = 20
    if importance is not None:
        sync.budget.set_importance(importance)
    spectator = InterestSync(radius_units=W * 2)
    seats = np.arange(n_seat, dtype=np.int64)
    mirrors = [NetMirror() for _ in range(n_seat)]
    truth = NetMirror()
    meter = _meter()
    index = make_index("grid", W, W, 20.0)
    sizes = np.zeros(n_seat)
    sent_rows = np.zeros(2)  # changed rows sent, by kind
    for t in range(1, ticks + 1):
        heading += rng.normal(0, 0.3, n)
        xs = np.clip(xs + 2.5 * np.cos(heading), 0, W)
        ys = np.clip(ys + 2.5 * np.sin(heading), 0, W)
        q = _q(xs, ys)
        index.rebuild(handles, xs, ys)
        me = np.arange(n_npc, n)
        full = np.full(n_seat, t == 1)
        frames = sync.build(t, index, netids, kinds, q, handles, seats, xs[me], ys[me], full,
                            (xs, ys))  # fmt: skip
        spec = spectator.build(t, index, netids, kinds, q, handles, np.zeros(1, np.int64),
                               np.array([W / 2]), np.array([W / 2]), np.array([t == 1]),
                               (xs, ys))  # fmt: skip
        truth.apply(msgpack.unpackb(spec[0], raw=False)[2])
        meter.truth_frame(t, truth)
        for s, f in enumerate(frames):
            body = msgpack.unpackb(f, raw=False)[2]
            mirrors[s].apply(body)
            meter.bot_frame(s, t, mirrors[s], int(netids[n_npc + s]), t > 1)
            if t > 1:
                sizes[s] += len(f)
                for key in ("c", "m"):
                    ids = np.frombuffer(body[key], "<u2").astype(np.int64)
                    ids = ids[ids != netids[n_npc + s]]  # not the own entity (always sent)
                    sent_rows += np.bincount(kinds[ids - 1], minlength=2)
    return {"sizes": sizes, "frames": ticks - 1, "meter": meter, "sent_rows": sent_rows}


def test_budget_bounds_bytes_and_staleness_against_the_truth() -> None:
    """Every seat within budget + one frame; near (<= 50 units) at most one snapshot
    stale, anything held at most the 20-tick bound; and the budget bit."""
    share = 200.0  # about 60% of what the unbudgeted frames take
    got = _scene(share, None, 80)
    assert (got["sizes"] <= share * got["frames"] + share).all()
    st = summary([got["meter"].results()])
    assert st["frames_compared"] == 6 * 79
    assert st["near_samples"] > 6 * 79  # the own entity and its neighbours
    assert st["near_snapshots"]["max"] <= 1
    assert st["held_s"]["max"] <= 1.0  # 20 ticks at 20 Hz
    unbudgeted = _scene(0.0, None, 80)
    assert unbudgeted["sizes"].sum() > 1.5 * got["sizes"].sum()


def test_importance_per_kind_sends_the_important_kind_more_often() -> None:
    """Other players (kind 1) at importance 8 get more changed rows than at importance 1,
    and NPCs fewer (the same budget)."""
    plain = _scene(150.0, [1.0, 1.0], 60)["sent_rows"]
    weighted = _scene(150.0, [1.0, 8.0], 60)["sent_rows"]
    assert weighted[1] > 1.5 * plain[1]
    assert weighted[0] < plain[0]
