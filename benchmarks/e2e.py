"""``python -m benchmarks e2e``: the real server under real bots, against QUALITY.md's bars.

Runs ``python -m server`` pinned to core 0 and ``python -m client_sim`` pinned to core 1
(``taskset``, when there are two cores), waits for the ramp-up and warm-up, then over a
steady window measures:

- the server's CPU in core-seconds per second (user + system, from the process's CPU-time
  clock, to the nanosecond, as the kernel accounts it) and its RSS;
- snapshots (or lockstep frames) per second per client, state age and RTT (from the bots'
  report), bytes per client per second, bytes per changed entity (server metrics);
- the per-message floor, in the same invocation: ``benchmarks.floor_server`` (the same
  websockets library and event loop writing a prebuilt frame of the same size to each
  client and reading their inputs without decoding) under the same bots, and the ratio
  of Tickwire's CPU per message to the floor's.

It prints each figure against its bar with PASS/FAIL (the bars and the report are in
:mod:`benchmarks.e2e_bars`) and writes JSON to ``benchmarks/results/``. Example::

    python -m benchmarks e2e --sync state --entities 5000 --clients 200 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import result_path, write_json
from benchmarks.e2e_bars import AGREEMENT as AGREEMENT
from benchmarks.e2e_bars import CPU_BARS as CPU_BARS
from benchmarks.e2e_bars import judge, print_result
from benchmarks.probe import (
    ROOT,
    cpu_seconds,
    histogram_quantiles,
    late_ticks,
    memory_mb,
    metric_sum,
    minor_faults,
    pin,
    read_json,
    scrape,
    start_listening,
    stop,
)
from benchmarks.workload import Layout, write_definition
from server.config import DEFAULT_GAME


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the e2e command."""
    p.add_argument("--sync", choices=("state", "lockstep"), default="state")
    p.add_argument("--entities", type=int, default=5000, help="NPCs (M)")
    p.add_argument("--clients", type=int, default=200, help="bots (N)")
    p.add_argument(
        "--matches",
        type=int,
        default=None,
        help="many small matches instead of one arena: this many (clients = matches x players)",
    )
    p.add_argument("--players-per-match", type=int, default=8, help="with --matches")
    p.add_argument("--entities-per-match", type=int, default=50, help="NPCs per match")
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds after ramp-up")
    p.add_argument("--ramp-up", type=float, default=None, help="default: clients/100 s, >= 2")
    p.add_argument("--tick-rate", type=int, default=None, help="override tick+snapshot rate")
    p.add_argument("--procs", type=int, default=1, help="bot processes")
    p.add_argument("--behaviour", default="wander")
    p.add_argument("--no-floor", action="store_true", help="skip the per-message floor run")
    p.add_argument(
        "--floor-stack",
        choices=("lean", "websockets"),
        default="lean",
        help="the floor's transport: the gateway's lean path (as the server's default) "
        "or websockets' own (as --no-lean-receive)",
    )
    p.add_argument("--no-pin", action="store_true", help="do not use taskset")
    p.add_argument("--game", default=str(DEFAULT_GAME))
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")


# -- one measured run ----------------------------------------------------------------------


@dataclass
class Window:
    """Samples at the start and end of the steady window."""

    t: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)
    """The server's minor page faults (:func:`~benchmarks.probe.minor_faults`)."""
    core: list[list[int]] = field(default_factory=list)
    """The server core's /proc/stat times (:func:`core_times`)."""
    metrics: list[dict[str, float]] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    """The server's RSS at every whole second of the window, its ends included: the
    heap trim (server/ops/memory.py) makes RSS saw-tooth over ~10 s, so one sample at
    the end says little on its own."""


