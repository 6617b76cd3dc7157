"""``python -m benchmarks games``: the shipped games under their own bots.

Two parts, each a real ``python -m server`` pinned to core 0 and a real bot swarm
(``python -m client_sim``, the game's own bot behaviour, rejoining when a match ends)
pinned to core 1:

1. **Per game and size**: each game of ``--games`` with 8, 16 and 64 players in one
   match (``--players``; sizes over the definition's ``max_players`` are reported as
   skipped). Figures over a steady window: ms per tick p50/p99 (the server's
   ``tickwire_tick_duration_seconds{phase="total"}``: systems, sync encoding and
   sending), server CPU (core-s/s), bytes per client per second, events received per
   second (all clients together, and per client), snapshots (or frames) per second per
   client.
2. **Many matches**: ``--many-matches`` (50) shooter matches of ``--many-players`` (8)
   bots, 400 clients, on one server core at the game's 30 Hz: every client must get
   at least 29 snapshots/s, and the server's CPU is reported against the bar of
   0.5 core-s/s (issue 13).

Prints a table and writes JSON to ``benchmarks/results/games-<date>-<host>.json``.
Example::

    python -m benchmarks games --duration 20
    python -m benchmarks games --games shooter --players 8 --many-matches 0 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import result_path, write_json
from benchmarks.e2e import (
    ROOT,
    cpu_seconds,
    histogram_quantiles,
    metric_sum,
    pin,
    read_json,
    scrape,
    start_listening,
    stop,
)
from server.gamedef import load_definition

GAMES_DIR = ROOT / "data" / "games"
MANY_RATE_BAR = 29.0
MANY_CPU_BAR = 0.5


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The command's flags."""
    p.add_argument("--games", default="tag,shooter,rts", help="comma-separated game names")
    p.add_argument("--players", default="8,16,64", help="players per match, comma-separated")
    p.add_argument("--duration", type=float, default=15.0, help="measured seconds per case")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds after ramp-up")
    p.add_argument("--many-matches", type=int, default=50, help="shooter matches (0: skip)")
    p.add_argument("--many-game", default="shooter", help="the game of the many-matches run")
    p.add_argument("--many-players", type=int, default=8, help="bots per shooter match")
    p.add_argument("--bot-procs", type=int, default=1, help="bot processes (client_sim --procs)")
    p.add_argument("--no-pin", action="store_true", help="do not pin server/bots to cores")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/)")


async def measure(
    game: Path, bots: int, args: argparse.Namespace, folder: Path, label: str
) -> dict[str, Any]:
    """One server and ``bots`` bots; the figures of the steady window."""
    ramp = max(1.0, bots / 40)
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
            "--max-connections",
            str(bots + 100),
            "--max-matches",
            str(max(64, bots)),
            "--log-format",
            "json",
            "--log-level",
            "warning",
            "--drain-grace-s",
            "0",
        ],
        r"listening on (ws://\S+)",
    )
    http_url = url.rsplit("/", 1)[0].replace("ws://", "http://")
    report_path = folder / f"{label.replace(' ', '-')}.json"
    log = report_path.with_suffix(".log")
    try:
        swarm = await asyncio.create_subprocess_exec(
            *pin(1, not args.no_pin),
            sys.executable,
            "-m",
            "client_sim",
            "--url",
            url,
            "--bots",
            str(bots),
            "--game",
            str(game),
            "--rejoin",
            "--quiet",
            "--procs",
            str(args.bot_procs),
            "--ramp-up",
            str(ramp),
            "--warmup",
            str(args.warmup),
            "--duration",
            str(args.warmup + args.duration),
            "--report",
            str(report_path),
            cwd=ROOT,
            stdout=log.open("w"),
            stderr=asyncio.subprocess.STDOUT,
        )
        await asyncio.sleep(ramp + args.warmup)
        t0, c0, m0 = sample(server.pid, http_url)
        await asyncio.sleep(args.duration)
        t1, c1, m1 = sample(server.pid, http_url)
        await asyncio.wait_for(swarm.wait(), 60 + bots / 10)
    finally:
        await stop(server)
    if not report_path.exists():
        raise RuntimeError(f"{label}: the bots wrote no report:\n{log.read_text()[-3000:]}")
    report = read_json(report_path)
    dt = t1 - t0
    ticks = histogram_quantiles(
        m0, m1, "tickwire_tick_duration_seconds", (0.5, 0.99), phase="total"
    )
    matches = metric_sum(m1, "tickwire_matches", state="running")
    games = report.get("games", {})
    return {
        "case": label,
        "clients": bots,
        "connected": report["connected"],
        "failures": report["failures"],
        "matches_running": int(matches),
        "window_s": round(dt, 2),
        "tick_ms": {k: round(v * 1000, 3) for k, v in ticks.items()} if ticks else None,
        "server_cpu_core_s_per_s": round((c1 - c0) / dt, 4),
        "rate_per_client": report["rate_per_bot"],
        "bytes_per_client_per_s": report["bytes_in_per_bot_per_s"],
        "events_per_s": games.get("events_per_s", 0.0),
        "events_per_client_per_s": games.get("events_per_bot_per_s", 0.0),
        "events": games.get("events", {}),
        "results": games.get("results", 0),
        "close_codes": report["close_codes"],
        "errors": report["errors"],
        "desyncs": report["desyncs"],
        "mirror_errors": report["mirror_errors"],
    }


