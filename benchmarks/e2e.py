"""``python -m benchmarks e2e``: the real server under real bots, against QUALITY.md's bars.

Runs ``python -m server`` pinned to core 0 and ``python -m client_sim`` pinned to core 1
(``taskset``, when there are two cores), waits for the ramp-up and warm-up, then over a
steady window measures:

- the server's CPU in core-seconds per second (user + system, from ``/proc/<pid>/stat``,
  as the kernel accounts it) and its RSS;
- snapshots (or lockstep frames) per second per client, state age and RTT (from the bots'
  report), bytes per client per second, bytes per changed entity (server metrics);
- the per-message floor, in the same invocation: ``benchmarks.floor_server`` (the same
  websockets library and event loop writing a prebuilt frame of the same size to each
  client and reading their inputs without decoding) under the same bots, and the ratio
  of Tickwire's CPU per message to the floor's.

It prints each figure against its bar with PASS/FAIL and writes JSON to
``benchmarks/results/``. Example::

    python -m benchmarks e2e --sync state --entities 5000 --clients 200 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from benchmarks.common import result_path, write_json
from server.config import DEFAULT_GAME

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")

# QUALITY.md's table: (sync, entities, clients) -> server CPU bar in core-s/s.
CPU_BARS: dict[tuple[str, int, int], float] = {
    ("state", 5000, 200): 0.20,
    ("state", 1000, 500): 0.30,
    ("state", 1000, 1000): 0.50,
    ("state", 20000, 200): 0.30,
    ("lockstep", 1000, 1000): 0.36,
}
RATE_BAR = 19.5
AGREEMENT = 0.02
"""The bots' frames/s and the server's count of frames sent per client agree this well."""
BYTES_PER_ENTITY_BAR = 6.0
FLOOR_RATIO_BAR = 1.5
RSS_BAR_MB = 80.0  # at (1000, 1000)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the e2e command."""
    p.add_argument("--sync", choices=("state", "lockstep"), default="state")
    p.add_argument("--entities", type=int, default=5000, help="NPCs (M)")
    p.add_argument("--clients", type=int, default=200, help="bots (N)")
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds after ramp-up")
    p.add_argument("--ramp-up", type=float, default=None, help="default: clients/100 s, >= 2")
    p.add_argument("--tick-rate", type=int, default=None, help="override tick+snapshot rate")
    p.add_argument("--procs", type=int, default=1, help="bot processes")
    p.add_argument("--behaviour", default="wander")
    p.add_argument("--no-floor", action="store_true", help="skip the per-message floor run")
    p.add_argument("--no-pin", action="store_true", help="do not use taskset")
    p.add_argument("--game", default=str(DEFAULT_GAME))
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")


# -- processes and /proc -----------------------------------------------------------------


