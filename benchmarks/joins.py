"""``python -m benchmarks joins``: join latency through the HTTP reservation flow under load.

The server (pinned to core 0) runs the arena with ``--entities`` NPCs; ``--players`` bots
(``python -m client_sim``, core 1) play in it. After their ramp-up and a warm-up, this
process (core 1 too) joins ``--rate`` new players per second for ``--duration`` seconds,
each one: ``POST /matchmake/join-or-create`` → reservation → websocket ``HELLO
{reservation}`` → ``WELCOME`` → ``LEAVE``. Printed: p50/p99 of reservation → WELCOME (the
bar: p99 ≤ 50 ms) and of the whole join, joins that failed, and the playing bots' lowest
snapshot rate over the run (the bar: ≥ 19.5/s). Writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from benchmarks.common import percentile, result_path, write_json
from benchmarks.e2e import pin, read_json, start_listening, stop, write_definition
from client_sim.joining import JoinFailed, post_json
from server.config import DEFAULT_GAME
from server.net.codec import decode_server_message, encode_client
from server.net.messages import Hello, Leave
from server.net.protocol import PROTOCOL_VERSION, MessageType

BAR_P99_MS = 50.0
BAR_RATE = 19.5


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the joins command."""
    p.add_argument("--players", type=int, default=400, help="bots playing meanwhile")
    p.add_argument("--rate", type=float, default=200.0, help="joins per second")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of joining")
    p.add_argument("--entities", type=int, default=200, help="NPCs in the arena")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds after the bots' ramp")
    p.add_argument("--no-pin", action="store_true", help="do not use taskset")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")


async def one_join(url: str) -> tuple[float, float] | str:
    """``(reservation → WELCOME, whole join)`` in seconds, or what failed."""
    t0 = time.perf_counter()
    try:
        answer = await post_json(url, "/matchmake/join-or-create", {}, timeout_s=10.0)
        t1 = time.perf_counter()
        async with connect(url, compression=None, open_timeout=10) as ws:
            await ws.send(
                encode_client(Hello(version=PROTOCOL_VERSION, reservation=answer["reservation"]))
            )
            while True:
                data = await asyncio.wait_for(ws.recv(), 10)
                assert isinstance(data, bytes)
                kind, _ = decode_server_message(data)
                if kind is MessageType.WELCOME:
                    break
            t2 = time.perf_counter()
            await ws.send(encode_client(Leave()))
        return t2 - t1, t2 - t0
    except JoinFailed as exc:
        return f"HTTP {exc.status} {exc.code}"
    except Exception as exc:
        return type(exc).__name__


async def join_at_rate(url: str, rate: float, duration_s: float) -> list[tuple[float, float] | str]:
    """Start ``rate`` joins a second for ``duration_s`` (each in its own task)."""
    tasks: list[asyncio.Task[tuple[float, float] | str]] = []
    start = time.perf_counter()
    n = int(rate * duration_s)
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one_join(url)))
    return list(await asyncio.gather(*tasks))


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """One measured run."""
    game = write_definition(str(DEFAULT_GAME), args.entities, None, folder)
    server, url = await start_listening(
        [
            *pin(0, not args.no_pin),
            sys.executable,
            "-m",
            "server",
            "--game",
            str(game),
            "--port",
            "0",
            "--log-level",
            "warning",
            "--matchmake-rate-per-s",
            "100000",
            "--matchmake-burst",
            "100000",
            "--max-connections",
            str(args.players + int(args.rate * 5) + 100),
        ],
        r"listening on (ws://\S+)",
    )
    report = folder / "bots.json"
    ramp = max(2.0, args.players / 100)
    with contextlib.suppress(OSError):
        os.sched_setaffinity(
            0,
            {1}
            if (os.cpu_count() or 1) >= 2 and not args.no_pin
            else set(range(os.cpu_count() or 1)),
        )
    bots = await asyncio.create_subprocess_exec(
        *pin(1, not args.no_pin),
        sys.executable,
        "-m",
        "client_sim",
        "--url",
        url,
        "--bots",
        str(args.players),
        "--ramp-up",
        str(ramp),
        "--warmup",
        str(args.warmup),
        "--duration",
        str(args.duration + 1.0),
        "--report",
        str(report),
        "--quiet",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.sleep(ramp + args.warmup)
        results = await join_at_rate(url, args.rate, args.duration)
        await asyncio.wait_for(bots.wait(), 60)
    finally:
        await stop(bots)
        await stop(server)
    ok = [r for r in results if isinstance(r, tuple)]
    failed: dict[str, int] = {}
    for r in results:
        if isinstance(r, str):
            failed[r] = failed.get(r, 0) + 1
    welcome_ms = [1000 * a for a, _ in ok]
    whole_ms = [1000 * b for _, b in ok]
    bots_report = read_json(report) if report.exists() else {}
    rate = bots_report.get("rate_per_bot", {}).get("min", 0.0)
    return {
        "players": args.players,
        "joins_per_s": args.rate,
        "joins": len(results),
        "joined": len(ok),
        "failed": failed,
        "reservation_to_welcome_ms_p50": round(percentile(welcome_ms, 50), 2),
        "reservation_to_welcome_ms_p99": round(percentile(welcome_ms, 99), 2),
        "whole_join_ms_p50": round(percentile(whole_ms, 50), 2),
        "whole_join_ms_p99": round(percentile(whole_ms, 99), 2),
        "players_min_rate": rate,
        "load_1min": os.getloadavg()[0],
    }


def main(args: argparse.Namespace) -> int:
    """Run, print against the bars, write JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(run(args, Path(tmp)))
    p99_ok = r["reservation_to_welcome_ms_p99"] <= BAR_P99_MS and r["joined"] == r["joins"]
    rate_ok = r["players_min_rate"] >= BAR_RATE
    print(f"{r['joined']}/{r['joins']} joins at {r['joins_per_s']}/s beside {r['players']} players")
    print(
        f"reservation -> WELCOME p50 {r['reservation_to_welcome_ms_p50']} ms, "
        f"p99 {r['reservation_to_welcome_ms_p99']} ms (bar <= {BAR_P99_MS}: "
        f"{'met' if p99_ok else 'MISSED'}); whole join p99 {r['whole_join_ms_p99']} ms"
    )
    print(
        f"players' lowest snapshot rate {r['players_min_rate']}/s (bar >= {BAR_RATE}: "
        f"{'met' if rate_ok else 'MISSED'}); failed {r['failed'] or 'none'}; "
        f"load {r['load_1min']:.2f}"
    )
    write_json(result_path("joins", args.out), {**r, "bar_met": p99_ok and rate_ok})
    return 0
