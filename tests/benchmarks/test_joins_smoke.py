"""`python -m benchmarks joins` keeps working (a few players, a few joins; no figures asserted)."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.support import run_benchmark


def test_joins_benchmark_joins_through_reservations(tmp_path: Path) -> None:
    out = tmp_path / "joins.json"
    args = ["--players", "4", "--rate", "20", "--duration", "1", "--warmup", "0.5"]
    data, _ = run_benchmark(["joins", *args, "--no-pin"], out)
    assert data["joins"] == 20
    assert data["joined"] == 20, data["failed"]
    assert data["reservation_to_welcome_ms_p99"] > 0
    assert data["players_min_rate"] > 0
