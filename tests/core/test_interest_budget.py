"""Per-client byte budgets: bytes stay within the budget, nothing starves, deltas stay exact."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from server.core.spatial import make_index
from server.core.sync.state import InterestSync
from server.testing import StateMirror

W = 100.0


def _q(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.rint(xs * 16).astype(np.uint32) | (
        np.rint(ys * 16).astype(np.uint32) << np.uint32(16)
    )
    return out


def _run(share: float, ticks: int = 40) -> tuple[list[int], list[int], int]:
    """Frame sizes of seat 0, its worst staleness (ticks), and mirrors checked each frame."""
    rng = np.random.default_rng(9)
    n = 120
    sync = InterestSync(radius_units=200.0)
    sync.budget.bytes_per_frame = share
    sync.budget.max_stale_ticks = 8
    sync.budget.falloff_units = 30.0
    netids = np.arange(1, n + 1, dtype=np.uint32)
    kinds = np.zeros(n, dtype=np.uint8)
    handles = np.arange(n, dtype=np.int64)
    xs = rng.uniform(0, W, n)
    ys = rng.uniform(0, W, n)
    seats = np.arange(3, dtype=np.int64)
    mirrors = [StateMirror() for _ in range(3)]
    index = make_index("grid", W, W, 10.0)
    sizes: list[int] = []
    last_exact = np.zeros((3, n), dtype=np.int64)
    worst = 0
    for t in range(1, ticks + 1):
        xs = np.clip(xs + rng.normal(0, 0.5, n), 0, W)
        ys = np.clip(ys + rng.normal(0, 0.5, n), 0, W)
        q = _q(xs, ys)
        index.rebuild(np.arange(n, dtype=np.int64), xs, ys)
        full = np.full(3, t == 1)
        args = (t, index, netids, kinds, q, handles, seats, xs[:3], ys[:3], full)
        frames = sync.build(*args, (xs, ys))
        for s, f in enumerate(frames):
            mirrors[s].apply(msgpack.unpackb(f, raw=False)[2])
            assert set(mirrors[s].entities) == set(netids.tolist())  # entered/left never wait
            held = np.array([mirrors[s].entities[int(i)][1:] for i in netids])
            exact = (held[:, 0] == (q & 0xFFFF)) & (held[:, 1] == (q >> 16))
            assert exact[s]  # the seat's own entity (at distance 0) goes first
            last_exact[s, exact] = t
            worst = max(worst, int((t - last_exact[s]).max()))
        sizes.append(len(frames[0]))
    return sizes, [worst], n


def test_budget_bounds_bytes_and_staleness() -> None:
    share = 160.0
    sizes, (worst,), _ = _run(share)
    steady = sizes[1:]  # the first frame is the full snapshot
    assert sum(steady) <= share * len(steady) + 2 * share
    assert worst <= 8  # max_stale_ticks: nothing in view waits longer
    unbudgeted, _, _ = _run(0.0)
    assert sum(unbudgeted[1:]) > 2 * sum(steady)  # the budget really bit


def test_generous_budget_changes_nothing() -> None:
    with_budget, _, _ = _run(1e9, ticks=10)
    without, _, _ = _run(0.0, ticks=10)
    assert with_budget == without


def test_events_are_paid_first() -> None:
    """A seat whose frame carries 150 bytes of events gets fewer changed rows, and its
    frame stays within its share (plus carried credit) all the same."""
    rng = np.random.default_rng(3)
    n = 120
    sync = InterestSync(radius_units=200.0)
    share = 300.0
    sync.budget.bytes_per_frame = share
    netids = np.arange(1, n + 1, dtype=np.uint32)
    kinds = np.zeros(n, dtype=np.uint8)
    handles = np.arange(n, dtype=np.int64)
    xs, ys = rng.uniform(0, W, n), rng.uniform(0, W, n)
    seats = np.arange(2, dtype=np.int64)
    index = make_index("grid", W, W, 10.0)
    tail = (1, b"\xa1x\xc4\x96" + bytes(150))  # one extra key: a 150-byte bin
    rows = np.zeros(2)
    for t in range(1, 11):
        xs = np.clip(xs + rng.normal(0, 0.5, n), 0, W)
        ys = np.clip(ys + rng.normal(0, 0.5, n), 0, W)
        index.rebuild(handles, xs, ys)
        full = np.full(2, t == 1)
        args = (t, index, netids, kinds, _q(xs, ys), handles, seats, xs[:2], ys[:2], full)
        frames = sync.build(*args, (xs, ys), tails=[tail, (0, b"")])
        if t == 1:
            continue
        bodies = [msgpack.unpackb(f, raw=False)[2] for f in frames]
        assert len(bodies[0]["x"]) == 150  # the events went out
        rows += [len(b["c"]) + len(b["m"]) for b in bodies]
        assert len(frames[0]) <= 2 * share
    assert rows[0] < rows[1]


def _jitter_scene(ticks: int, xy: bool) -> tuple[list[int], list[int], int]:
    """``xy``: the build gets the positions (the budget's own build over the cells);
    without them it takes the general explicit path (index pairs, ``hold_back``).

    One seat at the centre, 30 movers around it competing for a tight budget, and
    one far entity jittering between two positions every tick (the arena's ``collide``
    at high density). Returns the ticks whose frame carried the jitterer, the seat's
    worst staleness per tick (ticks since its copy equalled the truth) and its worst
    staleness of the jitterer."""
    rng = np.random.default_rng(4)
    n = 32
    sync = InterestSync(radius_units=80.0)
    sync.budget.bytes_per_frame = 90.0
    sync.budget.max_stale_ticks = 8
    sync.budget.falloff_units = 20.0
    netids = np.arange(1, n + 1, dtype=np.uint32)
    kinds = np.zeros(n, dtype=np.uint8)
    handles = np.arange(n, dtype=np.int64)
    xs = np.r_[50.0, 90.0, rng.uniform(35, 65, n - 2)]
    ys = np.r_[50.0, 50.0, rng.uniform(35, 65, n - 2)]
    index = make_index("grid", W, W, 10.0)
    mirror = StateMirror()
    carried: list[int] = []
    worst: list[int] = []
    fresh_at = np.zeros(n, dtype=np.int64)
    for t in range(1, ticks + 1):
        xs[1] = 90.0 + 0.5 * (t % 2)  # A, B, A, B, ...
        xs[2:] = np.clip(xs[2:] + rng.normal(0, 0.4, n - 2), 0, W)
        q = _q(xs, ys)
        index.rebuild(handles, xs, ys)
        args = (t, index, netids, kinds, q, handles, np.zeros(1, np.int64), xs[:1], ys[:1])
        frame = sync.build(*args, np.array([t == 1]), (xs, ys) if xy else None)[0]
        body = msgpack.unpackb(frame, raw=False)[2]
        mirror.apply(body)
        if t > 1 and 2 in set(np.frombuffer(body["c"] + body["m"], "<u2").tolist()):
            carried.append(t)
        held = np.array([mirror.entities[int(i)][1:] for i in netids])
        exact = (held[:, 0] == (q & 0xFFFF)) & (held[:, 1] == (q >> 16))
        fresh_at[exact] = t
        worst.append(int((t - fresh_at).max()))
    return carried, worst, int(fresh_at[1])


@pytest.mark.parametrize("xy", [True, False])
def test_a_copy_that_equals_the_truth_again_is_fresh(xy: bool) -> None:
    """The staleness accumulator counts ticks since the client's copy last equalled the
    truth, not since a row was sent: the jitterer's copy is exact every other tick, so
    it never comes due and no frame after the first carries it; the movers are still
    resent within the bound."""
    carried, worst, _ = _jitter_scene(60, xy)
    assert carried == []
    assert max(worst[1:]) <= 8  # max_stale_ticks
    assert sum(worst) > 60  # the budget bit: the movers wait


def test_budgeted_mirror_is_what_the_server_recorded() -> None:
    """After every frame the client's mirror holds exactly the entities in view, each at
    the position the server's baseline says it sent (the next delta's base): with
    teleports, deaths and births on reused handles, a mid-run full snapshot, seats that
    skip builds (slow readers), and builds without positions switching the general explicit
    path on and off under the budget."""
    rng = np.random.default_rng(11)
    n = 300
    sync = InterestSync(radius_units=30.0)
    sync.budget.bytes_per_frame = 120.0
    sync.budget.max_stale_ticks = 10
    sync.budget.falloff_units = 10.0
    netids = np.arange(1, n + 1, dtype=np.uint32)
    kinds = (np.arange(n) % 2).astype(np.uint8)
    sync.budget.set_importance([1.0, 3.0])
    handles = np.arange(n, dtype=np.int64)
    xs, ys = rng.uniform(0, W, n), rng.uniform(0, W, n)
    mirrors = [StateMirror() for _ in range(4)]
    index = make_index("grid", W, W, 10.0)
    born = n
    for t in range(1, 60):
        jump = rng.random(n) < 0.02  # a few teleports: absolute rows
        xs = np.where(jump, rng.uniform(0, W, n), np.clip(xs + rng.normal(0, 1.0, n), 0, W))
        ys = np.where(jump, rng.uniform(0, W, n), np.clip(ys + rng.normal(0, 1.0, n), 0, W))
        if t % 7 == 0:  # deaths and births on the same handles
            reborn = rng.choice(np.arange(4, n), 5, replace=False)
            netids[reborn] = np.arange(born + 1, born + 6, dtype=np.uint32)
            born += 5
        general = 25 <= t < 32  # no positions: the general explicit path under the budget
        q = _q(xs, ys)
        index.rebuild(handles, xs, ys)
        seats = np.arange(4, dtype=np.int64)
        if t > 1:
            seats = seats[rng.random(4) < 0.7]  # the others skip this build
        full = (t == 1) | ((t == 20) & (seats == 3))  # seat 3 resets once
        args = (t, index, netids, kinds, q, handles, seats, xs[seats], ys[seats], full)
        frames = sync.build(*args, None if general else (xs, ys))
        for s, f in zip(seats.tolist(), frames, strict=True):
            mirrors[s].apply(msgpack.unpackb(f, raw=False)[2])
            d2 = (xs - xs[s]) ** 2 + (ys - ys[s]) ** 2
            assert set(mirrors[s].entities) == set(netids[d2 <= 30.0**2].tolist())
            by_id = {int(i): h for h, i in enumerate(netids.tolist())}
            ids = sorted(mirrors[s].entities)
            held = np.array([mirrors[s].entities[i][1:] for i in ids])
            rec = sync.explicit.sent_row(s)[[by_id[i] for i in ids]]
            assert (held[:, 0] == (rec & 0xFFFF)).all()
            assert (held[:, 1] == (rec >> 16)).all()


def test_views_survive_the_build_numbers_wrapping() -> None:
    """Past 255 budgeted builds the marks that tell "left" are cleared and numbered
    again: membership stays exact across it, also for a seat whose previous build had
    the same number (seat 1 skips builds 4..257)."""
    rng = np.random.default_rng(2)
    n = 60
    sync = InterestSync(radius_units=25.0)
    sync.budget.bytes_per_frame = 80.0
    netids = np.arange(1, n + 1, dtype=np.uint32)
    kinds = np.zeros(n, dtype=np.uint8)
    handles = np.arange(n, dtype=np.int64)
    xs, ys = rng.uniform(0, W, n), rng.uniform(0, W, n)
    mirrors = [StateMirror() for _ in range(2)]
    index = make_index("grid", W, W, 10.0)
    for t in range(1, 262):
        xs = np.clip(xs + rng.normal(0, 2.0, n), 0, W)
        ys = np.clip(ys + rng.normal(0, 2.0, n), 0, W)
        seats = np.array([0, 1] if t <= 3 or t >= 258 else [0], dtype=np.int64)
        full = np.full(len(seats), t == 1)
        args = (t, index, netids, kinds, _q(xs, ys), handles, seats, xs[seats], ys[seats])
        frames = sync.build(*args, full, (xs, ys))
        for s, f in zip(seats.tolist(), frames, strict=True):
            mirrors[s].apply(msgpack.unpackb(f, raw=False)[2])
            d2 = (xs - xs[s]) ** 2 + (ys - ys[s]) ** 2
            assert set(mirrors[s].entities) == set(netids[d2 <= 25.0**2].tolist())
