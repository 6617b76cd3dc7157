"""Area-of-interest deltas: applying them always rebuilds the full snapshot."""

from __future__ import annotations

import msgpack
import numpy as np
from churn import newborn_handles
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.spatial import make_index
from server.core.sync.state import InterestSync
from server.testing import StateMirror


def decode(frame: bytes) -> dict[str, object]:
    _, mtype, body = msgpack.unpackb(frame, raw=False)
    assert mtype == 65
    result: dict[str, object] = body
    return result


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_entities=st.integers(0, 120),
    n_viewers=st.integers(1, 6),
    ticks=st.integers(1, 12),
    skip_prob=st.floats(0, 0.6),
)
def test_state_deltas_rebuild_the_full_snapshot(
    seed: int, n_entities: int, n_viewers: int, ticks: int, skip_prob: float
) -> None:
    """Under random moves, despawns and skipped (slow) frames, delta mirrors equal full ones."""
    rng = np.random.default_rng(seed)
    delta = InterestSync(radius_units=30.0)
    mirrors = [StateMirror() for _ in range(n_viewers)]
    next_netid = 1
    netids = np.arange(next_netid, next_netid + n_entities, dtype=np.uint32)
    next_netid += n_entities
    # Handles as the entity allocator gives them: stable per entity, reused LIFO after death.
    handles = np.arange(n_entities, dtype=np.int64)
    free: list[int] = []
    next_handle = n_entities
    xs = rng.uniform(0, 100, n_entities)
    ys = rng.uniform(0, 100, n_entities)
    first = np.ones(n_viewers, dtype=bool)
    for t in range(1, ticks + 1):
        # move some, despawn some (stable order), spawn some (appended, growing netids)
        moving = rng.random(len(xs)) < 0.5
        xs = np.clip(xs + moving * rng.normal(0, 5, len(xs)), 0, 100)
        ys = np.clip(ys + moving * rng.normal(0, 5, len(ys)), 0, 100)
        keep = rng.random(len(xs)) > 0.1
        free.extend(handles[~keep].tolist())
        netids, xs, ys, handles = netids[keep], xs[keep], ys[keep], handles[keep]
        born = int(rng.integers(0, 5))
        netids = np.concatenate([netids, np.arange(next_netid, next_netid + born, dtype=np.uint32)])
        next_netid += born
        new_handles, next_handle = newborn_handles(free, next_handle, born)
        handles = np.concatenate([handles, new_handles])
        xs = np.concatenate([xs, rng.uniform(0, 100, born)])
        ys = np.concatenate([ys, rng.uniform(0, 100, born)])
        n = len(xs)
        kinds = (netids % 2).astype(np.uint8)
        q = (np.rint(xs * 16).astype(np.uint32)) | (np.rint(ys * 16).astype(np.uint32) << 16)
        index = make_index("grid", 100.0, 100.0, 10.0)
        index.rebuild(np.arange(n, dtype=np.int64), xs, ys)
        vx = rng.uniform(0, 100, n_viewers)
        vy = rng.uniform(0, 100, n_viewers)
        built = first | (rng.random(n_viewers) >= skip_prob)
        seats = np.flatnonzero(built).astype(np.int64)
        frames = delta.build(
            t, index, netids, kinds, q, handles, seats, vx[seats], vy[seats], first[seats]
        )
        first[seats] = False
        ref = InterestSync(radius_units=30.0)
        ref_index = make_index("brute", 100.0, 100.0, 10.0)
        ref_index.rebuild(np.arange(n, dtype=np.int64), xs, ys)
        ref_frames = ref.build(
            t,
            ref_index,
            netids,
            kinds,
            q,
            handles,
            seats,
            vx[seats],
            vy[seats],
            np.ones(len(seats), dtype=bool),
        )
        for seat, frame, ref_frame in zip(seats.tolist(), frames, ref_frames, strict=True):
            mirrors[seat].apply(decode(frame))
            full = StateMirror()
            full.apply(decode(ref_frame))
            assert mirrors[seat].entities == full.entities


