"""``python -m benchmarks aoi``: batched interest management against a per-client filter.

In process, no network. Builds the arena's simulation with M NPCs and N player entities
(a tenth of the players change direction each tick), steps it, and on every tick builds
each client's state frame two ways from the same inputs:

- **batched**: :class:`server.core.sync.state.InterestSync` exactly as
  :func:`server.match.frames.build_state_frames` drives it (entities binned into cells
  once, shared runs for the cells inside each circle, per-pair work only on the rim,
  frames sliced from shared buffers);
- **pairs** (the batched path before interest by cell, timed too): the same class
  without positions, so every seat keeps its explicit ``[seat, handle]`` baseline and
  one radius query gives all visible pairs;
- **per client**: for each client, its own visibility query (``--naive numpy``, the
  default and the faster of the two here: a distance filter over all entities;
  ``--naive index``: the spatial index's ``query_radius`` for one point), a diff
  against the sorted netids and positions it was last sent (``searchsorted``), and one
  ``msgpack.packb`` of the same message.

Only the frame building is timed (the simulation step and the per-tick inputs both
sides share are not). It prints microseconds per client per tick for both and the
speed-up, the CPU time (``process_time``, mean) of the batched and pair-path builds
(steadier on a shared machine), and checks on the first and last tick that both sent
every client the same entered / changed / left netids (order inside a frame may
differ). Example::

    python -m benchmarks aoi --entities 1000 --clients 1000 --ticks 100
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from typing import Any, NamedTuple

import msgpack
import numpy as np
from numpy.typing import NDArray

from benchmarks.common import percentile, result_path, write_json
from server.config import DEFAULT_GAME
from server.core.frame import InputBatch
from server.core.simulation import Simulation
from server.core.spatial.index import SpatialIndex
from server.core.sync.quantize import PositionQuantizer
from server.core.sync.state import PROTOCOL_VERSION, STATE_MESSAGE_TYPE, InterestSync
from server.gamedef import load_definition

U32 = NDArray[np.uint32]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the aoi command."""
    p.add_argument("--entities", type=int, default=1000, help="NPCs (M)")
    p.add_argument("--clients", type=int, default=1000, help="players, one per client (N)")
    p.add_argument("--ticks", type=int, default=100, help="snapshot ticks measured")
    p.add_argument("--warmup", type=int, default=3, help="ticks built but not timed")
    p.add_argument(
        "--naive",
        choices=("numpy", "index"),
        default="numpy",
        help="per-client visibility: a numpy distance filter (default, the faster) or "
        "the spatial index's query_radius for one point",
    )
    p.add_argument("--game", default=str(DEFAULT_GAME))
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")


class PerClientSync:
    """The plain way: each client filtered, diffed and encoded on its own."""

    def __init__(self, radius: float, clients: int, mode: str) -> None:
        self.radius = radius
        self.mode = mode
        empty = np.zeros(0, dtype=np.uint32)
        self.ids: list[U32] = [empty] * clients
        """Netids last sent to each client, sorted."""
        self.qs: list[U32] = [empty] * clients
        """Their quantized positions, in the same order."""

    def build(
        self,
        tick: int,
        index: Any,
        netids: U32,
        kinds: NDArray[np.uint8],
        packed_q: U32,
        xs: NDArray[np.float64],
        ys: NDArray[np.float64],
        viewer_x: NDArray[np.float64],
        viewer_y: NDArray[np.float64],
        full: bool,
    ) -> list[bytes]:
        """One packed ``state`` message per client."""
        r = self.radius
        r2 = r * r
        width = 2 if int(netids.max(initial=0)) < 65536 else 4
        id_dtype = "<u2" if width == 2 else "<u4"
        out = []
        for i in range(len(viewer_x)):
            if self.mode == "index":
                _, slots = index.query_radius(viewer_x[i : i + 1], viewer_y[i : i + 1], r)
            else:
                dx = xs - viewer_x[i]
                dy = ys - viewer_y[i]
                slots = np.flatnonzero(dx * dx + dy * dy <= r2)
            ids = netids[slots]
            order = np.argsort(ids)
            ids, q, slots = ids[order], packed_q[slots][order], slots[order]
            old_ids, old_q = (self.ids[i], self.qs[i]) if not full else (ids[:0], q[:0])
            if len(old_ids) and len(ids):
                pos = np.minimum(np.searchsorted(old_ids, ids), len(old_ids) - 1)
                known = old_ids[pos] == ids
                changed = known & (old_q[pos] != q)
                back = np.minimum(np.searchsorted(ids, old_ids), len(ids) - 1)
                left = old_ids[ids[back] != old_ids]
            else:
                known = changed = np.zeros(len(ids), dtype=bool)
                left = old_ids
            entered = ~known
            self.ids[i], self.qs[i] = ids, q
            body = {
                "t": tick,
                "f": full,
                "w": width,
                "e": ids[entered].astype(id_dtype).tobytes(),
                "k": kinds[slots[entered]].tobytes(),
                "p": q[entered].astype("<u4").tobytes(),
                "c": ids[changed].astype(id_dtype).tobytes(),
                "q": q[changed].astype("<u4").tobytes(),
                "l": left.astype(id_dtype).tobytes(),
            }
            out.append(msgpack.packb([PROTOCOL_VERSION, STATE_MESSAGE_TYPE, body]))
        return out


