"""Percentiles and medians of the benchmark (pure, no broker)."""

from __future__ import annotations

import pytest

from pipeline.benchmark.stats import latency_summary, median_summary, percentile


def test_nearest_rank_percentiles_of_one_to_a_hundred() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 0.50) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile(samples, 0.999) == 100.0
    assert percentile([7.0], 0.5) == 7.0


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)


def test_latency_summary_sorts_and_counts() -> None:
    summary = latency_summary([30.0, 10.0, 20.0, 40.0])
    assert summary == {
        "p50": 20.0,
        "p90": 40.0,
        "p99": 40.0,
        "p999": 40.0,
        "max": 40.0,
        "count": 4,
    }


def test_median_summary_takes_medians_and_sums_counts() -> None:
    runs = [{"p50": 10.0, "count": 5}, {"p50": 30.0, "count": 5}, {"p50": 20.0, "count": 5}]
    assert median_summary(runs) == {"p50": 20.0, "count": 15}
