"""Durations as a mergeable histogram: percentiles of several partitions from their counts.

A percentile of two partitions cannot be computed from each partition's percentile, but it
can from their histograms. Bucket `i` holds the durations in (GROWTH^(i-1), GROWTH^i] ms
(bucket 0: up to 1 ms), so any duration is estimated within 1 % of its value; a histogram
is a sparse {bucket: count} dict, merged by adding counts. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

GROWTH = 1.02
_LOG_GROWTH = math.log(GROWTH)

Histogram = dict[int, int]


def bucket_of(duration_ms: float) -> int:
    if duration_ms <= 1:
        return 0
    return math.ceil(math.log(duration_ms) / _LOG_GROWTH - 1e-9)


def bucket_value(bucket: int) -> int:
    """The value a bucket stands for: the middle of its range, relatively (error ≤ 1 %)."""
    if bucket <= 0:
        return 1 if bucket == 0 else 0
    return round(2 * GROWTH**bucket / (GROWTH + 1))


def add(histogram: Histogram, duration_ms: float) -> None:
    bucket = bucket_of(duration_ms)
    histogram[bucket] = histogram.get(bucket, 0) + 1


def merge(histograms: Iterable[Mapping[int, int]]) -> Histogram:
    merged: Histogram = {}
    for histogram in histograms:
        for bucket, count in histogram.items():
            merged[bucket] = merged.get(bucket, 0) + count
    return merged


def count(histogram: Mapping[int, int]) -> int:
    return sum(histogram.values())


def quantile(histogram: Mapping[int, int], q: float) -> int | None:
    """The estimated `q`-quantile (0 < q ≤ 1) in ms, None for an empty histogram."""
    total = count(histogram)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))  # the rank-th smallest duration (nearest rank)
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket_value(bucket)
    return bucket_value(max(histogram))
