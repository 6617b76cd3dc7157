"""``python -m benchmarks games`` end to end at a tiny size: every figure is produced."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_games_benchmark_measures_each_case_and_the_many_matches_run(tmp_path: Path) -> None:
    """One game at a size it allows and one it does not, plus 2 shooter matches of 4 bots."""
    out = tmp_path / "games.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "games",
            "--games",
            "tag",
            "--players",
            "4,64",
            "--duration",
            "1.5",
            "--warmup",
            "0.5",
            "--many-matches",
            "2",
            "--many-players",
            "4",
            "--no-pin",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: a bar missed on a busy box
    doc = json.loads(out.read_text())
    tag4, tag64, many = doc["cases"]
    assert tag4["case"] == "tag x4"
    assert tag4["connected"] == 4
    assert tag4["tick_ms"]["p50"] > 0
    assert tag4["bytes_per_client_per_s"] > 0
    assert tag4["server_cpu_core_s_per_s"] > 0
    assert tag4["errors"] == {}
    assert "events_per_s" in tag4
    assert tag64["skipped"].startswith("max_players")
    assert many["clients"] == 8
    assert many["matches_running"] == 2
    assert set(many["bars"]) == {"min_rate", "server_cpu"}
    assert "tick p50" in done.stdout
