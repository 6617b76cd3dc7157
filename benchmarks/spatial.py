"""``python -m benchmarks spatial``: grid vs quadtree vs brute force at 1k/10k/100k points.

For each size in a 1000 x 1000 world: build time, radius queries per second (a batch of
1000 queries at radius 150, the arena's interest radius, and at radius 10), and the time
to find all pairs within 4 units (the arena's contact distance). Medians of
``--repeats`` runs. The brute-force reference is O(n * q) and is skipped above 10k
points (it would take minutes and gigabytes); the output says so.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from benchmarks.common import result_path, write_json
from server.core.spatial import make_index

BRUTE_MAX = 10_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the spatial command."""
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=None)


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def main(args: argparse.Namespace) -> int:
    """Run and report."""
    rng = np.random.default_rng(12345)
    rows: list[dict[str, Any]] = []
    header = ("points", "index", "build ms", "q/s r150", "q/s r10", "pairs ms")
    print("{:>8} {:>9} {:>9} {:>12} {:>12} {:>9}".format(*header))
    for n in [int(s) for s in args.sizes.split(",")]:
        xs = rng.uniform(0, 1000, n)
        ys = rng.uniform(0, 1000, n)
        ids = np.arange(n, dtype=np.int64)
        qx = rng.uniform(0, 1000, args.queries)
        qy = rng.uniform(0, 1000, args.queries)
        for kind in ("grid", "quadtree", "brute"):
            if kind == "brute" and n > BRUTE_MAX:
                print(f"{n:>8} {kind:>9}  skipped: O(n*q) above {BRUTE_MAX} points")
                continue
            index = make_index(kind, 1000.0, 1000.0, 50.0, 16)
            build = _median_ms(partial(index.rebuild, ids, xs, ys), args.repeats)
            r150 = _median_ms(partial(index.query_radius, qx, qy, 150.0), args.repeats)
            r10 = _median_ms(partial(index.query_radius, qx, qy, 10.0), args.repeats)
            pairs = (
                _median_ms(partial(index.candidate_pairs, 4.0), args.repeats)
                if kind != "brute" or n <= 2000
                else float("nan")
            )
            row = {
                "points": n,
                "index": kind,
                "build_ms": build,
                "queries_per_s_r150": args.queries / (r150 / 1000),
                "queries_per_s_r10": args.queries / (r10 / 1000),
                "pairs_ms": pairs,
            }
            rows.append(row)
            print(
                f"{n:>8} {kind:>9} {build:>9.3f} {row['queries_per_s_r150']:>12,.0f} "
                f"{row['queries_per_s_r10']:>12,.0f} {pairs:>9.3f}",
                flush=True,
            )
    write_json(result_path("spatial", args.out), {"command": "spatial", "rows": rows})
    return 0
