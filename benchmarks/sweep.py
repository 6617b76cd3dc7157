"""``python -m benchmarks sweep``: one match at several tick rates, CPU, lateness, frames.

Runs the same e2e case (state sync by default; the definition's tick and snapshot rates
both set to each rate in turn; no floor run) through :func:`benchmarks.e2e.run_case`,
with the server pinned to core 0 and the bots to core 1. Per rate it records the
server's CPU (core-s/s, from ``/proc``), frames/s per client as the bots counted them
(min and mean) next to the server's own count of frames sent per connected client (from
``tickwire_messages_sent_total`` over the same seconds), ticks skipped, and the p50/p99
of tick start lateness and of whole-tick duration, estimated from the deltas of the
server's ``tickwire_tick_lateness_seconds`` and ``tickwire_tick_duration_seconds{phase=
"total"}`` histogram buckets over the steady window (linear inside a bucket, so a figure
is only as fine as the bucket it falls in). The ``behind`` column names the side that
fell behind the rate (see :func:`behind`). Writes JSON and one PNG (CPU, lateness and
frames/s against rate). QUALITY.md's bar: lateness p99 < 1 ms at 20-60 Hz on an idle
machine. Example::

    python -m benchmarks sweep --rates 10,20,30,60,128 --entities 1000 --clients 100
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks import plots
from benchmarks.common import result_path, write_json
from benchmarks.e2e import AGREEMENT
from benchmarks.matrix import case_args, run_one
from server.config import DEFAULT_GAME

LATENESS_P99_BAR_MS = 1.0
SERVER_HOLDS = 0.99
"""The server holds a rate when it sends at least this share of its frames per client."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the sweep command."""
    p.add_argument("--rates", default="10,20,30,60,128", help="tick rates in Hz, comma-separated")
    p.add_argument("--sync", choices=("state", "lockstep"), default="state")
    p.add_argument("--entities", type=int, default=1000, help="NPCs (M)")
    p.add_argument("--clients", type=int, default=100, help="bots (N)")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per rate")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds after ramp-up")
    p.add_argument("--ramp-up", type=float, default=None, help="default: clients/100 s, >= 2")
    p.add_argument("--procs", type=int, default=1, help="bot processes")
    p.add_argument("--no-pin", action="store_true", help="do not use taskset")
    p.add_argument("--no-plots", action="store_true", help="write the JSON only")
    p.add_argument("--game", default=str(DEFAULT_GAME))
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")


def row_of(rate: int, r: dict[str, Any]) -> dict[str, Any]:
    """The figures of one rate."""
    if "error" in r:
        return {"rate_hz": rate, "error": r["error"]}
    late = r.get("tick_lateness_ms") or {}
    dur = r.get("tick_duration_ms") or {}
    return {
        "rate_hz": rate,
        "server_cpu_core_s_per_s": r["server_cpu_core_s_per_s"],
        "frames_per_client_min": r["rate_per_client"]["min"],
        "frames_per_client_mean": r["rate_per_client"]["mean"],
        "server_frames_per_client": r["server_frames_per_client_per_s"],
        "behind": behind(rate, r),
        "lateness_p50_ms": late.get("p50"),
        "lateness_p99_ms": late.get("p99"),
        "tick_p50_ms": dur.get("p50"),
        "tick_p99_ms": dur.get("p99"),
        "ticks_overrun": r["ticks_overrun"],
        "ticks_skipped": r["ticks_skipped"],
        "snapshots_dropped": r["snapshots_dropped"],
        "bot_close_codes": r["bot_close_codes"],
    }


def behind(rate: int, r: dict[str, Any]) -> str:
    """Which side fell behind the rate: ``"server"`` (it sent fewer than 99% of the
    frames: ticks skipped or snapshots dropped), ``"bots"`` (they received fewer than 98%
    of what the server sent them, or were closed), both, or ``""`` when neither did."""
    sides = []
    sent = r["server_frames_per_client_per_s"]
    if sent < SERVER_HOLDS * rate:
        sides.append("server")
    if r["bot_close_codes"] or r["rate_per_client"]["min"] < (1 - AGREEMENT) * sent:
        sides.append("bots")
    return "+".join(sides)


