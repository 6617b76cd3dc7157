"""``python -m benchmarks tick --matches N``: many small matches ticked in process.

Builds N :class:`~server.match.match.Match` objects of the small-match definition of
:mod:`benchmarks.workload` (``--players-per-match`` seated players with opaque
connections, ``--entities-per-match`` NPCs, a world every player sees whole), then per
round gives every seated player one input stamped for the next tick and ticks every
match, as the server's scheduler does, minus the sockets: the state frames are built and
encoded but not sent. Two ways side by side: per match, and batched (one step of all
matches, :mod:`server.core.batch`). Reports the amortised cost per match-tick (round
time / N) in µs, p50/p99 over rounds and the mean, and its parts: inputs (every
player's input received, then each match's taken: the host's side), the simulation
step, and the frames (built and encoded); also in CPU time of the process (less
disturbed when the core is shared). The parts' p50s need not add up to the whole's.
Bar (issue 15): <= 40 µs, batched.
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
from server.core.batch.stepper import step_batch
from server.core.frame import InputBatch
from server.errors import SystemFailed
from server.gamedef import GameDefinition, load_definition
from server.match.batch_frames import finish_batch
from server.match.batch_inputs import Taken, take_batch
from server.match.match import Match, TickOutput

BAR_US_PER_MATCH_TICK = 40.0


def build(game: str, layout: Layout) -> list[Match]:
    """``layout.matches`` running matches, each with its players seated."""
    with tempfile.TemporaryDirectory(prefix="tickwire-tick-") as tmp:
        defn = load_definition(write_definition(game, layout.npcs, None, Path(tmp), layout))
    return seated_matches(defn, layout)


def seated_matches(defn: GameDefinition, layout: Layout) -> list[Match]:
    """``layout.matches`` started matches of ``defn``, ``layout.players`` seated in each
    (player ids 1, 2, … across matches; opaque connections)."""
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


def measure(matches: list[Match], args: argparse.Namespace, batched: bool) -> dict[str, Any]:
    """Time ``args.ticks`` rounds (after ``args.warmup``): step part and whole round."""
    n = len(matches)
    players = max(len([s for s in m.seats if s is not None]) for m in matches)
    rng = np.random.default_rng(1)
    sticks = rng.uniform(-1, 1, (args.ticks + args.warmup, players, 2)).tolist()
    seats = [[s for s in m.seats if s is not None] for m in matches]
    rounds: list[float] = []
    takes: list[float] = []
    steps: list[float] = []
    cpu: list[float] = []
    take_cpu: list[float] = []
    step_cpu: list[float] = []
    frames = 0
    for k in range(args.warmup + args.ticks):
        t0 = time.perf_counter()
        c0 = time.process_time()
        for m, seated in zip(matches, seats, strict=True):
            nxt = m.tick_count + 1
            for seat, (x, y) in zip(seated, sticks[k], strict=False):
                m.receive_input(seat, nxt, x, y)
        if batched:  # as the scheduler takes them (server.match.batch_inputs)
            inputs = [_inputs(taken) for taken in take_batch(matches)]
        else:
            inputs = [m.take_inputs() for m in matches]
        t1 = time.perf_counter()
        c1 = time.process_time()
        if batched:
            results = step_batch([m.sim for m in matches], inputs)
        else:
            results = [m.sim.step(batch) for m, batch in zip(matches, inputs, strict=True)]
        t2 = time.perf_counter()
        c2 = time.process_time()
        if batched:
            outs = finish_batch(matches, inputs, results)
        else:
            outs = []
            for m, batch, result in zip(matches, inputs, results, strict=True):
                assert not isinstance(result, SystemFailed)
                outs.append(m.finish_tick(batch, result))
        for out in outs:
            assert isinstance(out, TickOutput), out
            frames += len(out.frames)
        if k >= args.warmup:
            rounds.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            takes.append(t1 - t0)
            take_cpu.append(c1 - c0)
            steps.append(t2 - t1)
            step_cpu.append(c2 - c1)
    per_match_us = [1e6 * r / n for r in rounds]
    step_us = [1e6 * r / n for r in steps]
    frames_us = [1e6 * (r - a - b) / n for r, a, b in zip(rounds, takes, steps, strict=True)]
    frames_cpu = [1e6 * (r - a - b) / n for r, a, b in zip(cpu, take_cpu, step_cpu, strict=True)]
    return {
        "mode": "batched" if batched else "per-match",
        "us_per_match_tick_p50": round(percentile(per_match_us, 50), 1),
        "us_per_match_tick_p99": round(percentile(per_match_us, 99), 1),
        "us_per_match_tick_mean": round(sum(per_match_us) / len(per_match_us), 1),
        "step_us_per_match_tick_p50": round(percentile(step_us, 50), 1),
        # The players' inputs received and taken (the host's side), and the frames.
        "inputs_us_per_match_tick_p50": round(percentile([1e6 * t / n for t in takes], 50), 1),
        "frames_us_per_match_tick_p50": round(percentile(frames_us, 50), 1),
        # CPU time of this process (time.process_time): less disturbed by a shared core.
        "cpu_us_per_match_tick_p50": round(percentile([1e6 * c / n for c in cpu], 50), 1),
        "step_cpu_us_per_match_tick_p50": round(percentile([1e6 * c / n for c in step_cpu], 50), 1),
        "inputs_cpu_us_per_match_tick_p50": round(
            percentile([1e6 * c / n for c in take_cpu], 50), 1
        ),
        "frames_cpu_us_per_match_tick_p50": round(percentile(frames_cpu, 50), 1),
        "round_ms_p50": round(percentile([r * 1000 for r in rounds], 50), 3),
        "frames_per_round": frames / (args.warmup + args.ticks),
    }


def _inputs(taken: Taken) -> InputBatch | None:
    if isinstance(taken, Exception):
        raise taken
    return taken


def run(args: argparse.Namespace) -> int:
    """Time the rounds and report (the ``--matches`` branch of ``benchmarks tick``).

    Both ways in one run, on separate but identical sets of matches: per match
    (``Match.tick`` each) and batched as the server steps them
    (:func:`~server.core.batch.stepper.step_batch`, then each match's frames). "step"
    is the simulation alone (inputs written, systems, index), the rest is building and
    encoding the state frames (no sockets).
    """
    layout = Layout(args.matches, args.players_per_match, args.entities_per_match)
    base: dict[str, Any] = {
        "matches": layout.matches,
        "players_per_match": layout.players,
        "entities_per_match": layout.npcs,
        "ticks": args.ticks,
    }
    rows = []
    for batched in (False, True):
        row = {**base, **measure(build(args.game, layout), args, batched)}
        rows.append(row)
        print(
            f"{layout.matches} matches x {layout.players} players x {layout.npcs} NPCs, "
            f"{row['mode']}: {row['us_per_match_tick_p50']} us per match-tick p50 "
            f"(p99 {row['us_per_match_tick_p99']}, mean {row['us_per_match_tick_mean']}; "
            f"inputs {row['inputs_us_per_match_tick_p50']}, "
            f"step {row['step_us_per_match_tick_p50']}, "
            f"frames {row['frames_us_per_match_tick_p50']}); "
            f"one round of all matches {row['round_ms_p50']} ms; CPU time "
            f"{row['cpu_us_per_match_tick_p50']} us (inputs "
            f"{row['inputs_cpu_us_per_match_tick_p50']}, step "
            f"{row['step_cpu_us_per_match_tick_p50']}, frames "
            f"{row['frames_cpu_us_per_match_tick_p50']})",
            flush=True,
        )
    alone, row = rows
    ok = row["us_per_match_tick_p50"] <= BAR_US_PER_MATCH_TICK
    whole = alone["us_per_match_tick_p50"] / max(row["us_per_match_tick_p50"], 1e-9)
    step = alone["step_us_per_match_tick_p50"] / max(row["step_us_per_match_tick_p50"], 1e-9)
    cpu_whole = alone["cpu_us_per_match_tick_p50"] / max(row["cpu_us_per_match_tick_p50"], 1e-9)
    cpu_step = alone["step_cpu_us_per_match_tick_p50"] / max(
        row["step_cpu_us_per_match_tick_p50"], 1e-9
    )
    print(f"CPU time, batched vs per match: the tick x{cpu_whole:.1f}, the step x{cpu_step:.1f}")
    print(
        f"bar: amortised cost per match-tick <= {BAR_US_PER_MATCH_TICK} us (batched): "
        f"{row['us_per_match_tick_p50']} us -> {'PASS' if ok else 'FAIL'} "
        f"(x{whole:.1f} faster than per match; the step alone x{step:.1f})"
    )
    write_json(result_path("tick-matches", args.out), {"command": "tick", "rows": rows})
    return 0
