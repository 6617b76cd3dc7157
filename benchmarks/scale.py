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

**Fair to both counts.** On a 2-core machine the bots share the host with the workers,
so the bar is on cost: summed CPU of 2 workers within 10% of 1 worker's for the same load,
a split within 60/40, every client ≥ 19.5 snapshots/s. To compare like with like, every
run places its processes the same way (``--pin``, default ``split``): the supervisor and
all its workers on core 0, both bot processes on core 1 (as the other benchmarks pin the
server and the load generator). Unpinned, the 1-worker run had a core nearly to itself
while the 2-worker run's workers shared both cores with the bots, so the two runs differed
in contention (migrations, cache, preemption mid-tick) and not only in process count.
``--pin none`` lets the kernel place everything (a bigger machine, measuring capacity).

**Noise.** One run's figure swings by ±6% on a shared VM, as much as the gap under test,
so ``--repeat R`` runs the counts interleaved (1, 2, 1, 2, …) in one invocation and
reports the median of the per-round cost ratios, their spread (min-max) and the ratio of
the median CPUs. The load average (``/proc/loadavg``) is printed with every run. The
supervisor's own CPU is read too (it only polls its children, 10 Hz) and reported apart:
the bar counts the workers.

``--profile DIR`` additionally samples worker 0 of each run with ``py-spy record`` over
the steady window (raw collapsed stacks, ``--nonblocking``), for comparing per-tick and
per-message costs between the counts; its figures then carry py-spy's own load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import result_path, write_json
from benchmarks.probe import cpu_seconds, metric_sum, pin, scrape