def core_times(core: int) -> list[int]:
    """``[busy, softirq + irq, steal, total]`` clock ticks of ``core`` from /proc/stat
    (busy: everything but idle and iowait, whoever ran: the server, other processes,
    interrupts). Empty where there is no /proc/stat."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        name, *rest = line.split()
        if name == f"cpu{core}":
            v = [int(x) for x in rest[:8]]
            total = sum(v)
            return [total - v[3] - v[4], v[5] + v[6], v[7], total]
    return []


def core_share(window: Window) -> dict[str, float] | None:
    """Over the window, the share of the server's core that was busy, in interrupts
    (softirq: loopback TCP is processed there, not charged to the process with IRQ time
    accounting) and stolen by the hypervisor; None without /proc/stat."""
    if len(window.core) < 2 or not window.core[0] or not window.core[1]:
        return None
    d = [b - a for a, b in zip(window.core[0], window.core[1], strict=True)]
    if d[3] <= 0:
        return None
    return {k: round(v / d[3], 3) for k, v in zip(("busy", "irq", "steal"), d, strict=False)}


async def measure_under_bots(
    server_pid: int,
    url: str,
    http_url: str | None,
    args: argparse.Namespace,
    report_path: Path,
    game: Path,
) -> tuple[Window, dict[str, Any]]:
    """Run the bots against ``url``; sample the server over the steady window."""
    ramp = args.ramp_up if args.ramp_up is not None else max(2.0, args.clients / 100)
    # The bots print a progress line at each whole second of their clock and the server is
    # sampled when the line arrives, so the window starts and ends on whole seconds, and
    # the bots count exactly those seconds (--window), then play on so no close falls
    # inside it.
    start_at = math.ceil(ramp + args.warmup)
    end_at = start_at + max(1, round(args.duration))
    cmd = [
        *pin(1, not args.no_pin),
        sys.executable,
        "-m",
        "client_sim",
        "--url",
        url,
        "--bots",
        str(args.clients),
        "--duration",
        str(end_at - ramp + 1.5),  # slack: the window closes first
        "--warmup",
        str(start_at - ramp),
        "--window",
        str(end_at - start_at),
        "--ramp-up",
        str(ramp),
        "--behaviour",
        args.behaviour,
        "--procs",
        str(args.procs),
        "--game",
        str(game),
        "--report",
        str(report_path),
        *getattr(args, "bot_args", ()),  # e.g. --staleness (benchmarks.matrix's budget case)
    ]
    bots = await asyncio.create_subprocess_exec(
        *cmd, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert bots.stdout is not None
    window = Window()
    last_line = ""
    try:
        while True:
            raw = await bots.stdout.readline()
            if not raw:
                break
            line = raw.decode().rstrip()
            m = re.match(r"\[\s*(\d+)s\]", line)
            if m is None:
                continue
            last_line = line
            t = int(m.group(1))
            print(f"  {line[:150]}", flush=True)
            if start_at <= t <= end_at and len(window.t) < 2:
                window.rss_mb.append(memory_mb(server_pid)[0])
            if (not window.t and t >= start_at) or (len(window.t) == 1 and t >= end_at):
                window.t.append(time.monotonic())
                window.cpu.append(cpu_seconds(server_pid))
                window.faults.append(minor_faults(server_pid))
                window.core.append(core_times(0))
                if http_url:
                    window.metrics.append(scrape(http_url))
    finally:
        if bots.returncode is None and len(window.t) < 2:
            bots.kill()  # a failed window must not leave bots loading the next case
    await bots.wait()
    if len(window.t) < 2:
        raise RuntimeError(f"the bots ended before the window closed (last: {last_line!r})")
    return window, read_json(report_path)


async def run_case(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """The Tickwire run and (unless ``--no-floor``) the floor run; all figures."""
    layout = layout_of(args)
    game = write_definition(args.game, args.entities, args.tick_rate, folder, layout)
    server_cmd = [
        *pin(0, not args.no_pin),
        sys.executable,
        "-m",
        "server",
        "--game",
        str(game),
        "--port",
        "0",
        "--sync",
        args.sync,
        "--max-connections",
        str(args.clients + 100),
        "--max-matches",
        str(layout.matches + 8 if layout else 64),
        "--log-format",
        "json",
        "--log-level",
        "warning",
        "--drain-grace-s",
        "0",  # the window is closed when we stop it: no need to wait for dropped seats
    ]
    shape = f"matches={layout.name}" if layout else f"entities={args.entities}"
    print(f"e2e {args.sync} {shape} clients={args.clients}", flush=True)
    server, url = await start_listening(server_cmd, r"listening on (ws://\S+)")
    http_url = url.rsplit("/", 1)[0].replace("ws://", "http://")
    try:
        window, bots = await measure_under_bots(
            server.pid, url, http_url, args, folder / "bots.json", game
        )
        rss, hwm = memory_mb(server.pid)
    finally:
        await stop(server)
    dt = window.t[1] - window.t[0]
    cpu = (window.cpu[1] - window.cpu[0]) / dt
    m0, m1 = window.metrics

    def delta(name: str, **labels: str) -> float:
        return metric_sum(m1, name, **labels) - metric_sum(m0, name, **labels)

    frame_type = "state" if args.sync == "state" else "lockstep_frame"
    frames_out = delta("tickwire_messages_sent_total", type=frame_type)
    frame_bytes = delta("tickwire_sent_bytes_total", type=frame_type)
    msgs = delta("tickwire_messages_sent_total") + delta("tickwire_messages_received_total")
    changed = delta("tickwire_state_entities_changed_total")
    # The server's own count of frames sent, per connected client: what the bots' figure
    # must agree with (a disagreement is a measuring fault on one side or the other).
    server_clients = metric_sum(m1, "tickwire_clients_connected")
    server_rate = frames_out / dt / server_clients if server_clients else 0.0
    rate_hz = args.tick_rate or 20
    rss_seen = window.rss_mb or [rss]  # no progress line in the window: the end sample
    late, late_bound_s = late_ticks(m0, m1, "tickwire_tick_lateness_seconds", 1.0 / rate_hz)
    result: dict[str, Any] = {
        "sync": args.sync,
        "entities": args.entities,
        "clients": args.clients,
        "layout": (
            {"matches": layout.matches, "players": layout.players, "npcs": layout.npcs}
            if layout
            else None
        ),
        "server_matches": metric_sum(m1, "tickwire_matches", state="running"),
        "bot_procs": args.procs,
        "tick_rate_hz": rate_hz,
        "window_s": round(dt, 2),
        "server_cpu_core_s_per_s": round(cpu, 4),
        "server_core": core_share(window),
        "server_rss_mb": round(rss, 1),
        "server_rss_median_mb": round(statistics.median(rss_seen), 1),
        "server_rss_max_mb": round(max(rss_seen), 1),
        "server_rss_window_mb": [round(v, 1) for v in window.rss_mb],
        "server_peak_rss_mb": round(hwm, 1),
        "server_minor_faults_per_s": round((window.faults[1] - window.faults[0]) / dt, 1),
        "rate_per_client": bots["rate_per_bot"],
        "server_frames_per_client_per_s": round(server_rate, 3),
        "server_clients": server_clients,
        "max_messages_per_client_per_s": bots.get("max_messages_per_bot_per_s"),
        "max_frames_per_client_per_s": bots.get("max_frames_per_bot_per_s"),
        "connected": bots["connected"],
        "state_age_ms": bots["state_age_ms"],
        "rtt_ms": bots["rtt_ms"],
        "bytes_per_client_per_s": bots["bytes_in_per_bot_per_s"],
        "bytes_per_client_per_s_max": bots.get("bytes_in_per_bot_per_s_max"),
        "staleness": bots.get("staleness"),
        "bytes_per_changed_entity": round(frame_bytes / changed, 2) if changed else None,
        "implicit_frame_share": (
            round(delta("tickwire_state_frames_implicit_total") / frames_out, 3)
            if args.sync == "state" and frames_out
            else None
        ),
        "frame_bytes_mean": round(frame_bytes / frames_out, 1) if frames_out else 0.0,
        "messages_per_s": round(msgs / dt, 1),
        "cpu_us_per_message": round(1e6 * cpu / (msgs / dt), 2) if msgs else None,
        "ticks_overrun": delta("tickwire_ticks_overrun_total"),
        "ticks_skipped": delta("tickwire_ticks_skipped_total"),
        "late_ticks": late,
        "late_tick_bound_ms": round(late_bound_s * 1000, 3),
        "snapshots_dropped": delta("tickwire_snapshots_dropped_total"),
        "rate_limited": delta("tickwire_rate_limited_total"),
        "bot_close_codes": bots["close_codes"],
        "bot_errors": bots["errors"],
    }
    for key, metric, extra in (
        ("tick_lateness_ms", "tickwire_tick_lateness_seconds", {}),
        ("tick_duration_ms", "tickwire_tick_duration_seconds", {"phase": "total"}),
    ):
        qs = histogram_quantiles(m0, m1, metric, (0.5, 0.99), **extra)
        result[key] = {k: round(v * 1000, 3) for k, v in qs.items()} if qs else None
    if not args.no_floor and frames_out:
        try:
            result["floor"] = await run_floor(args, folder, int(frame_bytes / frames_out), game)
        except RuntimeError as exc:  # e.g. starved bots: keep the Tickwire figures
            result["floor_error"] = str(exc)
            print(f"floor run failed: {exc}", flush=True)
        else:
            floor_us = result["floor"]["cpu_us_per_message"]
            if floor_us and result["cpu_us_per_message"]:
                result["floor_ratio"] = round(result["cpu_us_per_message"] / floor_us, 2)
    result["bars"] = judge(result)
    return result


async def run_floor(
    args: argparse.Namespace, folder: Path, frame_bytes: int, game: Path
) -> dict[str, Any]:
    """The same bots against the floor server; its CPU per message."""
    print(f"floor: prebuilt {frame_bytes}-byte frames, same bots", flush=True)
    cmd = [
        *pin(0, not args.no_pin),
        sys.executable,
        "-m",
        "benchmarks.floor_server",
        "--frame-bytes",
        str(frame_bytes),
        "--tick-rate",
        str(args.tick_rate or 20),
        "--stack",
        getattr(args, "floor_stack", "lean"),
    ]
    floor, url = await start_listening(cmd, r"floor listening on (ws://\S+)")
    try:
        window, bots = await measure_under_bots(
            floor.pid, url, None, args, folder / "floor-bots.json", game
        )
    finally:
        await stop(floor)
    dt = window.t[1] - window.t[0]
    cpu = (window.cpu[1] - window.cpu[0]) / dt
    # Messages: frames out plus inputs, pings and acks in (from the bots' own counts).
    per_client = bots["rate_per_bot"]["mean"] * 2 + 1.0 + bots["rate_per_bot"]["mean"] / 10
    msgs_per_s = per_client * bots["connected"]
    return {
        "stack": getattr(args, "floor_stack", "lean"),
        "cpu_core_s_per_s": round(cpu, 4),
        "messages_per_s": round(msgs_per_s, 1),
        "cpu_us_per_message": round(1e6 * cpu / msgs_per_s, 2) if msgs_per_s else None,
        "rate_per_client": bots["rate_per_bot"],
    }


def layout_of(args: argparse.Namespace) -> Layout | None:
    """The many-small-matches layout of ``--matches`` (None: one arena); sets
    ``args.clients`` to one bot per player and ``args.entities`` to the NPCs per match."""
    if args.matches is None:
        return None
    layout = Layout(args.matches, args.players_per_match, args.entities_per_match)
    args.clients = layout.clients
    args.entities = layout.npcs
    return layout


def main(args: argparse.Namespace) -> int:
    """Run one case, print, write JSON. Exit 0 even when a bar fails (it is a measurement)."""
    with tempfile.TemporaryDirectory(prefix="tickwire-e2e-") as tmp:
        result = asyncio.run(run_case(args, Path(tmp)))
    print_result(result)
    name = (
        f"e2e-{args.sync}-{args.matches}x{args.players_per_match}x{args.entities_per_match}"
        if args.matches
        else f"e2e-{args.sync}-{args.entities}x{args.clients}"
    )
    if args.tick_rate:  # a 10 Hz run must not overwrite the same case's 20 Hz figures
        name += f"-{args.tick_rate}hz"
    write_json(result_path(name, args.out), {"result": result})
    return 0