def content(frame: bytes) -> tuple[frozenset[int], frozenset[int], frozenset[int]]:
    """(entered, changed, left) netids of one encoded state frame."""
    _, _, body = msgpack.unpackb(frame)
    dt = "<u2" if body["w"] == 2 else "<u4"
    return tuple(  # type: ignore[return-value]
        frozenset(np.frombuffer(body[k], dtype=dt).tolist()) for k in ("e", "c", "l")
    )


def check_same(batched: list[bytes], plain: list[bytes], tick: int) -> None:
    """Both ways sent every client the same entered / changed / left sets."""
    assert len(batched) == len(plain)
    for seat, (a, b) in enumerate(zip(batched, plain, strict=True)):
        ca, cb = content(a), content(b)
        if ca != cb:
            raise AssertionError(
                f"tick {tick}, client {seat}: batched (entered, changed, left) sizes "
                f"{[len(s) for s in ca]} != per-client {[len(s) for s in cb]}"
            )


class TickColumns(NamedTuple):
    """What an interest build reads after a tick (positions in world units)."""

    index: SpatialIndex
    netids: NDArray[np.uint32]
    kinds: NDArray[np.uint8]
    packed: NDArray[np.uint32]
    handles: NDArray[np.int64]
    xs: NDArray[np.float64]
    ys: NDArray[np.float64]
    slots: NDArray[np.int64]
    """The players' slots, in ``players`` order."""


def random_tick(
    sim: Simulation,
    rng: np.random.Generator,
    players: NDArray[np.int64],
    quantizer: PositionQuantizer,
    scale: float,
) -> TickColumns:
    """One tick in which a random tenth of ``players`` push a random stick; then the
    columns the in-process interest benchmarks build frames from (``scale``: subunits
    per world unit)."""
    movers = rng.random(len(players)) < 0.1
    batch = InputBatch(
        players[movers],
        rng.integers(-127, 128, int(movers.sum()), dtype=np.int8),
        rng.integers(-127, 128, int(movers.sum()), dtype=np.int8),
    )
    sim.step(batch)
    world = sim.world
    return TickColumns(
        sim.processor.index,
        world.netids,
        world.col("kind"),
        quantizer.packed(world),
        world.col("entity") & 0xFFFF_FFFF,
        world.col("position.x").astype(np.float64) / scale,
        world.col("position.y").astype(np.float64) / scale,
        world.entities.slots_of(players),
    )


