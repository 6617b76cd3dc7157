"""`benchmarks matrix`, `sweep` and `aoi` keep working (tiny sizes; figures are not asserted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks import e2e, matrix, plots, probe, sweep
from tests.benchmarks.support import run_benchmark

TINY = ["--duration", "2", "--warmup", "0.5", "--ramp-up", "0.5"]


def assert_png(path: Path) -> None:
    assert path.is_file(), path
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def fake_case(sync: str, m: int, n: int, cpu: float) -> dict[str, Any]:
    r: dict[str, Any] = {
        "sync": sync,
        "entities": m,
        "clients": n,
        "tick_rate_hz": 20,
        "server_cpu_core_s_per_s": cpu,
        "server_rss_mb": 60.0,
        "rate_per_client": {"min": 19.8, "mean": 20.0},
        "bytes_per_client_per_s": 4000.0,
        "bytes_per_changed_entity": 5.5 if sync == "state" else None,
        "floor_ratio": 1.3,
    }
    r["bars"] = e2e.judge(r)
    return r


def test_matrix_command_writes_json_and_plots_when_given_tiny_cases(tmp_path: Path) -> None:
    """Three tiny cases end to end give per-case figures, a summary row each and three
    PNGs; the budget case has the bots' staleness against the truth and its bars."""
    out = tmp_path / "matrix.json"
    cases_arg = "state:100x5,lockstep:100x5,budget:100x5"
    data, stdout = run_benchmark(["matrix", "--cases", cases_arg, "--no-floor", *TINY], out)
    cases = data["cases"]
    assert [(c["sync"], c["entities"], c["clients"]) for c in cases] == [
        ("state", 100, 5),
        ("lockstep", 100, 5),
        ("state", 100, 5),
    ]
    budget = cases[2]
    assert budget["budget_bytes_per_s"] == 16000
    assert budget["staleness"]["frames_compared"] > 0
    assert budget["staleness"]["near_samples"] > 0  # the own entity is always near
    names = [b["bar"] for b in budget["bars"]]
    assert "bytes/s of every client" in names
    assert "staleness of anything held, max s" in names
    assert all(c["server_cpu_core_s_per_s"] > 0 and c["bars"] for c in cases)
    assert all(c["tick_lateness_ms"]["p99"] >= c["tick_lateness_ms"]["p50"] for c in cases)
    assert [s["verdict"] for s in data["summary"]] == [matrix.verdict(c) for c in cases]
    assert "case 2/3: lockstep 100x5" in stdout
    assert "budget 100x5" in stdout
    for suffix in ("cpu-vs-clients", "cpu-vs-entities", "bytes-per-client"):
        assert_png(plots.png_path(out, suffix))


def test_sweep_at_60_and_128_hz_counts_what_the_server_sent(tmp_path: Path) -> None:
    """At 60 and 128 Hz the bots' frames/s (mean over bots) is within 2% of the server's
    own count of frames sent per client over the same seconds, no bot is closed, and each
    row has CPU, lateness and the server's figure; the plot is written. (The old 60/s
    message limit closed these bots at 128 Hz within 2 s.)"""
    out = tmp_path / "sweep.json"
    data, stdout = run_benchmark(
        [
            "sweep",
            "--rates",
            "60,128",
            "--entities",
            "100",
            "--clients",
            "5",
            "--duration",
            "4",
            "--warmup",
            "1",
            "--ramp-up",
            "0.5",
        ],
        out,
    )
    rows = data["rows"]
    assert [r["rate_hz"] for r in rows] == [60, 128]
    for r in rows:
        sent = r["server_frames_per_client"]
        assert sent > 0, r
        assert r["frames_per_client_mean"] == pytest.approx(sent, rel=e2e.AGREEMENT), r
        assert r["bot_close_codes"] == {}, r
        assert r["server_cpu_core_s_per_s"] > 0
        assert r["lateness_p99_ms"] >= r["lateness_p50_ms"] >= 0
    assert "server sent" in stdout
    assert_png(plots.png_path(out, "cpu-lateness-frames-vs-rate"))


