"""`benchmarks directory` runs against a real redis-server (tiny sizes; figures not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_directory_benchmark_reports_heartbeats_and_joins(
    redis_binary: str, tmp_path: Path
) -> None:
    """Both phases run and report; every join got its reservation (counted, not timed)."""
    out = tmp_path / "directory.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "directory", "--nodes", "5", "--matches", "3",
         "--interval", "0.5", "--duration", "1", "--joins", "100", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["heartbeats"]["full_listing_entries"] == 15
    assert data["heartbeats"]["heartbeats"] >= 5
    assert data["joins"]["joins"] == 100
    assert data["joins"]["redis_ops_per_join"] > 0
    assert "joins/s" in proc.stdout
