"""``python -m benchmarks metrics``: what Prometheus instrumentation costs the server.

Times, on a real :class:`~server.app.TickwireServer`'s own metric objects, exactly the
calls the server makes: per tick, :meth:`Host.observe_tick` (observer and overload
controller) with a real ``FrameResult`` of the arena (every phase and system histogram,
lateness, counters, the degradation controller) and the send-side calls of
``Host.deliver``, both kept as plain lists and counts until the once-a-second flush adds
them to Prometheus in bulk; per client message, the receive loop's plain counts (added
to the Prometheus counters once a second and on every scrape; the flush is timed too).
It multiplies those costs by the standard workload's rates (20 ticks/s; each client
sends 20 inputs/s and gets 20 frames/s) and prints the overhead in core-seconds per
second and as a share of a measured server CPU (``--server-cpu``, e.g. from
``benchmarks e2e``). "Metrics off" is the same server minus these calls, so this is the
on-minus-off difference measured directly, without the noise of two end-to-end runs on
a shared machine.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.common import result_path, write_json
from server.app import TickwireServer
from server.config import ServerConfig
from server.core.clock import DueTick
from server.core.sync.state import StateFrameStats
from server.match.match import Match
from server.net.protocol import MessageType
from server.ops.metrics import Metrics


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the metrics command."""
    p.add_argument("--clients", type=int, default=1000, help="clients for the per-s figure")
    p.add_argument("--tick-rate", type=int, default=20)
    p.add_argument("--repeat", type=int, default=20000, help="calls timed per kind")
    p.add_argument("--server-cpu", type=float, default=None, help="core-s/s to compare with")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")


def _per_call_s(fn: object, repeat: int) -> float:
    call = fn  # a zero-argument callable
    assert callable(call)
    for _ in range(min(1000, repeat)):
        call()
    t0 = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - t0) / repeat


def main(args: argparse.Namespace) -> int:
    """Time the calls, scale them to the workload, print and write JSON."""
    server = TickwireServer(ServerConfig(), metrics=Metrics())
    match = Match(server.definition, "m1")
    match.sim.spawn_initial()
    out = match.tick()
    due = DueTick(out.tick, 0.0, 0.0002)
    tick_s = _per_call_s(lambda: server.host.observe_tick(match, due, out, 0.004), args.repeat)
    observer = server.observer
    stats = StateFrameStats(entered=0, changed=50 * args.clients)

    def deliver_counters() -> None:
        observer.state_sent(args.clients, 300 * args.clients, stats)
        observer.send_time(0.001)

    send_s = _per_call_s(deliver_counters, args.repeat)
    counts = observer.in_counts

    def receive_counters() -> None:
        # What the receive loop does per message: plain counts, flushed once a second.
        counts[MessageType.INPUT] += 1
        observer.in_bytes += 20

    msg_s = _per_call_s(receive_counters, args.repeat)

    def flush() -> None:
        counts[MessageType.INPUT] += 20
        observer.in_bytes += 400
        observer.flush_counters()

    flush_s = _per_call_s(flush, args.repeat)
    per_s = args.tick_rate * (tick_s + send_s) + args.tick_rate * args.clients * msg_s + flush_s
    result = {
        "observe_tick_us": round(tick_s * 1e6, 2),
        "deliver_counters_us": round(send_s * 1e6, 2),
        "per_message_us": round(msg_s * 1e6, 3),
        "flush_per_s_us": round(flush_s * 1e6, 2),
        "clients": args.clients,
        "tick_rate_hz": args.tick_rate,
        "overhead_core_s_per_s": round(per_s, 5),
    }
    print(
        f"per tick: observe_tick {tick_s * 1e6:.1f} us + send counters {send_s * 1e6:.1f} us; "
        f"per client message {msg_s * 1e6:.2f} us"
    )
    print(f"at {args.clients} clients, {args.tick_rate} Hz: metrics cost {per_s:.4f} core-s/s")
    if args.server_cpu:
        share = per_s / args.server_cpu
        result["share_of_server_cpu"] = round(share, 4)
        print(f"= {100 * share:.2f}% of the measured {args.server_cpu} core-s/s")
    write_json(result_path("metrics", args.out), {"result": result})
    return 0