def test_state_idle_entities_cost_nothing_after_first_frame() -> None:
    """Entities that do not move appear once (entered) and never again."""
    sync = InterestSync(radius_units=1000.0)
    xs = np.linspace(0, 99, 50)
    ys = np.linspace(0, 99, 50)
    netids = np.arange(1, 51, dtype=np.uint32)
    kinds = np.zeros(50, dtype=np.uint8)
    q = (np.rint(xs * 16).astype(np.uint32)) | (np.rint(ys * 16).astype(np.uint32) << 16)
    index = make_index("grid", 100.0, 100.0, 10.0)
    index.rebuild(np.arange(50, dtype=np.int64), xs, ys)
    seats = np.array([0], dtype=np.int64)
    handles = np.arange(50, dtype=np.int64)
    args = (index, netids, kinds, q, handles, seats, np.array([50.0]), np.array([50.0]))
    first = decode(sync.build(1, *args, np.array([True]))[0])
    assert len(first["e"]) == 100  # type: ignore[arg-type]
    second = decode(sync.build(2, *args, np.array([False]))[0])
    assert second["e"] == second["c"] == second["m"] == second["l"] == b""
    assert sync.last_stats.changed == 0


def test_state_changed_entity_costs_four_bytes_and_a_far_move_six() -> None:
    """A small move adds a 2-byte id and a 2-byte step delta; a far one id + position."""
    sync = InterestSync(radius_units=1000.0)
    netids = np.array([1, 2], dtype=np.uint32)
    kinds = np.zeros(2, dtype=np.uint8)
    index = make_index("grid", 100.0, 100.0, 10.0)
    index.rebuild(np.arange(2, dtype=np.int64), np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    seats = np.array([0], dtype=np.int64)
    q0 = np.array([16 | 16 << 16, 32 | 32 << 16], dtype=np.uint32)
    view = (np.array([0.0]), np.array([0.0]))
    h = np.arange(2, dtype=np.int64)
    sync.build(1, index, netids, kinds, q0, h, seats, *view, np.array([True]))
    idle = sync.build(2, index, netids, kinds, q0, h, seats, *view, np.array([False]))[0]
    q1 = q0.copy()
    q1[1] += 1
    moved = sync.build(3, index, netids, kinds, q1, h, seats, *view, np.array([False]))[0]
    assert len(moved) - len(idle) == 4
    assert decode(moved)["d"] == bytes([1, 0])  # +1 step in x, 0 in y, as int8
    q2 = q1.copy()
    q2[1] += 500  # 500 steps: more than an int8 delta holds
    far = sync.build(4, index, netids, kinds, q2, h, seats, *view, np.array([False]))[0]
    assert len(far) - len(idle) == 6
    assert decode(far)["m"] == np.array([2], "<u2").tobytes()


def test_far_entities_update_every_other_build_when_degraded() -> None:
    """With far_every=2 a far entity's changes skip odd ticks, then arrive as a correct delta."""
    sync = InterestSync(radius_units=100.0)
    sync.far_every = 2
    netids = np.array([1, 2], dtype=np.uint32)
    kinds = np.zeros(2, dtype=np.uint8)
    handles = np.arange(2, dtype=np.int64)
    seats = np.array([0], dtype=np.int64)
    view = (np.array([0.0]), np.array([0.0]))
    mirror = StateMirror()
    changed_ids: list[set[int]] = []
    for tick in range(1, 7):
        # Entity 1 at 20 units (near), entity 2 at 80 units (outer half); both move.
        xs = np.array([20.0 + tick, 80.0 + tick])
        ys = np.zeros(2)
        q = (np.round(xs * 16).astype(np.uint32)) | (np.uint32(0) << 16)
        index = make_index("grid", 200.0, 200.0, 25.0)
        index.rebuild(handles, xs, ys)
        full = np.array([tick == 1])
        frame = sync.build(tick, index, netids, kinds, q, handles, seats, *view, full, (xs, ys))
        body = decode(frame[0])
        mirror.apply(body)  # type: ignore[arg-type]
        ids = np.frombuffer(body["c"], "<u2").tolist() + np.frombuffer(body["m"], "<u2").tolist()  # type: ignore[call-overload]
        changed_ids.append(set(ids))
        if tick % 2 == 0:
            # On even ticks the client holds the true positions of both.
            assert mirror.entities[1][1] == q[0]
            assert mirror.entities[2][1] == q[1]
        elif tick > 1:  # tick 1 is the full snapshot
            assert mirror.entities[1][1] == q[0]
            assert mirror.entities[2][1] < q[1]  # the far one lags one tick behind
    assert changed_ids[1:] == [{1, 2}, {1}, {1, 2}, {1}, {1, 2}]  # ticks 2..6
