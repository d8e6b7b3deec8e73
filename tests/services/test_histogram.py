"""Mergeable duration histograms: 1 % buckets, percentiles, merging (pure)."""

from __future__ import annotations

import random

from pipeline.services import histogram


def test_every_duration_is_estimated_within_one_percent() -> None:
    for duration in [2, 3, 17, 999, 1_000, 4_321, 60_000, 3_600_000, 86_400_000]:
        estimate = histogram.bucket_value(histogram.bucket_of(duration))
        assert abs(estimate - duration) <= 0.01 * duration + 0.5, duration
    assert histogram.bucket_of(0) == histogram.bucket_of(1) == 0


def test_percentiles_match_the_exact_ones_within_one_percent() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(8, 1) for _ in range(5_000)]
    buckets: histogram.Histogram = {}
    for value in values:
        histogram.add(buckets, value)
    ordered = sorted(values)
    for q in (0.5, 0.95):
        exact = ordered[max(0, int(q * len(ordered) + 0.999999) - 1)]
        estimate = histogram.quantile(buckets, q)
        assert estimate is not None
        assert abs(estimate - exact) <= 0.011 * exact + 1
    assert histogram.count(buckets) == 5_000
    assert histogram.quantile({}, 0.5) is None


def test_merging_is_adding_counts_and_gives_the_percentile_of_the_union() -> None:
    low: histogram.Histogram = {}
    high: histogram.Histogram = {}
    for value in range(1, 101):
        histogram.add(low, value * 10)  # 10 .. 1,000 ms
        histogram.add(high, 10_000 + value * 10)  # 10,010 .. 11,000 ms
    merged = histogram.merge([low, high])
    assert histogram.count(merged) == 200
    p50 = histogram.quantile(merged, 0.5)
    assert p50 is not None and 990 <= p50 <= 1_010  # the 100th of 200: the top of `low`
    p95 = histogram.quantile(merged, 0.95)
    assert p95 is not None and 10_800 <= p95 <= 11_000