def _behind_sentence(r: dict[str, Any]) -> str:
    parts = []
    if "server" in r["behind"]:
        parts.append(
            f"the server fell behind: sent {r['server_frames_per_client']:.2f} frames/s per "
            f"client ({r['ticks_skipped']:.0f} ticks skipped, "
            f"{r['snapshots_dropped']:.0f} snapshots dropped)"
        )
    if "bots" in r["behind"]:
        closes = r["bot_close_codes"]
        parts.append(
            f"the bots fell behind: min {r['frames_per_client_min']:.2f} frames/s of "
            f"{r['server_frames_per_client']:.2f} sent"
            + (f", closed by the server {closes}" if closes else "")
        )
    return "; ".join(parts)


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def main(args: argparse.Namespace) -> int:
    """Run each rate, write JSON and the plot, print a table. 1 if a rate errored."""
    rates = [int(x) for x in args.rates.split(",") if x.strip()]
    args.no_floor = True
    rows: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    started = time.monotonic()
    for i, rate in enumerate(rates, 1):
        print(f"rate {i}/{len(rates)}: {rate} Hz, {args.sync} {args.entities}x{args.clients} ...")
        ns = case_args(args, (args.sync, args.entities, args.clients), tick_rate=rate)
        r = run_one(ns)
        cases.append(r)
        rows.append(row_of(rate, r))
    path = result_path("sweep", args.out)
    write_json(
        path,
        {
            "command": "sweep",
            "sync": args.sync,
            "entities": args.entities,
            "clients": args.clients,
            "duration_s": args.duration,
            "elapsed_s": round(time.monotonic() - started, 1),
            "rows": rows,
            "cases": cases,
        },
    )
    ok = [r for r in rows if "error" not in r]
    if args.no_plots:
        pass
    elif plots.available():
        png = plots.panels(
            plots.png_path(path, "cpu-lateness-frames-vs-rate"),
            f"{args.sync} sync, {args.entities} entities, {args.clients} clients",
            "tick rate, Hz",
            [
                (
                    "server CPU, core-s/s",
                    {"server CPU": [(r["rate_hz"], r["server_cpu_core_s_per_s"]) for r in ok]},
                ),
                (
                    "tick start lateness, ms",
                    {
                        q: [
                            (r["rate_hz"], r[f"lateness_{q}_ms"])
                            for r in ok
                            if r[f"lateness_{q}_ms"] is not None
                        ]
                        for q in ("p50", "p99")
                    },
                ),
                (
                    "frames/s per client",
                    {
                        "server sent": [(r["rate_hz"], r["server_frames_per_client"]) for r in ok],
                        "bots received (min)": [
                            (r["rate_hz"], r["frames_per_client_min"]) for r in ok
                        ],
                        "tick rate": [(r["rate_hz"], r["rate_hz"]) for r in ok],
                    },
                ),
            ],
        )
        print(f"wrote {png}")
    else:
        print(plots.SKIPPED)
    print()
    print(
        "rate Hz | CPU core-s/s | frames/s bots min / server sent | "
        "lateness p50/p99 ms | tick p50/p99 ms | overrun | skipped | behind"
    )
    for r in rows:
        if "error" in r:
            print(f"{r['rate_hz']:>7} | ERROR: {r['error']}")
            continue
        print(
            f"{r['rate_hz']:>7} | {r['server_cpu_core_s_per_s']:>12.3f} | "
            f"{r['frames_per_client_min']:>14.2f} / {r['server_frames_per_client']:<11.2f} | "
            f"{_fmt(r['lateness_p50_ms'], '.3f'):>8} / {_fmt(r['lateness_p99_ms'], '.3f'):<8} | "
            f"{_fmt(r['tick_p50_ms'], '.3f'):>6} / {_fmt(r['tick_p99_ms'], '.3f'):<6} | "
            f"{r['ticks_overrun']:>7.0f} | {r['ticks_skipped']:>7.0f} | {r['behind'] or '-'}"
        )
    for r in ok:
        if r["behind"]:
            print(f"  {r['rate_hz']} Hz: {_behind_sentence(r)}")
    for r in ok:
        if 20 <= r["rate_hz"] <= 60 and r["lateness_p99_ms"] is not None:
            good = r["lateness_p99_ms"] < LATENESS_P99_BAR_MS
            print(
                f"  {'PASS' if good else 'FAIL'}  lateness p99 at {r['rate_hz']} Hz: "
                f"{r['lateness_p99_ms']:.3f} ms (bar < {LATENESS_P99_BAR_MS} ms, idle machine)"
            )
    return 1 if len(ok) < len(rows) else 0
