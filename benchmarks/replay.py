"""What recording costs: one match's tick work with and without a recorder attached.

The match runs in-process at (entities, players) with every player sending an input
every tick, state frames built every snapshot tick (the server's real per-tick work
minus the socket writes), and its CPU time (``time.process_time``) is measured over the
same ticks twice: without a recorder, and recording into a directory with a checkpoint
every ``--checkpoint-s``. The socket writes a real server also pays are left out, so the
share reported is an upper bound of the share of server CPU.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import result_path, write_json
from server.gamedef import load_definition
from server.gamedef.load import override_sync_mode
from server.match.match import Match
from server.replay.recorder import RecordSettings, attach_recorder


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the replay command."""
    p.add_argument("--entities", type=int, default=1000)
    p.add_argument("--players", type=int, default=200)
    p.add_argument("--ticks", type=int, default=600, help="ticks measured per run")
    p.add_argument("--sync", choices=("state", "lockstep"), default="state")
    p.add_argument("--checkpoint-s", type=float, default=10.0)
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")


def run(args: argparse.Namespace, directory: Path | None) -> tuple[float, int, float]:
    """CPU s for ``args.ticks`` ticks, the recording's bytes, CPU s inside the recorder."""
    from dataclasses import replace

    defn = override_sync_mode(load_definition("data/games/arena.toml"), args.sync)
    defn = replace(
        defn,
        max_players=max(defn.max_players, args.players),
        spawns=(replace(defn.spawns[0], count=args.entities),),
    )
    match = Match(defn, "bench", 1)
    recorder = None
    inside = [0.0]
    if directory is not None:
        recorder = attach_recorder(match, RecordSettings(directory, args.checkpoint_s))
        for name in ("tick", "frame"):
            setattr(recorder, name, _timed(getattr(recorder, name), inside))
    seats = [match.join(i, object()) for i in range(args.players)]
    rng = np.random.default_rng(1)
    sticks = rng.uniform(-1, 1, (args.ticks + 10, args.players, 2)).round(2)
    for _ in range(10):
        match.tick()
    t0 = time.process_time()
    for t in range(args.ticks):
        for i, s in enumerate(seats):
            match.receive_input(s, match.sim.tick + 1, sticks[t, i, 0], sticks[t, i, 1])
        match.tick()
    cpu = time.process_time() - t0
    spent = inside[0]
    match.end("benchmark over")
    size = recorder.bytes_written if recorder is not None else 0
    return cpu, size, spent


def _timed(fn: Any, acc: list[float]) -> Any:
    def timed(*a: Any) -> Any:
        t0 = time.process_time()
        try:
            return fn(*a)
        finally:
            acc[0] += time.process_time() - t0

    return timed


def main(args: argparse.Namespace) -> int:
    """Measure both runs (twice, best of), print and write JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        plain = min(run(args, None)[0] for _ in range(2))
        runs = [run(args, Path(tmp) / str(i)) for i in range(2)]
        recorded = min(c for c, _, _ in runs)
        size = runs[0][1]
        inside = min(i for _, _, i in runs)
    seconds = args.ticks / 20
    extra = recorded - plain
    result: dict[str, Any] = {
        "entities": args.entities,
        "players": args.players,
        "sync": args.sync,
        "ticks": args.ticks,
        "cpu_s_plain": plain,
        "cpu_s_recorded": recorded,
        "recording_cpu_share": extra / plain if plain else 0.0,
        "cpu_s_inside_recorder": inside,
        "recorder_share": inside / recorded if recorded else 0.0,
        "bytes_per_s_of_game": size / seconds,
        "load_average": os.getloadavg()[0],
    }
    print(
        f"({args.entities}, {args.players}) {args.sync}: {plain / args.ticks * 1e3:.2f} ms/tick, "
        f"recorded run {recorded / args.ticks * 1e3:.2f} ms/tick (difference "
        f"{100 * result['recording_cpu_share']:+.1f} %, noise included); inside the recorder "
        f"{inside / args.ticks * 1e3:.3f} ms/tick = {100 * result['recorder_share']:.2f} % of the "
        f"match's CPU; {size / seconds / 1024:.1f} KiB/s of game; load {result['load_average']:.1f}"
    )
    write_json(result_path("replay", args.out), result)
    return 0
