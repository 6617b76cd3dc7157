"""The core benchmark commands keep working (tiny sizes; figures are not asserted)."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.support import run_benchmark


def test_tick_benchmark_writes_rows_per_size(tmp_path: Path) -> None:
    """`benchmarks tick` reports p50/p99 for each requested size and the machine."""
    data, _ = run_benchmark(
        ["tick", "--sizes", "200,500", "--ticks", "5", "--warmup", "1"], tmp_path / "result.json"
    )
    rows = data["rows"]
    assert isinstance(rows, list)
    assert [r["entities"] for r in rows] == [200, 500]
    assert all(r["p99_ms"] >= r["p50_ms"] > 0 for r in rows)
    assert "cpu" in data["machine"]  # type: ignore[operator]


def test_spatial_benchmark_compares_three_indexes(tmp_path: Path) -> None:
    """`benchmarks spatial` measures grid, quadtree and brute force."""
    data, _ = run_benchmark(
        ["spatial", "--sizes", "300", "--repeats", "1", "--queries", "50"], tmp_path / "result.json"
    )
    rows = data["rows"]
    assert isinstance(rows, list)
    assert {r["index"] for r in rows} == {"grid", "quadtree", "brute"}
    assert all(r["queries_per_s_r150"] > 0 for r in rows)


def test_metrics_benchmark_prices_instrumentation_per_tick_and_message(tmp_path: Path) -> None:
    """`benchmarks metrics` times the server's own metric calls and scales them."""
    data, _ = run_benchmark(
        ["metrics", "--repeat", "200", "--clients", "10", "--server-cpu", "0.5"],
        tmp_path / "result.json",
    )
    result = data["result"]
    assert isinstance(result, dict)
    assert result["observe_tick_us"] > 0
    assert result["per_message_us"] > 0
    assert 0 < result["share_of_server_cpu"] < 1
