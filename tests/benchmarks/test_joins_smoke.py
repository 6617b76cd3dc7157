"""`python -m benchmarks joins` keeps working (a few players, a few joins; no figures asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_joins_benchmark_joins_through_reservations(tmp_path: Path) -> None:
    out = tmp_path / "joins.json"
    args = ["--players", "4", "--rate", "20", "--duration", "1", "--warmup", "0.5"]
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "joins", *args, "--no-pin", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["joins"] == 20
    assert data["joined"] == 20, data["failed"]
    assert data["reservation_to_welcome_ms_p99"] > 0
    assert data["players_min_rate"] > 0