def test_sweep_names_the_side_that_fell_behind() -> None:
    """A server that sent too few frames, and bots that received fewer than were sent."""
    case = {
        "server_frames_per_client_per_s": 60.0,
        "rate_per_client": {"min": 60.0, "mean": 60.0},
        "bot_close_codes": {},
    }
    assert sweep.behind(60, case) == ""
    assert sweep.behind(128, case) == "server"
    assert sweep.behind(60, {**case, "rate_per_client": {"min": 43.0, "mean": 46.9}}) == "bots"
    assert sweep.behind(60, {**case, "bot_close_codes": {"4008": 10}}) == "bots"


@pytest.mark.parametrize("naive", ["numpy", "index"])
def test_aoi_command_matches_per_client_sets_for_each_filter(tmp_path: Path, naive: str) -> None:
    """Both ways are timed per client and produced the same visible sets."""
    data, stdout = run_benchmark(
        ["aoi", "--entities", "200", "--clients", "20", "--ticks", "5", "--naive", naive],
        tmp_path / "aoi.json",
    )
    (row,) = data["rows"]
    assert row["same_visible_sets"] is True
    assert row["batched_us_per_client_p50"] > 0
    assert row["per_client_us_per_client_p50"] > 0
    assert row["visible_per_client_mean"] > 0
    assert row["batched_cpu_us_per_client_mean"] >= 0  # coarse clocks may read 0
    assert "speed-up" in stdout
    assert "CPU time" in stdout


def test_matrix_plots_draw_the_whole_table_without_a_server(tmp_path: Path) -> None:
    """Results shaped like the full QUALITY.md table plot without a server."""
    results = [fake_case(s, m, n, bar * 0.9) for (s, m, n), bar in e2e.CPU_BARS.items()]
    results.append({"sync": "state", "entities": 1, "clients": 1, "error": "boom"})
    written = matrix.plot_or_skip(tmp_path / "m.json", results)
    assert len(written) == 3
    for png in written:
        assert_png(png)
    rows = matrix.summary_rows(results)
    assert [r[-1] for r in rows[1:]] == ["PASS"] * 5 + ["ERROR"]


def test_matrix_skips_plots_when_matplotlib_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without matplotlib no PNG is written and a line says how to install it."""
    monkeypatch.setattr(plots, "available", lambda: False)
    assert matrix.plot_or_skip(tmp_path / "m.json", [fake_case("state", 1000, 500, 0.2)]) == []
    assert "pip install" in capsys.readouterr().out
    assert not list(tmp_path.glob("*.png"))


def test_matrix_cases_parse_named_sets_and_explicit_sizes() -> None:
    """`all`, `quick` and sync:MxN lists parse, filtered by --sync."""
    assert len(matrix.parse_cases("all", "state,lockstep")) == 5
    assert matrix.parse_cases("all", "lockstep") == [("lockstep", 1000, 1000)]
    assert matrix.parse_cases("quick", "state") == [("state", 1000, 500), ("state", 1000, 1000)]
    assert matrix.parse_cases("state:100x5, lockstep:20x3", "state,lockstep") == [
        ("state", 100, 5),
        ("lockstep", 20, 3),
    ]
    with pytest.raises(SystemExit, match="sync:MxN"):
        matrix.parse_cases("state:100", "state")


def test_histogram_quantiles_interpolate_when_buckets_change() -> None:
    """Quantiles come from the window's bucket deltas, linear inside a bucket."""
    name = "tickwire_tick_lateness_seconds"

    def scrape(counts: list[float]) -> dict[str, float]:
        les = ["0.001", "0.002", "0.004", "+Inf"]
        return {
            f"{name}_bucket{{kind=arena,le={le}}}": c for le, c in zip(les, counts, strict=True)
        }

    before = scrape([100, 100, 100, 100])  # observed before the window: ignored
    after = scrape([150, 200, 200, 200])  # 50 in [0, 1 ms), 50 in [1, 2 ms)
    q = probe.histogram_quantiles(before, after, name, (0.5, 0.75, 0.99))
    assert q == pytest.approx({"p50": 0.001, "p75": 0.0015, "p99": 0.00198})
    assert probe.histogram_quantiles(after, after, name, (0.5,)) is None