def with_max_players(game: Path, players: int, folder: Path) -> Path:
    """A copy of ``game`` whose matches seat ``players`` (so N*players bots make N matches).

    Plug-in modules are found beside the original (``[game] systems`` resolves from the
    definition's folder), so the copy is written into ``folder`` with those folders
    linked in.
    """
    text, n = re.subn(r"(?m)^max_players = \d+", f"max_players = {players}", game.read_text())
    if n != 1:
        raise ValueError(f"{game}: no max_players line to replace")
    links = {sub.name: sub for sub in game.parent.iterdir() if sub.is_dir()}
    links[game.parent.name] = game.parent  # "games.tag.systems" from data/games/
    for name, target in links.items():
        if not (folder / name).exists():
            (folder / name).symlink_to(target)
    path = folder / f"{game.stem}-{players}.toml"
    path.write_text(text)
    return path


def sample(pid: int, http_url: str) -> tuple[float, float, dict[str, float]]:
    """(time, server CPU seconds, /metrics) -- scraping retried: a saturated server can
    take longer than one scrape's timeout to answer."""
    for attempt in range(4):
        try:
            t, cpu = time.monotonic(), cpu_seconds(pid)
            return t, cpu, scrape(http_url)
        except (TimeoutError, OSError):
            if attempt == 3:
                raise
    raise AssertionError("unreachable")


def _fmt(v: Any, spec: str = "") -> str:
    return "-" if v is None else format(v, spec)


def print_table(rows: list[dict[str, Any]]) -> None:
    """The human-readable table (one row per case)."""
    head = (
        f"{'case':<22} {'clients':>7} {'tick p50':>9} {'tick p99':>9} {'cpu':>6} "
        f"{'rate min':>8} {'B/client/s':>10} {'events/s':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        if "skipped" in r:
            print(f"{r['case']:<22} skipped: {r['skipped']}")
            continue
        tick = r["tick_ms"] or {}
        print(
            f"{r['case']:<22} {r['clients']:>7} {_fmt(tick.get('p50'), '.3f'):>9} "
            f"{_fmt(tick.get('p99'), '.3f'):>9} {r['server_cpu_core_s_per_s']:>6.3f} "
            f"{r['rate_per_client']['min']:>8.2f} {r['bytes_per_client_per_s']:>10.0f} "
            f"{r['events_per_s']:>9.1f}"
        )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every case; the JSON document."""
    rows: list[dict[str, Any]] = []
    sizes = [int(n) for n in args.players.split(",") if n]
    with tempfile.TemporaryDirectory(prefix="tickwire-games-") as tmp:
        folder = Path(tmp)
        for name in [g for g in args.games.split(",") if g]:
            path = GAMES_DIR / f"{name}.toml"
            defn = load_definition(path)
            for n in sizes:
                label = f"{name} x{n}"
                if n > defn.max_players:
                    rows.append({"case": label, "skipped": f"max_players {defn.max_players}"})
                    continue
                print(f"games: {label}", flush=True)
                rows.append(await measure(path, n, args, folder, label))
        many = None
        if args.many_matches > 0:
            bots = args.many_matches * args.many_players
            label = f"{args.many_game} {args.many_matches}x{args.many_players}"
            print(f"games: {label} ({bots} clients)", flush=True)
            game = with_max_players(GAMES_DIR / f"{args.many_game}.toml", args.many_players, folder)
            many = await measure(game, bots, args, folder, label)
            many["bars"] = {
                "min_rate": {
                    "target": MANY_RATE_BAR,
                    "observed": many["rate_per_client"]["min"],
                    "pass": many["rate_per_client"]["min"] >= MANY_RATE_BAR,
                },
                "server_cpu": {
                    "target": MANY_CPU_BAR,
                    "observed": many["server_cpu_core_s_per_s"],
                    "pass": many["server_cpu_core_s_per_s"] <= MANY_CPU_BAR,
                },
            }
            rows.append(many)
    return {"cases": rows, "many": many, "args": vars(args)}


def main(args: argparse.Namespace) -> int:
    """Run, print, write JSON; 0 unless the many-matches bars were measured and missed."""
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    doc = asyncio.run(run(args))
    doc["load_before"] = load
    print_table(doc["cases"])
    many = doc["many"]
    if many is not None:
        for name, bar in many["bars"].items():
            verdict = "PASS" if bar["pass"] else "FAIL"
            print(f"{many['case']} {name}: {verdict} ({bar['observed']} vs {bar['target']})")
    print(f"load average before: {' '.join(load)} (2-core shared VM, loaded by parallel work)")
    write_json(result_path("games", args.out), doc)
    if many is None:
        return 0
    return 0 if all(bar["pass"] for bar in many["bars"].values()) else 1