ROOT = Path(__file__).resolve().parent.parent
ARENA = ROOT / "data" / "games" / "arena.toml"
BAR = 1.10


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``python -m benchmarks scale``."""
    p.add_argument("--workers", default="1,2", help="worker counts to compare")
    p.add_argument("--clients", type=int, default=400)
    p.add_argument("--players-per-match", type=int, default=200)
    p.add_argument("--duration", type=float, default=20.0, help="measured window, s")
    p.add_argument("--ramp-up", type=float, default=6.0)
    p.add_argument("--warmup", type=float, default=4.0)
    p.add_argument("--repeat", type=int, default=1, help="rounds of the counts, interleaved")
    p.add_argument(
        "--pin",
        choices=("split", "none"),
        default="split",
        help="split: supervisor and workers on core 0, bots on core 1; none: unpinned",
    )
    p.add_argument("--profile", default=None, help="py-spy worker 0 of each run into DIR")
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


def _check_workers(log: Path, pids: list[int]) -> None:
    """Stop the benchmark, naming the worker, if one has exited since it started (a
    restarted worker is another process: its CPU would not be this run's); the
    supervisor's log (workers' stderr included) says why."""
    lines = log.read_text(errors="replace").splitlines()
    gone = [line for line in lines if line.startswith("worker ") and " exited with " in line]
    vanished = [i for i, pid in enumerate(pids) if not Path(f"/proc/{pid}").exists()]
    if gone or vanished:
        tail = "\n".join(lines[-25:])
        raise SystemExit(
            f"a worker died mid-run ({'; '.join(gone) or f'pid of worker {vanished} gone'}); "
            f"a port in use (worker i listens on --port + i) is the usual cause. "
            f"Last lines of {log}:\n{tail}"
        )


def _wait_ports(base: int, n: int, log: Path, pids: list[int], timeout_s: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    for port in range(base, base + n):
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                _check_workers(log, pids)
                if time.monotonic() > deadline:
                    raise SystemExit(f"worker on port {port} never became healthy") from None
                time.sleep(0.2)


def _switches(pid: int) -> int:
    """Voluntary + involuntary context switches of ``pid`` so far (its wake-ups, mostly)."""
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
            total += int(line.split()[1])
    return total


def _messages(base: int, n: int) -> float:
    """Messages in + out so far, summed over the workers (from their ``/metrics``; read
    outside the CPU window, so the scrapes are not counted)."""
    total = 0.0
    for port in range(base, base + n):
        m = scrape(f"http://127.0.0.1:{port}")
        total += metric_sum(m, "tickwire_messages_received_total")
        total += metric_sum(m, "tickwire_messages_sent_total")
    return total


def _load() -> float:
    """The 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def _bot_argv(args: argparse.Namespace, port: int, report: Path) -> list[str]:
    return [
        *pin(1, args.pin == "split"), sys.executable, "-m", "client_sim",
        "--url", f"ws://127.0.0.1:{port}/ws", "--bots", str(args.clients // 2),
        "--behaviour", "wander", "--ramp-up", str(args.ramp_up), "--warmup", str(args.warmup),
        "--duration", str(args.warmup + args.duration), "--window", str(args.duration),
        "--report", str(report), "--quiet",
    ]  # fmt: skip


def _profiler(pid: int, args: argparse.Namespace, out: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    return subprocess.Popen(
        [*pin(1, args.pin == "split"), spy, "record", "--pid", str(pid), "--duration",
         str(int(args.duration)), "--rate", "200", "--nonblocking", "--format", "raw",
         "-o", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def run_one(workers: int, args: argparse.Namespace, folder: Path, tag: str = "") -> dict[str, Any]:
    """One worker count: start, load, measure, stop."""
    defn = definition(args.players_per_match, folder)
    log = folder / f"supervisor-{workers}{tag}.log"
    load0 = _load()
    with log.open("wb") as out:
        sup = subprocess.Popen(
            [*pin(0, args.pin == "split"), sys.executable, "-m", "server",
             "--workers", str(workers), "--port", str(args.port),
             "--game", str(defn), "--drain-grace-s", "0", "--log-format", "json",
             "--max-connections", str(args.clients + 100)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    bots: list[subprocess.Popen[bytes]] = []
    spy: subprocess.Popen[bytes] | None = None
    try:
        pids = _worker_pids(log, workers)
        _wait_ports(args.port, workers, log, pids)
        _check_workers(log, pids)
        reports = [folder / f"bots-{workers}{tag}-{i}.json" for i in range(2)]
        window = args.duration
        for i in range(2):
            argv = _bot_argv(args, args.port + (i % workers), reports[i])
            bots.append(
                subprocess.Popen(
                    argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        time.sleep(args.ramp_up + args.warmup)
        watched = [*pids, sup.pid, *(b.pid for b in bots)]
        if args.profile:
            Path(args.profile).mkdir(parents=True, exist_ok=True)
            spy = _profiler(pids[0], args, Path(args.profile) / f"w{workers}{tag}.txt")
        _check_workers(log, pids)
        msgs0 = _messages(args.port, workers)
        try:
            cpu0 = [cpu_seconds(p) for p in watched]
            sw0 = [_switches(p) for p in pids]
            t0 = time.monotonic()
            time.sleep(window)
            cpu1 = [cpu_seconds(p) for p in watched]
            sw1 = [_switches(p) for p in pids]
        except FileNotFoundError:
            _check_workers(log, pids)
            raise
        wall = time.monotonic() - t0
        _check_workers(log, pids)
        msgs = (_messages(args.port, workers) - msgs0) / wall
        for b in bots:
            b.wait(timeout=args.ramp_up + args.warmup + window + 60)
        used = [(b - a) / wall for a, b in zip(cpu0, cpu1, strict=True)]
        wakeups = sum(b - a for a, b in zip(sw0, sw1, strict=True)) / wall
        rates = [json.loads(r.read_text())["rate_per_bot"] for r in reports]
        if spy is not None:
            spy.wait(timeout=60)
    finally:
        for proc in (*bots, spy):
            if proc is not None and proc.poll() is None:
                proc.kill()
        sup.terminate()
        try:
            sup.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sup.kill()
    per_worker = used[:workers]
    total = sum(per_worker)
    cost = total / args.clients
    return {
        "workers": workers,
        "clients": args.clients,
        "cpu_core_s_per_s": round(total, 4),
        "cpu_per_worker": [round(c, 4) for c in per_worker],
        "cpu_supervisor": round(used[workers], 4),
        "cpu_bots": round(sum(used[workers + 1 :]), 4),
        "switches_per_s": round(wakeups),
        "messages_per_s": round(msgs),
        "cpu_us_per_message": round(total / msgs * 1e6, 3) if msgs else 0.0,
        "share_max": round(max(per_worker) / total, 3) if total else 0.0,
        "rate_min": min(r["min"] for r in rates),
        "rate_mean": round(sum(r["mean"] for r in rates) / len(rates), 3),
        "cost_per_client_core_s": round(cost, 6),
        "projected_clients_per_host": int((os.cpu_count() or 1) / cost) if cost else 0,
        "load_avg": [load0, _load()],
    }


RATE_BAR = 19.5


def _pairs(
    rows: list[dict[str, Any]], first: int, last: int
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(first-count row, last-count row) of every round that ran both."""
    out = []
    for k in sorted({r["round"] for r in rows}):
        a = [r for r in rows if r["round"] == k and r["workers"] == first]
        b = [r for r in rows if r["round"] == k and r["workers"] == last]
        if a and b and a[0]["cpu_core_s_per_s"] and a[0]["cpu_us_per_message"]:
            out.append((a[0], b[0]))
    return out


def summarise(rows: list[dict[str, Any]], counts: list[int]) -> dict[str, Any] | None:
    """The last count against the first, per round (None with fewer than two counts).

    ``ratios``: summed CPU, last / first, per round; ``median`` (the bar's figure) is taken
    over the *full-rate* rounds only -- both runs' clients all ≥ 19.5 snapshots/s, so both
    carried the same load -- or over every round, flagged ``starved``, when none was.
    ``per_message_ratios``: CPU per message handled (inputs in + frames out, from the
    workers' own counters), last / first: a round where a starved machine shed load
    still compares like with like there."""
    if len(counts) < 2:
        return None
    pairs = _pairs(rows, counts[0], counts[-1])
    if not pairs:
        return None

    def ratio(key: str, a: dict[str, Any], b: dict[str, Any]) -> float:
        return round(float(b[key]) / float(a[key]), 3)

    ratios = [ratio("cpu_core_s_per_s", a, b) for a, b in pairs]
    full = [
        ratio("cpu_core_s_per_s", a, b)
        for a, b in pairs
        if min(a["rate_min"], b["rate_min"]) >= RATE_BAR
    ]
    judged = full or ratios
    per_msg = [ratio("cpu_us_per_message", a, b) for a, b in pairs]
    return {
        "ratios": ratios,
        "full_rate_ratios": full,
        "starved": not full,
        "median": round(statistics.median(judged), 3),
        "min": min(judged),
        "max": max(judged),
        "per_message_ratios": per_msg,
        "per_message_median": round(statistics.median(per_msg), 3),
    }


def main(args: argparse.Namespace) -> int:
    """Run each worker count (``--repeat`` rounds, interleaved), print the table and the
    ratios, write JSON."""
    counts = [int(w) for w in args.workers.split(",") if w]
    rows = []
    print(f"pinning: {args.pin}; {args.repeat} round(s) of workers {counts}")
    with tempfile.TemporaryDirectory(prefix="tw-scale-") as tmp:
        for k in range(args.repeat):
            for n in counts:
                print(
                    f"round {k + 1}, workers {n}: {args.clients} clients in matches of "
                    f"{args.players_per_match}…",
                    flush=True,
                )
                row = run_one(n, args, Path(tmp), tag=f"-r{k + 1}")
                rows.append({"round": k + 1, **row})
    print(
        " round | workers | CPU core-s/s | per worker    | max share | frames/s min | "
        "µs/msg | bots | sup.  | switches/s | load     | clients/host"
    )
    for r in rows:
        shares = " ".join(f"{c:.3f}" for c in r["cpu_per_worker"])
        load = "→".join(f"{v:.1f}" for v in r["load_avg"])
        print(
            f" {r['round']:5d} | {r['workers']:7d} | {r['cpu_core_s_per_s']:12.3f} | "
            f"{shares:13s} | {r['share_max']:9.2f} | {r['rate_min']:12.2f} | "
            f"{r['cpu_us_per_message']:6.2f} | {r['cpu_bots']:.2f} | "
            f"{r['cpu_supervisor']:.3f} | {r['switches_per_s']:10d} | "
            f"{load:8s} | "
            f"{r['projected_clients_per_host']}"
        )
    if any(r["rate_min"] < RATE_BAR for r in rows):
        print(
            "note: some client got fewer than 19.5 snapshots/s (a saturated machine or load "
            "generator): the cost ratio still compares like with like, the projection does not hold"
        )
    summary = summarise(rows, counts)
    if summary is not None:
        verdict = "PASS" if summary["median"] <= BAR else "FAIL"
        if summary["starved"]:
            verdict = "not judged: no round kept every client at 19.5/s"
        judged = summary["full_rate_ratios"] or summary["ratios"]
        which = "starved" if summary["starved"] else "full-rate"
        print(
            f"cost of {counts[-1]} workers / {counts[0]}: median {summary['median']} over "
            f"{len(judged)} {which} round(s) {judged} (spread {summary['min']}-"
            f"{summary['max']}; all rounds {summary['ratios']}) ({verdict}, bar {BAR})"
        )
        print(
            f"CPU per message, {counts[-1]} workers / {counts[0]}: median "
            f"{summary['per_message_median']} {summary['per_message_ratios']}"
        )
    ratio = summary["median"] if summary else None
    write_json(
        result_path("scale", args.out),
        {"pin": args.pin, "repeat": args.repeat, "rows": rows, "ratio": ratio,
         "summary": summary},
    )  # fmt: skip
    return 0
