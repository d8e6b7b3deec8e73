"""Percentiles and medians of measured samples (pure)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

PERCENTILES = {"p50": 0.50, "p90": 0.90, "p99": 0.99, "p999": 0.999}


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted samples."""
    if not ordered:
        raise ValueError("no samples")
    # Rounded first so that 0.99 * 100 is rank 99, not 100 through a float's last bit.
    rank = max(1, math.ceil(round(fraction * len(ordered), 9)))
    return float(ordered[min(len(ordered), rank) - 1])


def latency_summary(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max (ms) and the sample count."""
    ordered = sorted(samples_ms)
    summary = {name: round(percentile(ordered, q), 2) for name, q in PERCENTILES.items()}
    summary["max"] = round(float(ordered[-1]), 2)
    summary["count"] = len(ordered)
    return summary


def median_summary(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """Per key, the median over runs (the count is summed)."""
    keys = [key for key in runs[0] if key != "count"]
    merged = {key: round(statistics.median(run[key] for run in runs), 2) for key in keys}
    merged["count"] = sum(run["count"] for run in runs)
    return merged
