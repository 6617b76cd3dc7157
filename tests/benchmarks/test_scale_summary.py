"""`benchmarks scale` judges the cost ratio over the rounds where both runs held the rate."""

from __future__ import annotations

from typing import Any

from benchmarks.scale import summarise


def row(k: int, workers: int, cpu: float, rate: float, us: float = 10.0) -> dict[str, Any]:
    return {
        "round": k,
        "workers": workers,
        "cpu_core_s_per_s": cpu,
        "rate_min": rate,
        "cpu_us_per_message": us,
    }


def test_the_median_counts_only_full_rate_rounds() -> None:
    """A round where a starved machine shed load (rate < 19.5) is shown, not judged."""
    rows = [
        row(1, 1, 0.40, 20.0), row(1, 2, 0.42, 20.0),  # 1.05
        row(2, 1, 0.20, 9.0), row(2, 2, 0.40, 20.0, us=12.0),  # starved: 2.0
        row(3, 1, 0.50, 19.9), row(3, 2, 0.54, 19.8),  # 1.08
        row(4, 1, 0.45, 20.0), row(4, 2, 0.45, 20.0),  # 1.0
    ]  # fmt: skip
    s = summarise(rows, [1, 2])
    assert s is not None
    assert s["ratios"] == [1.05, 2.0, 1.08, 1.0]
    assert s["full_rate_ratios"] == [1.05, 1.08, 1.0]
    assert (s["median"], s["min"], s["max"], s["starved"]) == (1.05, 1.0, 1.08, False)
    assert s["per_message_ratios"] == [1.0, 1.2, 1.0, 1.0]


def test_with_no_full_rate_round_every_round_is_flagged_starved() -> None:
    s = summarise([row(1, 1, 0.2, 5.0), row(1, 2, 0.3, 6.0)], [1, 2])
    assert s is not None
    assert s["starved"]
    assert s["median"] == 1.5
    assert summarise([row(1, 1, 0.2, 20.0)], [1]) is None