def pin(core: int, enabled: bool) -> list[str]:
    """``taskset -c core`` when asked for and possible (two cores and taskset present)."""
    if enabled and (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(core)]
    return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (fields 14 and 15 of /proc/pid/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_mb(pid: int) -> tuple[float, float]:
    """``(VmRSS, VmHWM)`` of ``pid`` in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def scrape(http_url: str) -> dict[str, float]:
    """Every sample of ``/metrics`` as ``name{labels}`` -> value (labels sorted)."""
    with urllib.request.urlopen(f"{http_url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}"] = s.value
    return out


def metric_sum(samples: dict[str, float], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        have = dict(kv.split("=", 1) for kv in rest.rstrip("}").split(",") if kv)
        if all(have.get(k) == v for k, v in labels.items()):
            total += value
    return total


def histogram_quantiles(
    m0: dict[str, float], m1: dict[str, float], name: str, qs: tuple[float, ...], **labels: str
) -> dict[str, float] | None:
    """Quantiles (same unit as the buckets) of what histogram ``name`` observed between the
    scrapes ``m0`` and ``m1``, summed over labels matching ``labels``, interpolating linearly
    inside a bucket as Prometheus' ``histogram_quantile`` does; None if nothing was observed.
    A quantile in the ``+Inf`` bucket is reported as the highest finite bound."""
    counts: dict[float, float] = {}
    for key, value in m1.items():
        base, _, rest = key.partition("{")
        if base != f"{name}_bucket":
            continue
        have = dict(kv.split("=", 1) for kv in rest.rstrip("}").split(",") if kv)
        if not all(have.get(k) == v for k, v in labels.items()):
            continue
        le = float(have["le"])
        counts[le] = counts.get(le, 0.0) + value - m0.get(key, 0.0)
    bounds = sorted(counts)
    if not bounds or counts[bounds[-1]] <= 0:
        return None
    total = counts[bounds[-1]]
    finite = [b for b in bounds if b != float("inf")]
    out: dict[str, float] = {}
    for q in qs:
        rank = q * total
        lower, below = 0.0, 0.0
        value = finite[-1] if finite else 0.0
        for b in bounds:
            if counts[b] >= rank:
                if b != float("inf"):
                    inside = counts[b] - below
                    frac = (rank - below) / inside if inside > 0 else 1.0
                    value = lower + (b - lower) * frac
                break
            lower, below = b, counts[b]
        out[f"p{round(q * 100):d}"] = value
    return out


async def start_listening(
    cmd: list[str], pattern: str, timeout_s: float = 30.0
) -> tuple[asyncio.subprocess.Process, str]:
    """Start ``cmd`` and wait for a stdout line matching ``pattern`` (group 1 = URL)."""
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout_s)
        if not line:
            break
        m = re.search(pattern, line.decode())
        if m:
            return proc, m.group(1)
    proc.kill()
    raise RuntimeError(f"{cmd[0:4]} did not report its URL")


async def stop(proc: asyncio.subprocess.Process, timeout_s: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file (the bots' report)."""
    data: dict[str, Any] = json.loads(path.read_text())
    return data


# -- definition ---------------------------------------------------------------------------


def write_definition(game: str, entities: int, tick_rate: int | None, folder: Path) -> Path:
    """A copy of the arena with ``entities`` NPCs (and another tick rate, if given)."""
    text = Path(game).read_text()
    text, n = re.subn(
        r'(\[\[spawns\]\]\s*\narchetype = "npc"\s*\ncount = )\d+', rf"\g<1>{entities}", text
    )
    if n != 1:
        raise ValueError(f"{game}: could not find the npc spawn count to replace")
    if entities > 2000:
        text = re.sub(r"initial_capacity = \d+", f"initial_capacity = {entities + 2048}", text)
    if tick_rate is not None:
        text = re.sub(r"tick_rate_hz = \d+", f"tick_rate_hz = {tick_rate}", text)
        text = re.sub(r"snapshot_rate_hz = \d+", f"snapshot_rate_hz = {tick_rate}", text)
    path = folder / "bench-game.toml"
    path.write_text(text)
    return path


# -- one measured run ----------------------------------------------------------------------


@dataclass
class Window:
    """Samples at the start and end of the steady window."""

    t: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    metrics: list[dict[str, float]] = field(default_factory=list)


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
            if (not window.t and t >= start_at) or (len(window.t) == 1 and t >= end_at):
                window.t.append(time.monotonic())
                window.cpu.append(cpu_seconds(server_pid))
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
    game = write_definition(args.game, args.entities, args.tick_rate, folder)
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
        "--log-format",
        "json",
        "--log-level",
        "warning",
        "--drain-grace-s",
        "0",  # the window is closed when we stop it: no need to wait for dropped seats
    ]
    print(f"e2e {args.sync} entities={args.entities} clients={args.clients}", flush=True)
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
    result: dict[str, Any] = {
        "sync": args.sync,
        "entities": args.entities,
        "clients": args.clients,
        "tick_rate_hz": args.tick_rate or 20,
        "window_s": round(dt, 2),
        "server_cpu_core_s_per_s": round(cpu, 4),
        "server_rss_mb": round(rss, 1),
        "server_peak_rss_mb": round(hwm, 1),
        "rate_per_client": bots["rate_per_bot"],
        "server_frames_per_client_per_s": round(server_rate, 3),
        "server_clients": server_clients,
        "connected": bots["connected"],
        "state_age_ms": bots["state_age_ms"],
        "rtt_ms": bots["rtt_ms"],
        "bytes_per_client_per_s": bots["bytes_in_per_bot_per_s"],
        "bytes_per_changed_entity": round(frame_bytes / changed, 2) if changed else None,
        "frame_bytes_mean": round(frame_bytes / frames_out, 1) if frames_out else 0.0,
        "messages_per_s": round(msgs / dt, 1),
        "cpu_us_per_message": round(1e6 * cpu / (msgs / dt), 2) if msgs else None,
        "ticks_overrun": delta("tickwire_ticks_overrun_total"),
        "ticks_skipped": delta("tickwire_ticks_skipped_total"),
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
        result["floor"] = await run_floor(args, folder, int(frame_bytes / frames_out), game)
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
        "cpu_core_s_per_s": round(cpu, 4),
        "messages_per_s": round(msgs_per_s, 1),
        "cpu_us_per_message": round(1e6 * cpu / msgs_per_s, 2) if msgs_per_s else None,
        "rate_per_client": bots["rate_per_bot"],
    }


