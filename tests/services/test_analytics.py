"""The analytics aggregation (pure, with a fake clock)."""

from __future__ import annotations

from collections import Counter
from itertools import islice

import pytest

from pipeline.config import Settings
from pipeline.events import Source, Status, generate_events
from pipeline.producer import ProduceOptions, produce
from pipeline.services import analytics
from pipeline.services.analytics import Aggregator, Analytics
from pipeline.services.runner import Runner, RunOptions
from tests.order_helpers import register_v1


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_counts_by_status_and_source_and_orders_in_flight() -> None:
    agg = Aggregator(window_s=10, clock=Clock())
    agg.add("PLACED", "WEB", "o1")
    agg.add("PLACED", "API", "o2")
    agg.add("CONFIRMED", "WEB", "o1")
    agg.add("SHIPPED", "WEB", "o1")
    agg.add("DELIVERED", "WEB", "o1")
    snap = agg.snapshot()
    assert snap.total == 5
    assert snap.by_status == {
        "PLACED": 2,
        "CONFIRMED": 1,
        "SHIPPED": 1,
        "DELIVERED": 1,
        "CANCELLED": 0,
    }
    assert snap.by_source == {"WEB": 4, "MOBILE": 0, "API": 1}
    assert snap.in_flight == 1
    assert snap.delivered == 1


def test_a_cancelled_order_is_counted_once_and_leaves_the_orders_in_flight() -> None:
    agg = Aggregator(window_s=10, clock=Clock())
    for status in ("PLACED", "CONFIRMED", "CANCELLED", "CANCELLED", "SHIPPED"):
        agg.add(status, "WEB", "o1")
    agg.add("PLACED", "WEB", "o2")
    snap = agg.snapshot()
    assert snap.by_status["CANCELLED"] == 2  # events, as they came
    assert (snap.cancelled, snap.delivered, snap.in_flight) == (1, 0, 1)  # orders
    assert snap.to_dict()["orders_cancelled"] == 1


def test_a_late_step_does_not_bring_a_delivered_order_back_and_memory_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agg = Aggregator(window_s=10, clock=Clock())
    agg.add("PLACED", "WEB", "o1")
    agg.add("DELIVERED", "WEB", "o1")
    agg.add("SHIPPED", "WEB", "o1")  # swapped or re-delivered: arrives after DELIVERED
    assert agg.snapshot().in_flight == 0
    monkeypatch.setattr(analytics, "MAX_ORDERS", 3)
    for number in range(10):
        agg.add("PLACED", "WEB", f"never-delivered-{number}")
    assert agg.snapshot().in_flight == 3  # the oldest are forgotten, not kept forever


def test_unexpected_values_are_counted_under_their_own_name() -> None:
    agg = Aggregator(clock=Clock())
    agg.add("CANCELLED", "KIOSK", "o1")
    snap = agg.snapshot()
    assert snap.by_status["CANCELLED"] == 1
    assert snap.by_source["KIOSK"] == 1


def test_rate_over_a_sliding_window() -> None:
    clock = Clock()
    agg = Aggregator(window_s=10, clock=clock)
    for second in range(20):  # 50 events in each of 20 seconds
        clock.now = 100.0 + second
        for _ in range(50):
            agg.add("PLACED", "WEB", object())
    clock.now = 120.0
    assert agg.snapshot().events_per_s == 50.0
    clock.now = 125.0  # five quiet seconds: half the window is empty
    assert agg.snapshot().events_per_s == 25.0
    clock.now = 200.0
    assert agg.snapshot().events_per_s == 0.0


def test_rate_before_a_whole_window_has_passed() -> None:
    clock = Clock()
    agg = Aggregator(window_s=10, clock=clock)
    for _ in range(40):
        agg.add("PLACED", "WEB", "o")
    clock.now = 102.0
    assert agg.snapshot().events_per_s == 20.0


def test_snapshot_to_dict() -> None:
    agg = Aggregator(clock=Clock())
    agg.add("PLACED", "MOBILE", "o1")
    data = agg.snapshot().to_dict()
    assert data["total"] == 1
    assert data["by_source"]["MOBILE"] == 1
    assert data["orders_in_flight"] == 1


def test_analytics_service_counts_every_event(settings: Settings) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=250, orders=10, seed=12))
    generated = list(islice(generate_events(seed=12, orders=10), 250))
    analytics = Analytics()
    options = RunOptions(max_events=250, handle_signals=False, idle_timeout_s=15)
    summary = Runner(settings, analytics, options).run()
    snap = analytics.aggregator.snapshot()
    assert summary.handled == snap.total == 250
    assert snap.by_status == {s.value: 0 for s in Status} | dict(
        Counter(e["status"] for e in generated)
    )
    assert snap.by_source == {s.value: 0 for s in Source} | dict(
        Counter(e["source"] for e in generated)
    )
    assert snap.delivered == snap.by_status["DELIVERED"]
