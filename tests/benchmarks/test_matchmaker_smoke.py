"""`python -m benchmarks matchmaker` keeps working (a small queue; figures are not asserted)."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.support import run_benchmark


def test_matchmaker_benchmark_reports_each_scenario(tmp_path: Path) -> None:
    out = tmp_path / "mm.json"
    data, stdout = run_benchmark(["matchmaker", "--tickets", "300"], out)
    assert "tickets/s" in stdout
    assert [r["players"] for r in data["rows"]] == ["2", "4", "8", "2-8", "mixed 2-8"]
    for row in data["rows"]:
        assert row["matched"] + row["expired"] + row["unmatched_at_end"] == 300
        assert row["tickets_per_s"] > 0
