"""The same load on one worker and on two: does a second node cost anything extra?

``python -m benchmarks scale --clients 400 --players-per-match 200 --duration 20``

For each worker count of ``--workers`` (default ``1,2``) the command starts
``python -m server --workers N`` (the supervisor, workers on ``--port`` + i), a copy of the
arena whose matches hold ``--players-per-match`` players, and two bot processes of
``--clients``/2 wandering bots each, spread evenly over the workers' ports (with one
worker both point at it, so the load generator is the same in every run). Over a steady
window after ramp-up and warm-up it reads every worker's CPU from ``/proc`` and the bots'
reports, and prints: summed worker CPU (core-s/s), each worker's share, the bots' min
snapshots/s, the cost per client, and the projected clients per host (cores ÷ cost per
client, at the bar's ≥ 19.5 snapshots/s).

On a 2-core machine the bots share the cores with the workers, so the bar is on cost:
summed CPU of 2 workers within 10% of 1 worker's for the same load, a split within
60/40, every client ≥ 19.5 snapshots/s. On a bigger machine the same command measures
capacity directly.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import result_path, write_json
from benchmarks.e2e import cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
ARENA = ROOT / "data" / "games" / "arena.toml"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``python -m benchmarks scale``."""
    p.add_argument("--workers", default="1,2", help="worker counts to compare")
    p.add_argument("--clients", type=int, default=400)
    p.add_argument("--players-per-match", type=int, default=200)
    p.add_argument("--duration", type=float, default=20.0, help="measured window, s")
    p.add_argument("--ramp-up", type=float, default=6.0)
    p.add_argument("--warmup", type=float, default=4.0)
    p.add_argument("--port", type=int, default=9950, help="base port of the workers")
    p.add_argument("--out", default=None, help="JSON path")


def definition(players: int, folder: Path) -> Path:
    """The arena with ``players`` per match (so every worker count runs the same matches)."""
    text = ARENA.read_text().replace("max_players = 1000", f"max_players = {players}", 1)
    path = folder / "arena_scale.toml"
    path.write_text(text)
    return path


def _worker_pids(log: Path, n: int, timeout_s: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pids: dict[int, int] = {}
        for line in log.read_text().splitlines():
            parts = line.split()
            if line.startswith("worker ") and " started pid " in line:
                pids[int(parts[1])] = int(parts[4])
        if len(pids) == n:
            return [pids[i] for i in range(n)]
        time.sleep(0.2)
    raise SystemExit(f"the supervisor did not start {n} workers; see {log}")


def _wait_ports(base: int, n: int, timeout_s: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    for port in range(base, base + n):
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"worker on port {port} never became healthy") from None
                time.sleep(0.2)


def run_one(workers: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """One worker count: start, load, measure, stop."""
    defn = definition(args.players_per_match, folder)
    log = folder / f"supervisor-{workers}.log"
    with log.open("wb") as out:
        sup = subprocess.Popen(
            [sys.executable, "-m", "server", "--workers", str(workers), "--port", str(args.port),
             "--game", str(defn), "--drain-grace-s", "0", "--log-format", "json",
             "--max-connections", str(args.clients + 100)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    bots: list[subprocess.Popen[bytes]] = []
    try:
        pids = _worker_pids(log, workers)
        _wait_ports(args.port, workers)
        reports = [folder / f"bots-{workers}-{i}.json" for i in range(2)]
        window = args.duration
        for i in range(2):
            port = args.port + (i % workers)
            bots.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "client_sim",
                        "--url",
                        f"ws://127.0.0.1:{port}/ws",
                        "--bots",
                        str(args.clients // 2),
                        "--behaviour",
                        "wander",
                        "--ramp-up",
                        str(args.ramp_up),
                        "--warmup",
                        str(args.warmup),
                        "--duration",
                        str(args.warmup + window),
                        "--window",
                        str(window),
                        "--report",
                        str(reports[i]),
                        "--quiet",
                    ],
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(args.ramp_up + args.warmup)
        cpu0 = [cpu_seconds(p) for p in pids]
        t0 = time.monotonic()
        time.sleep(window)
        cpu1 = [cpu_seconds(p) for p in pids]
        wall = time.monotonic() - t0
        for b in bots:
            b.wait(timeout=args.ramp_up + args.warmup + window + 60)
        per_worker = [(b - a) / wall for a, b in zip(cpu0, cpu1, strict=True)]
        rates = [json.loads(r.read_text())["rate_per_bot"] for r in reports]
    finally:
        for b in bots:
            if b.poll() is None:
                b.kill()
        sup.terminate()
        try:
            sup.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sup.kill()
    total = sum(per_worker)
    cost = total / args.clients
    return {
        "workers": workers,
        "clients": args.clients,
        "cpu_core_s_per_s": round(total, 4),
        "cpu_per_worker": [round(c, 4) for c in per_worker],
        "share_max": round(max(per_worker) / total, 3) if total else 0.0,
        "rate_min": min(r["min"] for r in rates),
        "rate_mean": round(sum(r["mean"] for r in rates) / len(rates), 3),
        "cost_per_client_core_s": round(cost, 6),
        "projected_clients_per_host": int((os.cpu_count() or 1) / cost) if cost else 0,
    }


def main(args: argparse.Namespace) -> int:
    """Run each worker count, print the table and the ratio, write JSON."""
    counts = [int(w) for w in args.workers.split(",") if w]
    rows = []
    with tempfile.TemporaryDirectory(prefix="tw-scale-") as tmp:
        for n in counts:
            print(f"workers {n}: {args.clients} clients in matches of {args.players_per_match}…")
            rows.append(run_one(n, args, Path(tmp)))
    print(" workers | CPU core-s/s | per worker        | max share | frames/s min | clients/host")
    for r in rows:
        shares = " ".join(f"{c:.3f}" for c in r["cpu_per_worker"])
        print(
            f" {r['workers']:7d} | {r['cpu_core_s_per_s']:12.3f} | {shares:17s} | "
            f"{r['share_max']:9.2f} | {r['rate_min']:12.2f} | {r['projected_clients_per_host']}"
        )
    if any(r["rate_min"] < 19.5 for r in rows):
        print(
            "note: some client got fewer than 19.5 snapshots/s (a saturated machine or load "
            "generator): the cost ratio still compares like with like, the projection does not hold"
        )
    ratio = None
    if len(rows) >= 2 and rows[0]["cpu_core_s_per_s"]:
        ratio = round(rows[-1]["cpu_core_s_per_s"] / rows[0]["cpu_core_s_per_s"], 3)
        verdict = "PASS" if ratio <= 1.10 else "FAIL"
        print(
            f"cost of {rows[-1]['workers']} workers / {rows[0]['workers']}: {ratio} "
            f"({verdict}, bar 1.10)"
        )
    write_json(result_path("scale", args.out), {"rows": rows, "ratio": ratio})
    return 0
