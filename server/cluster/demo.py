"""``make demo WORKERS=2``: a cluster on one machine: Redis, N nodes, an nginx front, bots.

Starts, each as a child process it stops again at the end:

1. ``redis-server`` on a free loopback port, no persistence (unless ``--redis-url`` names
   one already running); Debian's package is installed with apt-get when the binary is
   missing and this is root, else the demo says what to install;
2. ``python -m server --workers N --port <port>`` (nodes ``w0`` … on port … port+N-1, the
   supervisor of :mod:`server.cluster.supervisor`) with the directory in that Redis;
3. nginx from Debian's package as the front door on ``--front-port`` (plain HTTP on
   loopback: the configuration of :mod:`server.cluster.front` without TLS), every node
   advertising ``ws://127.0.0.1:<front>/n/w<i>/ws``; without nginx the nodes are reached
   directly (the demo says so);
4. one ``python -m client_sim --via-http --create --rejoin --rematchmake`` swarm per node,
   through the front: each swarm's first bot asks for a new match, which the cluster
   places on the least-loaded node, so the swarms spread over the nodes.

It prints the front-door URL, then one line per second: each node's players and matches
as the cluster's ``GET /matches`` lists them. Ctrl-C (or ``--seconds``) stops the bots,
then SIGTERM drains the nodes, then nginx and Redis are stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from server.cluster.front import nginx_config

ROOT = Path(__file__).resolve().parents[2]


def build_parser() -> argparse.ArgumentParser:
    """The cluster demo's flags."""
    p = argparse.ArgumentParser(prog="python -m server.cluster.demo", description=__doc__)
    p.add_argument("--workers", type=int, default=2, help="nodes (default 2)")
    p.add_argument("--port", type=int, default=8765, help="first node's port (then +1 …)")
    p.add_argument("--front-port", type=int, default=8080, help="the nginx front's port")
    p.add_argument("--redis-url", default=None, help="use this Redis instead of starting one")
    p.add_argument("--bots", type=int, default=12, help="bots per node (default 12)")
    p.add_argument("--game", default="arena", help="a game of data/games/ or a path")
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: never)")
    p.add_argument(
        "--until-spread",
        action="store_true",
        help="stop (exit 0) once every node has players; exit 1 if --seconds pass first",
    )
    return p


def find_binary(binary: str, package: str) -> str | None:
    """The binary's path; installed from Debian's ``package`` when missing and root."""

    def where() -> str | None:
        sbin = Path("/usr/sbin") / binary
        return shutil.which(binary) or (str(sbin) if sbin.exists() else None)

    found = where()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"{binary} is missing: apt-get install {package} …", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]
        if subprocess.run(cmd, env=env, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
            subprocess.run(cmd, env=env, capture_output=True, check=False)
        subprocess.run(["service", package, "stop"], capture_output=True, check=False)
        found = where()
    return found


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, timeout_s: float, proc: subprocess.Popen[bytes]) -> None:
    """Until something accepts on ``port`` (RuntimeError if ``proc`` exits first)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the process for port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s} s")


def cluster_matches(http_url: str) -> list[dict[str, Any]]:
    """The cluster's listing as one node answers it (empty when it cannot)."""
    try:
        with urllib.request.urlopen(f"{http_url}/matches?format=json&limit=100", timeout=5) as r:
            rows: list[dict[str, Any]] = json.loads(r.read())["matches"]
            return rows
    except (OSError, ValueError, KeyError):
        return []


def per_node(rows: list[dict[str, Any]]) -> str:
    """``w0-3fa2: 12 players in 2 matches | …`` from listing rows."""
    players: Counter[str] = Counter()
    matches: Counter[str] = Counter()
    for r in rows:
        players[r["node"]] += int(r["players"])
        matches[r["node"]] += 1
    return " | ".join(f"{n}: {players[n]} players in {matches[n]} matches" for n in sorted(matches))


