"""`benchmarks budget` keeps working (tiny sizes; the figures are not asserted as bars)."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.support import run_benchmark


def test_budget_command_measures_bytes_and_staleness_against_the_truth(tmp_path: Path) -> None:
    """The in-process budget case builds, meters every seat against the truth and
    writes its figures."""
    data, stdout = run_benchmark(
        ["budget", "--entities", "400", "--clients", "8", "--ticks", "8", "--warmup", "3",
         "--budget-bytes-per-s", "4000"],
        tmp_path / "budget.json",
    )  # fmt: skip
    assert data["build_ms_p50"] > 0
    assert 0 < data["bytes_per_client_per_s_mean"] <= data["bytes_per_client_per_s_max"]
    st = data["staleness"]
    assert st["frames_compared"] == 8 * 8
    assert st["near_samples"] >= 8 * 8  # at least every seat's own entity
    assert "near p50/p99/max" in stdout
