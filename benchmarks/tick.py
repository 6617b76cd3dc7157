"""``python -m benchmarks tick``: the core tick alone (no network) at 1k/10k/100k entities.

Runs the arena pipeline (inputs, move, bounce, index rebuild, collision) for each size
and prints ms per tick (p50/p99), the movement + index-update part on its own, and each
system's share. Bar (QUALITY.md): 100k entities, movement plus spatial index update,
<= 10 ms per tick on one core. ``--matches N`` times many small matches instead
(:mod:`benchmarks.tick_matches`).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from benchmarks import tick_matches
from benchmarks.common import add_heap_argument, apply_heap, percentile, result_path, write_json
from server.config import DEFAULT_GAME
from server.core.simulation import Simulation
from server.gamedef import load_definition

BAR_MS_100K = 10.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the tick command."""
    p.add_argument("--sizes", default="1000,10000,100000", help="entity counts, comma-separated")
    p.add_argument("--ticks", type=int, default=200, help="ticks measured per size")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--index", choices=("grid", "quadtree", "brute"), default=None)
    p.add_argument(
        "--matches",
        type=int,
        default=None,
        help="many small matches ticked in process instead (see benchmarks.tick_matches)",
    )
    p.add_argument("--players-per-match", type=int, default=8, help="with --matches")
    p.add_argument("--entities-per-match", type=int, default=50, help="NPCs, with --matches")
    p.add_argument("--game", default=str(DEFAULT_GAME))
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")
    add_heap_argument(p)


def main(args: argparse.Namespace) -> int:
    """Run and report."""
    apply_heap(args.heap_retain_mb)
    if args.matches is not None:
        return tick_matches.run(args)
    base = load_definition(args.game)
    if args.index:
        base = replace(base, spatial=replace(base.spatial, index=args.index))
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        defn = replace(
            base,
            spawns=(replace(base.spawns[0], count=size),),
            world=replace(base.world, initial_capacity=size + 16),
        )
        sim = Simulation(defn)
        sim.spawn_initial()
        for _ in range(args.warmup):
            sim.step()
        times: list[float] = []
        core_times: list[float] = []
        systems: dict[str, float] = {}
        index_s = 0.0
        for i in range(args.ticks):
            t0 = time.perf_counter()
            r = sim.step()
            times.append(time.perf_counter() - t0)
            core_times.append(
                r.index_s + sum(r.system_s.get(k, 0.0) for k in ("move", "bounce_at_edges"))
            )
            index_s += r.index_s
            for k, v in r.system_s.items():
                systems[k] = systems.get(k, 0.0) + v
            if i % 50 == 0:
                print(f"  {size} entities: tick {i}/{args.ticks}", flush=True)
        ms = [t * 1000 for t in times]
        row = {
            "entities": size,
            "index": defn.spatial.index,
            "p50_ms": percentile(ms, 50),
            "p99_ms": percentile(ms, 99),
            "mean_ms": sum(ms) / len(ms),
            "move_index_p50_ms": percentile([t * 1000 for t in core_times], 50),
            "move_index_p99_ms": percentile([t * 1000 for t in core_times], 99),
            "index_rebuild_ms": 1000 * index_s / args.ticks,
            "systems_ms": {k: 1000 * v / args.ticks for k, v in systems.items()},
        }
        rows.append(row)
        print(
            f"{size:>7} entities  p50 {row['p50_ms']:7.3f} ms  p99 {row['p99_ms']:7.3f} ms  "
            f"move+index p50 {row['move_index_p50_ms']:6.3f} ms  "
            f"index {row['index_rebuild_ms']:.3f} ms  "
            + "  ".join(f"{k} {v:.3f}" for k, v in row["systems_ms"].items()),
            flush=True,
        )
    for row in rows:
        if row["entities"] == 100_000:
            ok = row["move_index_p99_ms"] <= BAR_MS_100K
            print(
                f"bar: 100k entities, movement + index update <= {BAR_MS_100K} ms/tick: "
                f"p99 {row['move_index_p99_ms']:.2f} ms -> {'PASS' if ok else 'FAIL'} "
                f"(whole arena pipeline incl. collision: p50 {row['p50_ms']:.1f} ms; at this "
                "density collision finds ~250k contacts per tick)"
            )
    write_json(result_path("tick", args.out), {"command": "tick", "rows": rows})
    return 0