class Children:
    """The demo's child processes, stopped in reverse order of start."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes], signal.Signals]] = []

    def start(
        self, name: str, argv: list[str], log: Path, stop_with: signal.Signals = signal.SIGTERM
    ) -> subprocess.Popen[bytes]:
        out = log.open("ab")
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.procs.append((name, proc, stop_with))
        return proc

    def stop_all(self) -> None:
        for _name, proc, sig in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(sig)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        self.procs.clear()


def run(args: argparse.Namespace) -> int:
    """Start everything, report once a second, stop everything; the exit code."""
    work = Path(tempfile.mkdtemp(prefix="tickwire-cluster-"))
    kids = Children()
    stop = {"now": False}

    def on_signal(_sig: int, _frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        redis_url = args.redis_url
        if redis_url is None:
            binary = find_binary("redis-server", "redis-server")
            if binary is None:
                print("redis-server is missing: apt-get install redis-server", file=sys.stderr)
                return 2
            port = free_port()
            redis = kids.start(
                "redis",
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(work)],
                work / "redis.log",
            )  # fmt: skip
            wait_port(port, 10, redis)
            redis_url = f"redis://127.0.0.1:{port}/0"
        nginx = find_binary("nginx", "nginx")
        names = {f"w{i}": ("127.0.0.1", args.port + i) for i in range(args.workers)}
        front = f"http://127.0.0.1:{args.front_port}"
        public = ["--public-url", f"ws://127.0.0.1:{args.front_port}/n/{{name}}/ws"]
        if nginx is None:
            print("nginx is missing (apt-get install nginx): no front door, nodes direct")
            front, public = f"http://127.0.0.1:{args.port}", []
        supervisor = kids.start(
            "nodes",
            [sys.executable, "-m", "server", "--workers", str(args.workers),
             "--port", str(args.port), "--redis-url", redis_url, "--game", game_path(args.game),
             "--drain-grace-s", "2", *public],
            work / "nodes.log",
        )  # fmt: skip
        for _, port in names.values():
            wait_port(port, 30, supervisor)
        if nginx is not None:
            conf = work / "nginx.conf"
            conf.write_text(
                nginx_config(
                    names, listen_port=args.front_port, cert=None, key=None, runtime_dir=str(work)
                )
            )
            proxy = kids.start(
                "nginx",
                [nginx, "-c", str(conf), "-p", str(work), "-e", str(work / "nginx-error.log")],
                work / "nginx.log",
                stop_with=signal.SIGQUIT,
            )
            wait_port(args.front_port, 10, proxy)
        ws_front = front.replace("http://", "ws://") + "/ws"
        print(
            "\n".join(
                [
                    f"Tickwire cluster demo: {args.workers} nodes, Redis at {redis_url}",
                    f"  front door:          {front}/   (play in a browser)",
                    f"  cluster matches:     {front}/matches",
                    *(
                        f"  node {n}:             http://{h}:{p}/  (metrics /metrics)"
                        for n, (h, p) in names.items()
                    ),
                    f"  logs:                {work}",
                    f"  bots: {args.workers} x {args.bots} (python -m client_sim --url {ws_front} "
                    "--via-http --create --rejoin --rematchmake)",
                    "Ctrl-C stops.",
                ]
            ),
            flush=True,
        )
        for i in range(args.workers):
            if i:  # let the previous swarm's players show in the heartbeats first
                time.sleep(2.5)
            kids.start(
                f"bots{i}",
                [sys.executable, "-m", "client_sim", "--url", ws_front, "--bots", str(args.bots),
                 "--game", game_path(args.game), "--via-http", "--create", "--rejoin",
                 "--rematchmake", "--ramp-up", "1",
                 "--duration", str(args.seconds if args.seconds > 0 else 10**7)],
                work / f"bots{i}.log",
            )  # fmt: skip
        started = time.monotonic()
        spread = False
        rows: list[dict[str, Any]] = []
        while not stop["now"]:
            if args.seconds > 0 and time.monotonic() - started >= args.seconds:
                break
            time.sleep(1.0)
            rows = cluster_matches(front) or rows  # a listing that timed out shows the last
            print(f"[{time.monotonic() - started:5.0f} s] {per_node(rows)}", flush=True)
            busy = {r["node"] for r in rows if r["players"] > 0}
            if args.until_spread and len(busy) == args.workers:
                spread = True
                break
        if not spread:
            rows = cluster_matches(front) or rows
        print(f"final: {per_node(rows)}", flush=True)
        for url in sorted({r["ws_url"] for r in rows if r["players"] > 0}):
            print(f"  players connect via {url}", flush=True)
        return 1 if args.until_spread and not spread else 0
    finally:
        kids.stop_all()
        print("stopped: bots, nodes, front, redis", flush=True)


def game_path(game: str) -> str:
    """``data/games/<game>.toml`` for a shipped game's name, else ``game`` as given."""
    shipped = ROOT / "data" / "games" / f"{game}.toml"
    return str(shipped) if shipped.is_file() else game


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m server.cluster.demo``."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