def main(args: argparse.Namespace) -> int:
    """Build, run, time, check, report."""
    base = load_definition(args.game)
    npc = next(i for i, s in enumerate(base.spawns) if s.archetype == "npc")
    spawns = list(base.spawns)
    spawns[npc] = replace(spawns[npc], count=args.entities)
    defn = replace(
        base,
        spawns=tuple(spawns),
        world=replace(base.world, initial_capacity=args.entities + args.clients + 64),
    )
    sim = Simulation(defn)
    sim.spawn_initial()
    players = np.asarray([sim.queue_player() for _ in range(args.clients)], dtype=np.int64)
    sim.apply_commands()
    sim.processor.rebuild_index()
    quantizer = PositionQuantizer(defn)
    scale = float(defn.world.subunits_per_unit)
    radius = defn.sync.interest_radius_units
    batched = InterestSync(radius)
    pair_path = InterestSync(radius)
    plain = PerClientSync(radius, args.clients, args.naive)
    seats = np.arange(args.clients, dtype=np.int64)
    rng = np.random.default_rng(7)
    t_batched: list[float] = []
    t_plain: list[float] = []
    t_pairs: list[float] = []
    cpu_batched: list[float] = []
    cpu_pairs: list[float] = []
    # CPU time (process_time) of the same builds: steadier than the wall clock on a shared
    # machine; its resolution can be coarse, so a mean over the ticks, not a p50.
    pairs = 0
    frame_bytes = [0, 0]
    total = args.warmup + args.ticks
    print(
        f"aoi: {args.entities} NPCs, {args.clients} clients, radius {radius}, "
        f"{defn.spatial.index} index, per-client filter: {args.naive}",
        flush=True,
    )
    for k in range(total):
        index, netids, kinds, packed, handles, xs, ys, slots = random_tick(
            sim, rng, players, quantizer, scale
        )
        px, py = xs[slots], ys[slots]
        first = k == 0
        full = np.full(args.clients, first, dtype=bool)

        c0, t0 = time.process_time(), time.perf_counter()
        fa = batched.build(
            sim.tick, index, netids, kinds, packed, handles, seats, px, py, full, (xs, ys)
        )
        c1, t1 = time.process_time(), time.perf_counter()
        fb = plain.build(sim.tick, index, netids, kinds, packed, xs, ys, px, py, first)
        t2 = time.perf_counter()
        c2 = time.process_time()
        pair_path.build(sim.tick, index, netids, kinds, packed, handles, seats, px, py, full)
        c3, t3 = time.process_time(), time.perf_counter()
        if first or k == total - 1:
            check_same(fa, fb, sim.tick)
        if k >= args.warmup:
            t_batched.append(t1 - t0)
            t_plain.append(t2 - t1)
            t_pairs.append(t3 - t2)
            cpu_batched.append(c1 - c0)
            cpu_pairs.append(c3 - c2)
            pairs += batched.last_stats.pairs
            frame_bytes[0] += sum(map(len, fa))
            frame_bytes[1] += sum(map(len, fb))
        if k % 25 == 0:
            print(f"  tick {k}/{total}", flush=True)

    n = args.clients

    def us(values: list[float], p: float) -> float:
        return round(1e6 * percentile(values, p) / n, 3)

    row = {
        "entities": args.entities,
        "clients": n,
        "ticks": args.ticks,
        "index": defn.spatial.index,
        "naive": args.naive,
        "radius_units": radius,
        "visible_per_client_mean": round(pairs / max(1, args.ticks) / n, 1),
        "batched_us_per_client_p50": us(t_batched, 50),
        "batched_us_per_client_p99": us(t_batched, 99),
        "batched_us_per_client_mean": round(1e6 * sum(t_batched) / len(t_batched) / n, 3),
        "pairs_us_per_client_p50": us(t_pairs, 50),
        "batched_cpu_us_per_client_mean": round(1e6 * sum(cpu_batched) / len(cpu_batched) / n, 3),
        "pairs_cpu_us_per_client_mean": round(1e6 * sum(cpu_pairs) / len(cpu_pairs) / n, 3),
        "per_client_us_per_client_p50": us(t_plain, 50),
        "per_client_us_per_client_p99": us(t_plain, 99),
        "per_client_us_per_client_mean": round(1e6 * sum(t_plain) / len(t_plain) / n, 3),
        "frame_bytes_batched": frame_bytes[0],
        "frame_bytes_per_client": frame_bytes[1],
        "same_visible_sets": True,
    }
    row["speedup_p50"] = round(
        row["per_client_us_per_client_p50"] / max(row["batched_us_per_client_p50"], 1e-9), 1
    )
    print(
        f"batched     {row['batched_us_per_client_p50']:8.2f} us per client per tick (p50), "
        f"p99 {row['batched_us_per_client_p99']:.2f}\n"
        f"pair path   {row['pairs_us_per_client_p50']:8.2f} us per client per tick (p50) "
        "(before interest by cell)\n"
        f"CPU time    batched {row['batched_cpu_us_per_client_mean']:.2f}, pair path "
        f"{row['pairs_cpu_us_per_client_mean']:.2f} us per client per tick (mean)\n"
        f"per client  {row['per_client_us_per_client_p50']:8.2f} us per client per tick (p50), "
        f"p99 {row['per_client_us_per_client_p99']:.2f}\n"
        f"speed-up    {row['speedup_p50']:.1f}x  "
        f"({row['visible_per_client_mean']} entities visible per client; "
        "same entered/changed/left sets on the first and last tick)"
    )
    write_json(result_path("aoi", args.out), {"command": "aoi", "rows": [row]})
    return 0
