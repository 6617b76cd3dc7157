"""`python -m benchmarks matchmaker` keeps working (a small queue; figures are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_matchmaker_benchmark_reports_each_scenario(tmp_path: Path) -> None:
    out = tmp_path / "mm.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "matchmaker", "--tickets", "300", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "tickets/s" in proc.stdout
    data = json.loads(out.read_text())
    assert [r["players"] for r in data["rows"]] == ["2", "4", "8", "2-8", "mixed 2-8"]
    for row in data["rows"]:
        assert row["matched"] + row["expired"] + row["unmatched_at_end"] == 300
        assert row["tickets_per_s"] > 0
