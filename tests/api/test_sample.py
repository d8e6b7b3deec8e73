"""The figures one sample derives from the one before: pure logic, no server."""

from __future__ import annotations

from pipeline.api.sample import GroupLag, group_lag, rate_of


def test_a_rate_needs_a_figure_before_and_time_between() -> None:
    assert rate_of(150, 100, 2.0) == 25.0
    assert rate_of(150, None, 2.0) is None  # the first sample
    assert rate_of(150, 100, 0.0) is None
    assert rate_of(90, 100, 2.0) == 0.0  # a counter that went back (a reset) is no negative rate


def test_lag_counts_only_the_input_topic_and_never_below_zero() -> None:
    ends = {("orders", 0): 10, ("orders", 1): 5, ("orders.dlq", 0): 99}
    committed = {("orders", 0): 4, ("orders", 1): 7}  # ahead of a stale end: lag 0, never negative
    before = GroupLag("storage", lag=0, consumed=1, partitions={}, rate=None)

    lag = group_lag("storage", "orders", committed, ends, before, elapsed=2.0)

    assert lag == GroupLag("storage", 6, 11, {0: 6, 1: 0}, 5.0)


def test_a_partition_nothing_was_committed_on_lags_by_its_end() -> None:
    lag = group_lag("storage", "orders", {}, {("orders", 0): 8}, None, elapsed=1.0)
    assert (lag.lag, lag.consumed, lag.partitions, lag.rate) == (8, 0, {0: 8}, None)
