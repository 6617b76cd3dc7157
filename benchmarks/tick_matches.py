"""``python -m benchmarks tick --matches N``: many small matches ticked in process.

Builds N :class:`~server.match.match.Match` objects of the small-match definition of
:mod:`benchmarks.workload` (``--players-per-match`` seated players with opaque
connections, ``--entities-per-match`` NPCs, a world every player sees whole), then per
round gives every seated player one input stamped for the next tick and calls
``Match.tick`` on every match, as the server's runners do, minus the sockets: the state
frames are built and encoded but not sent. Reports the amortised cost per match-tick
(round time / N) in µs, p50/p99 over rounds and the mean. Bar (issue 15): <= 40 µs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import percentile, result_path, write_json
from benchmarks.workload import Layout, write_definition
from server.gamedef import load_definition
from server.match.match import Match

BAR_US_PER_MATCH_TICK = 40.0


def build(game: str, layout: Layout) -> list[Match]:
    """``layout.matches`` running matches, each with its players seated."""
    with tempfile.TemporaryDirectory(prefix="tickwire-tick-") as tmp:
        defn = load_definition(write_definition(game, layout.npcs, None, Path(tmp), layout))
    matches = []
    player = 0
    for i in range(layout.matches):
        m = Match(defn, f"m{i + 1}", i + 1)
        for _ in range(layout.players):
            player += 1
            m.join(player, object())
        m.start()
        matches.append(m)
    return matches


def run(args: argparse.Namespace) -> int:
    """Time the rounds and report (the ``--matches`` branch of ``benchmarks tick``)."""
    layout = Layout(args.matches, args.players_per_match, args.entities_per_match)
    matches = build(args.game, layout)
    rng = np.random.default_rng(1)
    sticks = rng.uniform(-1, 1, (args.ticks + args.warmup, layout.players, 2)).tolist()
    seats = [[s for s in m.seats if s is not None] for m in matches]
    rounds: list[float] = []
    frames = 0
    for k in range(args.warmup + args.ticks):
        t0 = time.perf_counter()
        for m, seated in zip(matches, seats, strict=True):
            nxt = m.tick_count + 1
            for seat, (x, y) in zip(seated, sticks[k], strict=False):
                m.receive_input(seat, nxt, x, y)
            frames += len(m.tick().frames)
        if k >= args.warmup:
            rounds.append(time.perf_counter() - t0)
    per_match_us = [1e6 * r / layout.matches for r in rounds]
    row: dict[str, Any] = {
        "matches": layout.matches,
        "players_per_match": layout.players,
        "entities_per_match": layout.npcs,
        "ticks": args.ticks,
        "us_per_match_tick_p50": round(percentile(per_match_us, 50), 1),
        "us_per_match_tick_p99": round(percentile(per_match_us, 99), 1),
        "us_per_match_tick_mean": round(sum(per_match_us) / len(per_match_us), 1),
        "round_ms_p50": round(percentile([r * 1000 for r in rounds], 50), 3),
        "frames_per_round": frames / (args.warmup + args.ticks),
    }
    print(
        f"{layout.matches} matches x {layout.players} players x {layout.npcs} NPCs: "
        f"{row['us_per_match_tick_p50']} us per match-tick p50 "
        f"(p99 {row['us_per_match_tick_p99']}, mean {row['us_per_match_tick_mean']}); "
        f"one round of all matches {row['round_ms_p50']} ms"
    )
    ok = row["us_per_match_tick_p50"] <= BAR_US_PER_MATCH_TICK
    print(
        f"bar: amortised cost per match-tick <= {BAR_US_PER_MATCH_TICK} us: "
        f"{row['us_per_match_tick_p50']} us -> {'PASS' if ok else 'FAIL'}"
    )
    write_json(result_path("tick-matches", args.out), {"command": "tick", "rows": [row]})
    return 0
