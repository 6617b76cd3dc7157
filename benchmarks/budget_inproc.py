"""``python -m benchmarks budget``: the byte budget in process, against the truth.

The budget case of ``benchmarks matrix`` without the network: the arena's simulation
with M NPCs and N players (a tenth of them change direction each tick), stepped every
tick; a budgeted :class:`~server.core.sync.state.InterestSync` builds the players'
frames exactly as :func:`server.match.frames.build_state_frames` drives it (the
definition's ``[sync]`` budget, ``[sync.importance] player = 2``), an unbudgeted one
the whole-world spectator's (the truth), and every seat's mirror
(:class:`client_sim.mirror.NetMirror`) is compared with the truth after every frame by
the bots' meter (:class:`client_sim.staleness.StalenessMeter`).

Prints the build's milliseconds (wall p50/p99 and the thread's CPU p50, which a loaded
machine disturbs less; the budgeted seats only: the spectator's and the simulation's
time are not counted), bytes per second per client (mean, max) and
the staleness figures of the budget bars. Example::

    python -m benchmarks budget --entities 20000 --clients 200 --ticks 100
"""

from __future__ import annotations

import argparse
import resource
import time
import tomllib
from dataclasses import replace

import msgpack
import numpy as np

from benchmarks.aoi import random_tick
from benchmarks.budget_case import BUDGET_BYTES_PER_S, budget_text
from benchmarks.common import percentile, result_path, write_json
from client_sim.mirror import NetMirror
from client_sim.staleness import StalenessMeter, summary
from server.config import DEFAULT_GAME
from server.core.simulation import Simulation
from server.core.sync.budget import budget_config
from server.core.sync.quantize import PositionQuantizer
from server.core.sync.state import InterestSync
from server.gamedef import parse_definition


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the budget command."""
    p.add_argument("--entities", type=int, default=20000, help="NPCs (M)")
    p.add_argument("--clients", type=int, default=200, help="players, one per client (N)")
    p.add_argument("--ticks", type=int, default=100, help="snapshot ticks measured")
    p.add_argument("--warmup", type=int, default=25, help="ticks built but not measured")
    p.add_argument("--budget-bytes-per-s", type=float, default=BUDGET_BYTES_PER_S)
    p.add_argument("--game", default=str(DEFAULT_GAME))
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")


def main(args: argparse.Namespace) -> int:
    """Build, run, measure, report."""
    base = parse_definition(tomllib.loads(budget_text(args.game, args.budget_bytes_per_s)))
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
    sync = InterestSync(defn.sync.interest_radius_units)
    sync.budget = budget_config(defn)
    w, h = defn.world.width_units, defn.world.height_units
    spectator = InterestSync(float(np.hypot(w, h)))
    seats = np.arange(args.clients, dtype=np.int64)
    mirrors = [NetMirror() for _ in range(args.clients)]
    truth = NetMirror()
    meter = StalenessMeter()
    meter.welcomed({"match_id": "m"}, truth=False)
    step = dict(defn.sync.quantize)
    meter.welcomed(
        {"quantize": step, "tick_rate_hz": defn.tick_rate_hz,
         "snapshot_rate_hz": defn.sync.snapshot_rate_hz},
        truth=True,
    )  # fmt: skip
    rng = np.random.default_rng(7)
    times: list[float] = []
    cpu: list[float] = []
    sizes = np.zeros(args.clients)
    total = args.warmup + args.ticks
    print(
        f"budget: {args.entities} NPCs, {args.clients} clients, "
        f"{args.budget_bytes_per_s:g} B/s each, radius {sync.radius_units}",
        flush=True,
    )
    for k in range(total):
        index, netids, kinds, packed, handles, xs, ys, slots = random_tick(
            sim, rng, players, quantizer, scale
        )
        first = k == 0
        full = np.full(args.clients, first, dtype=bool)
        t0, c0 = time.perf_counter(), time.thread_time()
        frames = sync.build(
            sim.tick, index, netids, kinds, packed, handles, seats, xs[slots], ys[slots],
            full, (xs, ys),
        )  # fmt: skip
        t1, c1 = time.perf_counter(), time.thread_time()
        spec = spectator.build(
            sim.tick, index, netids, kinds, packed, handles, np.zeros(1, np.int64),
            np.array([w / 2]), np.array([h / 2]), np.array([first]), (xs, ys),
        )  # fmt: skip
        truth.apply(msgpack.unpackb(spec[0], raw=False)[2])
        meter.truth_frame(sim.tick, truth)
        counted = k >= args.warmup
        own = netids[slots].astype(np.int64).tolist()
        for s, f in enumerate(frames):
            mirrors[s].apply(msgpack.unpackb(f, raw=False)[2])
            meter.bot_frame(s, sim.tick, mirrors[s], own[s], counted)
        if counted:
            times.append(t1 - t0)
            cpu.append(c1 - c0)
            sizes += [len(f) for f in frames]
        if k % 25 == 0:
            print(f"  tick {k}/{total}: build {1e3 * (t1 - t0):.1f} ms", flush=True)
    st = summary([meter.results()])
    seconds = args.ticks / defn.sync.snapshot_rate_hz
    row = {
        "entities": args.entities,
        "clients": args.clients,
        "ticks": args.ticks,
        "budget_bytes_per_s": args.budget_bytes_per_s,
        "build_ms_p50": round(1e3 * percentile(times, 50), 2),
        "build_ms_p99": round(1e3 * percentile(times, 99), 2),
        "build_cpu_ms_p50": round(1e3 * percentile(cpu, 50), 2),
        "build_cpu_ms_min": round(1e3 * min(cpu), 2),
        "bytes_per_client_per_s_mean": round(float(sizes.mean()) / seconds, 1),
        "bytes_per_client_per_s_max": round(float(sizes.max()) / seconds, 1),
        "staleness": st,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    near, held = st["near_snapshots"], st["held_s"]
    print(
        f"build p50/p99 {row['build_ms_p50']}/{row['build_ms_p99']} ms (CPU p50/min "
        f"{row['build_cpu_ms_p50']}/{row['build_cpu_ms_min']} ms); bytes/s per client "
        f"mean {row['bytes_per_client_per_s_mean']:.0f} max "
        f"{row['bytes_per_client_per_s_max']:.0f} (budget {args.budget_bytes_per_s:g}); "
        f"near p50/p99/max {near['p50']:g}/{near['p99']:g}/{near['max']:g} snapshots "
        f"(mean {near['mean']:g}, {st['near_samples']} samples); held p99/max "
        f"{held['p99']:.2f}/{held['max']:.2f} s; peak RSS {row['max_rss_mb']} MB (the mirrors "
        f"and the meter included)"
    )
    out = result_path("budget", args.out)
    write_json(out, row)
    return 0
