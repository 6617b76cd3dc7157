"""`benchmarks e2e` keeps working end to end (tiny sizes; figures are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_e2e_benchmark_measures_server_bots_and_floor(tmp_path: Path) -> None:
    """A short e2e run writes CPU, rates, bytes, the floor ratio and a verdict per bar."""
    out = tmp_path / "e2e.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "e2e",
            "--entities",
            "100",
            "--clients",
            "5",
            "--duration",
            "2",
            "--warmup",
            "0.5",
            "--ramp-up",
            "0.5",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r = json.loads(out.read_text())["result"]
    assert r["connected"] == 5
    assert r["server_cpu_core_s_per_s"] > 0
    assert r["rate_per_client"]["mean"] > 10
    assert r["bytes_per_changed_entity"] > 0
    assert r["floor"]["cpu_us_per_message"] > 0
    assert r["floor_ratio"] > 0
    # RSS sampled every second of the window: the median lies within what was seen
    assert 0 < r["server_rss_median_mb"] <= r["server_rss_max_mb"]
    assert {b["bar"] for b in r["bars"]} >= {"frames/s per client (min)", "CPU per message / floor"}
    assert "PASS" in proc.stdout or "FAIL" in proc.stdout
