"""``make demo WORKERS=2``'s program: its own redis-server, two nodes under the supervisor,
the nginx front, bots through the front on both nodes, everything stopped at the end."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from debian_packages import ensure_binary
from nodeproc import ROOT, free_ports

from server.cluster.supervisor import worker_argv


def test_cluster_demo_spreads_bots_over_both_nodes_through_the_front(
    redis_binary: str, tmp_path: Path
) -> None:
    ensure_binary("nginx", "nginx")
    base = free_ports(3)
    out = subprocess.run(
        [sys.executable, "-m", "server.cluster.demo", "--workers", "2",
         "--port", str(base), "--front-port", str(base + 2), "--bots", "3",
         "--seconds", "60", "--until-spread"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    front = f"http://127.0.0.1:{base + 2}"
    assert re.search(rf"front door:\s+{re.escape(front)}/", out.stdout), out.stdout
    final = next(line for line in out.stdout.splitlines() if line.startswith("final: "))
    counts = re.findall(r"w(\d)-[0-9a-f]{4}: (\d+) players", final)
    assert {n for n, p in counts if int(p) > 0} == {"0", "1"}, final
    via = set(re.findall(r"players connect via (\S+)", out.stdout))
    assert via == {f"ws://127.0.0.1:{base + 2}/n/w{i}/ws" for i in (0, 1)}, out.stdout
    assert "stopped: bots, nodes, front, redis" in out.stdout
    # Every child is gone: nothing listens on the nodes', the front's or Redis's ports.
    redis_port = re.search(r"Redis at redis://127\.0\.0\.1:(\d+)/0", out.stdout)
    assert redis_port is not None
    for port in (base, base + 1, base + 2, int(redis_port.group(1))):
        done = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True)
        assert done.stdout.strip() == "", f"port {port} still listened on"


def test_workers_get_their_own_name_and_port_in_the_public_url() -> None:
    argv = ["--public-url", "wss://front/n/{name}/ws", "--public-http-url=http://h:{port}"]
    out = worker_argv(argv, 1, 9001)
    assert out[3:] == [
        "--public-url", "wss://front/n/w1/ws", "--public-http-url=http://h:9001",
        "--port", "9001", "--node-name", "w1",
    ]  # fmt: skip
