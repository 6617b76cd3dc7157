"""`benchmarks directory` runs against a real redis-server (tiny sizes; figures not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def free_port_pair() -> int:
    """A port p with p + 1 free too (worker i listens on --port + i). A lone free port's
    neighbour may be another test's server: a worker that cannot bind it exits, and the
    supervisor's restart is another process (the flake where a worker's /proc vanished)."""
    import socket

    for _ in range(50):
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
            try:
                b.bind(("127.0.0.1", port + 1))
            except (OSError, OverflowError):
                continue
            return port
    raise RuntimeError("no two consecutive free ports")


def test_directory_benchmark_reports_heartbeats_and_joins(
    redis_binary: str, tmp_path: Path
) -> None:
    """All three phases run and report; every join got its reservation (counted, not
    timed), and the HTTP phase's two real nodes answered quick joins."""
    out = tmp_path / "directory.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "directory", "--nodes", "5", "--matches", "3",
         "--interval", "0.5", "--duration", "1", "--joins", "100", "--http-seconds", "1",
         "--http-concurrency", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["heartbeats"]["full_listing_entries"] == 15
    assert data["heartbeats"]["heartbeats"] >= 5
    assert data["joins"]["joins"] == 100
    assert data["joins"]["redis_ops_per_join"] > 0
    assert data["joins_before"]["joins"] == 100  # the same joins the older way, same run
    assert data["http"]["statuses"].get("200", 0) > 0, data["http"]
    assert set(data["http"]["statuses"]) == {"200"}, data["http"]
    assert data["http"]["single_node_joins_per_s"] > 0  # the floor, same run
    assert "joins/s" in proc.stdout


def test_scale_benchmark_compares_one_and_two_workers(tmp_path: Path) -> None:
    """`benchmarks scale` runs 1 and 2 real workers under the same bots and reports both."""
    port = free_port_pair()
    out = tmp_path / "scale.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "scale", "--clients", "20", "--players-per-match",
         "10", "--duration", "2", "--ramp-up", "1", "--warmup", "1", "--port", str(port),
         "--out", str(out)],
        capture_output=True, text=True, timeout=150, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    rows = data["rows"]
    assert [(r["round"], r["workers"]) for r in rows] == [(1, 1), (1, 2)]
    assert len(rows[1]["cpu_per_worker"]) == 2
    assert all(r["rate_min"] > 0 for r in rows)
    assert all(r["messages_per_s"] > 0 and r["cpu_us_per_message"] > 0 for r in rows)
    assert data["pin"] == "split"
    assert data["ratio"] == data["summary"]["median"]
    assert "CPU per message" in proc.stdout
