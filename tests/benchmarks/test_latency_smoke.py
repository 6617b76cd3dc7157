"""``python -m benchmarks latency``'s bars and plots on figures of a known shape (the
run itself is exercised by tests/latency/test_hit_rate.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import plots
from benchmarks.latency import check_bars, variant_toml, write_plots


def _case(rtt: float, loss: float, hit: float, p99: float) -> dict[str, object]:
    side = {"hit_rate": hit, "error_p50_units": 0.0, "error_p99_units": p99}
    return {
        "rtt_ms": rtt,
        "loss_pct": loss,
        "compensated": side,
        "uncompensated": {**side, "hit_rate": hit / 4},
    }


def test_bars_name_what_was_missed() -> None:
    cases = [_case(0, 0, 1.0, 0.1), _case(100, 0, 0.97, 2.0), _case(200, 2, 0.9, 0.5)]
    missed = check_bars(cases)
    assert missed == [
        "prediction error p99 2.000 > 1.667 units",
        "hit rate 90.0% < 95% at 200 ms, loss 2%",
    ]


def test_plots_are_written(tmp_path: Path) -> None:
    if not plots.available():
        pytest.fail("matplotlib is missing: pip install -e '.[test]'")
    cases = [_case(r, 0, 0.99, 0.1) for r in (0, 50, 100)]
    pngs = write_plots(tmp_path / "latency.json", cases)
    assert [p.name for p in pngs] == ["latency-hit-rate.png", "latency-prediction-error.png"]
    assert all(p.stat().st_size > 1000 for p in pngs)


def test_the_variant_changes_only_the_hitscan_and_the_buffer() -> None:
    text = variant_toml(False, input_buffer_ticks=3, cooldown_s=0.1)
    assert "input_buffer_ticks = 3" in text
    assert 'lag_compensation = "none"' in text
    assert "cooldown_s = 0.1" in text
    assert "damage = 0" in text
