"""Running cases next to honest bots, the result table, and the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from client_sim.hostile.honest import HonestPool
from client_sim.hostile.registry import CASES, Case, Context, Limits, Observation
from client_sim.hostile.wire import MetricsProbe


def select_cases(names: list[str] | None, sync: str) -> list[Case]:
    """The named cases (all by default) that apply to a server of sync mode ``sync``."""
    chosen = [CASES[n] for n in names] if names else list(CASES.values())
    return [c for c in chosen if sync in c.modes]


async def run_case(c: Case, url: str, ctx: Context, min_window_s: float = 1.0) -> Observation:
    """Run one case and add the honest bots' frame rate and errors over it."""
    loop = asyncio.get_running_loop()
    errors_before = len(ctx.pool.errors())
    t0 = loop.time()
    try:
        result = await c.fn(url, ctx)
    except Exception as exc:
        result = Observation(c.name, c.expected, f"case crashed: {exc!r}", False)
    remaining = min_window_s - (loop.time() - t0)
    if remaining > 0:
        await asyncio.sleep(remaining)
    t1 = loop.time()
    result.duration_s = round(t1 - t0, 2)
    result.honest_rate = round(ctx.pool.min_rate(t0, t1), 2)
    result.honest_errors = ctx.pool.errors()[errors_before:]
    return result


async def run_all(
    url: str,
    names: list[str] | None = None,
    limits: Limits | None = None,
    honest: int = 4,
    on_result: Callable[[Observation], None] | None = None,
) -> tuple[dict[str, Any], list[Observation]]:
    """Start honest bots, run the cases one after another; (WELCOME, observations)."""
    pool = HonestPool(url, honest)
    welcome = await pool.start()
    ctx = Context(pool, welcome, limits or Limits(), MetricsProbe(url))
    await asyncio.sleep(1.0)  # let the honest bots settle into the rate
    results: list[Observation] = []
    try:
        for c in select_cases(names, ctx.sync):
            o = await run_case(c, url, ctx)
            results.append(o)
            if on_result is not None:
                on_result(o)
    finally:
        await pool.stop()
    return welcome, results


HEADER = ("case", "expected", "observed", "honest rate", "result")


def table_row(o: Observation) -> tuple[str, ...]:
    """One row of the printed table."""
    rate = "-" if o.honest_rate is None else f"{o.honest_rate:.1f}/s"
    verdict = "pass" if o.passed else "FAIL"
    if o.honest_errors:
        verdict += f" (honest: {'; '.join(o.honest_errors)[:60]})"
    return (o.case, o.expected, o.observed, rate, verdict)


def format_table(results: list[Observation]) -> str:
    """A plain-text table: case | expected | observed | honest rate | pass/fail."""
    rows = [HEADER, *(table_row(o) for o in results)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def build_parser() -> argparse.ArgumentParser:
    """The command-line flags."""
    d = Limits()
    p = argparse.ArgumentParser(
        prog="python -m client_sim.hostile",
        description="Run hostile clients against a running Tickwire server while honest "
        "bots play, and report what the server answered.",
    )
    p.add_argument("--url", required=True, help="websocket URL, e.g. ws://127.0.0.1:8765/ws")
    p.add_argument("--report", default=None, help="write the observations as JSON here")
    p.add_argument("--cases", default=None, help="comma-separated case names (default: all)")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--honest", type=int, default=4, help="honest bots (default %(default)s)")
    p.add_argument("--idle-timeout-s", type=float, default=d.idle_timeout_s)
    p.add_argument("--hello-timeout-s", type=float, default=d.hello_timeout_s)
    p.add_argument("--open-timeout-s", type=float, default=d.open_timeout_s)
    p.add_argument("--reconnect-grace-s", type=float, default=d.reconnect_grace_s)
    p.add_argument("--max-message-bytes", type=int, default=d.max_message_bytes)
    p.add_argument("--max-connections", type=int, default=d.max_connections)
    p.add_argument("--storm", type=int, default=d.storm, help="handshakes in the storm")
    p.add_argument("--lag-deadline-s", type=float, default=d.lag_deadline_s)
    p.add_argument("--seat-reservation-s", type=float, default=d.seat_reservation_s)
    p.add_argument("--ticket-flood", type=int, default=d.ticket_flood, help="tickets flooded")
    p.add_argument("--storm-worker", type=int, default=None, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 if every case passed and no honest bot saw an error, else 1."""
    args = build_parser().parse_args(argv)
    if args.storm_worker is not None:  # the child process of connection_storm
        from client_sim.hostile.cases_sessions import storm

        print(json.dumps(asyncio.run(storm(args.url, args.storm_worker))))
        return 0
    if args.list:
        for c in CASES.values():
            print(f"{c.name:28} {'/'.join(sorted(c.modes)):15} {c.expected}")
        return 0
    names = [n.strip() for n in args.cases.split(",") if n.strip()] if args.cases else None
    unknown = [n for n in names or [] if n not in CASES]
    if unknown:
        print(f"error: unknown case(s) {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    limits = Limits(
        idle_timeout_s=args.idle_timeout_s,
        hello_timeout_s=args.hello_timeout_s,
        open_timeout_s=args.open_timeout_s,
        reconnect_grace_s=args.reconnect_grace_s,
        max_message_bytes=args.max_message_bytes,
        max_connections=args.max_connections,
        storm=args.storm,
        seat_reservation_s=args.seat_reservation_s,
        ticket_flood=args.ticket_flood,
        lag_deadline_s=args.lag_deadline_s,
    )

    def progress(o: Observation) -> None:
        print(f"  {o.case}: {'pass' if o.passed else 'FAIL'} ({o.duration_s:.1f} s)", flush=True)

    welcome, results = asyncio.run(run_all(args.url, names, limits, args.honest, progress))
    print()
    print(f"server {args.url}: game {welcome['game']}, sync {welcome['sync']}")
    print(format_table(results))
    failed = [o for o in results if not o.passed or o.honest_errors]
    print(f"\n{len(results) - len(failed)}/{len(results)} passed")
    if args.report:
        report = {
            "url": args.url,
            "game": welcome["game"],
            "sync": welcome["sync"],
            "limits": asdict(limits),
            "results": [asdict(o) for o in results],
            "passed": not failed,
        }
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
    return 0 if not failed else 1