def judge(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each applicable bar of QUALITY.md with the observed figure and PASS/FAIL."""
    bars: list[dict[str, Any]] = []

    def bar(name: str, observed: Any, target: str, ok: bool) -> None:
        bars.append({"bar": name, "observed": observed, "target": target, "pass": ok})

    cpu_bar = CPU_BARS.get((r["sync"], r["entities"], r["clients"]))
    if cpu_bar is not None:
        cpu = r["server_cpu_core_s_per_s"]
        bar("server CPU core-s/s", cpu, f"<= {cpu_bar}", cpu <= cpu_bar)
    rate = r["rate_per_client"]["min"]
    rate_bar = round(RATE_BAR * r["tick_rate_hz"] / 20, 2)  # 19.5 at the standard 20 Hz
    bar("frames/s per client (min)", rate, f">= {rate_bar}", rate >= rate_bar)
    sent = r.get("server_frames_per_client_per_s")
    if sent:
        agree = round(r["rate_per_client"]["mean"] / sent, 4)
        bar(
            "bots' frames/s (mean) / server's sent per client",
            agree,
            f"within {AGREEMENT:.0%} of 1",
            abs(agree - 1) <= AGREEMENT,
        )
    if "bot_close_codes" in r:
        closes = r["bot_close_codes"]
        bar("bots closed by the server", closes or "none", "none", not closes)
    if r["sync"] == "state" and r["bytes_per_changed_entity"] is not None:
        b = r["bytes_per_changed_entity"]
        bar("bytes per changed entity", b, f"<= {BYTES_PER_ENTITY_BAR}", b <= BYTES_PER_ENTITY_BAR)
    if "floor_ratio" in r:
        ratio = r["floor_ratio"]
        bar("CPU per message / floor", ratio, f"<= {FLOOR_RATIO_BAR}", ratio <= FLOOR_RATIO_BAR)
    if (r["entities"], r["clients"]) == (1000, 1000):
        rss = r["server_rss_mb"]
        bar("server RSS MB", rss, f"<= {RSS_BAR_MB}", rss <= RSS_BAR_MB)
    return bars


def print_result(r: dict[str, Any]) -> None:
    """The figures, then the bars."""
    print(
        f"server CPU {r['server_cpu_core_s_per_s']:.3f} core-s/s  RSS {r['server_rss_mb']} MB  "
        f"frames/s per client mean {r['rate_per_client']['mean']:.2f} "
        f"min {r['rate_per_client']['min']:.2f} "
        f"(server sent {r['server_frames_per_client_per_s']:.2f})  "
        f"state age p50/p99 {r['state_age_ms']['p50']:.1f}/{r['state_age_ms']['p99']:.1f} ms  "
        f"{r['bytes_per_client_per_s']:.0f} B/s per client  "
        f"{r['bytes_per_changed_entity']} B per changed entity  "
        f"{r['cpu_us_per_message']} us CPU per message"
    )
    if "floor" in r:
        print(
            f"floor: {r['floor']['cpu_us_per_message']} us per message "
            f"({r['floor']['cpu_core_s_per_s']:.3f} core-s/s); ratio {r.get('floor_ratio')}"
        )
    for b in r["bars"]:
        verdict = "PASS" if b["pass"] else "FAIL"
        print(f"  {verdict}  {b['bar']}: {b['observed']} (bar {b['target']})")


def main(args: argparse.Namespace) -> int:
    """Run one case, print, write JSON. Exit 0 even when a bar fails (it is a measurement)."""
    with tempfile.TemporaryDirectory(prefix="tickwire-e2e-") as tmp:
        result = asyncio.run(run_case(args, Path(tmp)))
    print_result(result)
    name = f"e2e-{args.sync}-{args.entities}x{args.clients}"
    write_json(result_path(name, args.out), {"result": result})
    return 0
