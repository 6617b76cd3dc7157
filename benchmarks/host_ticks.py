"""``python -m benchmarks host --matches N``: many small matches hosted in process.

What a server spends per match-tick on the host side, without sockets: a real
:class:`~server.hosting.host.Host` (its runner hooks: delivery, observer, overload
controller) and a real :class:`~server.hosting.scheduler.TickScheduler` drive N matches
of the small-match definition of :mod:`benchmarks.workload` (``--players-per-match``
seated players on stand-in connections, ``--entities-per-match`` NPCs, every player sees
its whole match). Time is fake (the scheduler's injected clock): each deadline wakes the
scheduler once, and between deadlines every player gives one input through
``Match.receive_input`` (what the gateway calls after decoding). The transport counts
the frames handed to it instead of writing them; the observer's once-a-second flush runs
every 20 ticks, as the server's sweep does.

Reports CPU time of this process (``time.process_time``: less disturbed when the core is
shared): µs per match-tick of the wake-ups (step, frames, delivery, metrics, scheduling)
and µs per input. Compare two trees in the same run: the host side is everything here
but the step and the frames of :mod:`benchmarks.tick_matches`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import add_heap_argument, apply_heap, percentile, result_path, write_json
from benchmarks.tick_matches import seated_matches
from benchmarks.workload import Layout, write_definition
from server.config import DEFAULT_GAME, ServerConfig
from server.gamedef import load_definition
from server.hosting.host import Host
from server.hosting.runner import MatchRunner
from server.hosting.scheduler import TickScheduler
from server.net.protocol import CloseCode
from server.ops.metrics import Metrics
from server.ops.observer import Observer


class CountingTransport:
    """A transport that counts what it is handed (no sockets)."""

    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0

    def writable(self, conn: Any) -> bool:
        return True

    def send_each(self, frames: list[tuple[Any, bytes]]) -> tuple[int, int]:
        size = sum(len(p) for _, p in frames)
        self.frames += len(frames)
        self.bytes += size
        return len(frames), size

    def send_shared(self, conns: list[Any], payload: bytes, limit_bytes: int) -> int:
        self.frames += len(conns)
        return len(conns)

    def close_soon(self, conn: Any, code: CloseCode, reason: str | None = None) -> None:
        pass

    def close_seat(self, seat: Any, code: CloseCode, reason: str) -> None:
        pass


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the host command."""
    p.add_argument("--matches", type=int, default=100)
    p.add_argument("--players-per-match", type=int, default=8)
    p.add_argument("--entities-per-match", type=int, default=50)
    p.add_argument("--sync", choices=("state", "lockstep"), default="state")
    p.add_argument("--ticks", type=int, default=200, help="deadlines measured")
    p.add_argument("--warmup", type=int, default=20, help="deadlines before measuring")
    p.add_argument("--game", default=str(DEFAULT_GAME), help="the definition to shrink")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")
    add_heap_argument(p)


async def _drive(args: argparse.Namespace) -> dict[str, Any]:
    layout = Layout(args.matches, args.players_per_match, args.entities_per_match)
    with tempfile.TemporaryDirectory(prefix="tickwire-host-") as tmp:
        path = write_definition(args.game, layout.npcs, None, Path(tmp), layout)
        defn = load_definition(path)
    if args.sync != defn.sync.mode:
        from dataclasses import replace

        defn = replace(defn, sync=replace(defn.sync, mode=args.sync))
    kind = f"{defn.name}/{defn.sync.mode}"
    observer = Observer(Metrics(), kind, 50.0)
    transport = CountingTransport()
    host = Host(ServerConfig(), defn, observer, transport)
    clock = [0.0]
    dt = defn.dt_s
    tick_cpu: list[float] = []
    input_cpu: list[float] = []
    wakeups = [0]
    rng = np.random.default_rng(1)
    matches = seated_matches(defn, layout)
    seats = [[s for s in m.seats if s is not None] for m in matches]
    done = asyncio.Event()
    mark = [time.process_time()]

    # Stamped as a client does: state sync the next tick, lockstep the current frame plus
    # the input delay (docs/protocol.md), so every input is accepted.
    ahead = defn.lockstep.input_delay_ticks if defn.sync.mode == "lockstep" else 1

    def give_inputs() -> None:
        sticks = rng.uniform(-1, 1, (layout.players, 2)).tolist()
        c0 = time.process_time()
        for m, seated in zip(matches, seats, strict=True):
            nxt = m.tick_count + ahead
            for seat, (x, y) in zip(seated, sticks, strict=False):
                m.receive_input(seat, nxt, x, y)
        if wakeups[0] >= args.warmup:
            input_cpu.append(time.process_time() - c0)

    def perf() -> float:
        return clock[0]

    async def sleep(d: float) -> None:
        if d > 0:  # between deadlines: the wake-up that just ended is measured
            now = time.process_time()
            if wakeups[0] > args.warmup:
                tick_cpu.append(now - mark[0])
            wakeups[0] += 1
            if wakeups[0] % 20 == 0:
                observer.flush_counters()
            if wakeups[0] > args.warmup + args.ticks:
                done.set()
            give_inputs()
            clock[0] += d
            mark[0] = time.process_time()
        else:
            clock[0] += 1e-4  # a zero sleep: one pass of the loop (~0.1 ms: 10 per spin)
        await asyncio.sleep(0)

    sched = TickScheduler(3, spin_s=0.001, perf=perf, sleep=sleep)
    for m in matches:
        sched.add(MatchRunner(m, host, perf=perf))
    await done.wait()
    for r in [r for s in sched.schedules.values() for r in s.runners]:
        r.stop()
    await asyncio.gather(*sched.tasks())
    n = layout.matches
    per_tick = [1e6 * c / n for c in tick_cpu]
    per_input = [1e6 * c / (n * layout.players) for c in input_cpu]
    return {
        "matches": n,
        "players_per_match": layout.players,
        "npcs_per_match": layout.npcs,
        "sync": defn.sync.mode,
        "deadlines": len(tick_cpu),
        "dt_s": dt,
        "cpu_us_per_match_tick_p50": round(percentile(per_tick, 50), 1),
        "cpu_us_per_match_tick_mean": round(sum(per_tick) / len(per_tick), 1),
        "cpu_us_per_input_p50": round(percentile(per_input, 50), 3),
        "frames_handed": transport.frames,
        "batched_ticks": sched.batched_ticks,
    }


def main(args: argparse.Namespace) -> int:
    """Run, print, write JSON."""
    apply_heap(args.heap_retain_mb)
    r = asyncio.run(_drive(args))
    print(
        f"host {r['sync']} {r['matches']} x {r['players_per_match']} x {r['npcs_per_match']}: "
        f"{r['cpu_us_per_match_tick_p50']} us CPU per match-tick (p50; mean "
        f"{r['cpu_us_per_match_tick_mean']}), {r['cpu_us_per_input_p50']} us per input, "
        f"{r['frames_handed']} frames over {r['deadlines']} deadlines"
    )
    name = f"host-{r['sync']}-{r['matches']}x{r['players_per_match']}x{r['npcs_per_match']}"
    write_json(result_path(name, args.out), {"result": r})
    return 0
