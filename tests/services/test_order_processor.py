"""The order processor: the lifecycle tracker (pure) and alerts on the real broker."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.events import AlertKind, generate_events
from pipeline.producer import ProduceOptions, produce
from pipeline.serde import AvroDecoder
from pipeline.services.order_processor import LifecycleTracker, OrderProcessor, epoch_ms
from pipeline.services.runner import Runner, RunOptions
from tests.order_helpers import read_all, register_v1


def test_tracker_follows_each_order_and_reports_the_wrong_steps() -> None:
    tracker = LifecycleTracker()
    assert tracker.apply("o1", "e1", "PLACED", 1).alert is None
    assert tracker.apply("o1", "e2", "CONFIRMED", 2).alert is None
    assert tracker.apply("o1", "e2", "CONFIRMED", 2).alert is AlertKind.DUPLICATE
    assert tracker.apply("o1", "e3", "DELIVERED", 3).alert is AlertKind.ILLEGAL_TRANSITION
    assert tracker.apply("o1", "e4", "SHIPPED", 2).alert is AlertKind.OUT_OF_ORDER
    assert tracker.apply("o2", "e5", "SHIPPED", 4).alert is AlertKind.UNKNOWN_ORDER
    assert tracker.status_of("o1") == "DELIVERED"
    assert tracker.status_of("o2") == "SHIPPED"
    assert tracker.status_of("o3") is None


def test_event_time_is_read_to_the_exact_millisecond() -> None:
    # float seconds * 1000 truncated 1.003 s to 1002 ms: two steps a millisecond apart looked
    # simultaneous, and the later one was reported out of order.
    start = datetime(1970, 1, 1, tzinfo=UTC)
    for ms in (0, 1_003, 1_005, 999_999, 1_735_689_600_123):
        assert epoch_ms(start + timedelta(milliseconds=ms)) == ms
    assert epoch_ms(1_234) == 1_234


def test_a_batch_that_raises_leaves_the_tracker_as_it_was() -> None:
    tracker = LifecycleTracker(max_orders=2)
    tracker.apply("a", "e1", "PLACED", 1)
    tracker.apply("b", "e2", "PLACED", 1)
    with pytest.raises(RuntimeError), tracker.transaction():
        tracker.apply("a", "e3", "CONFIRMED", 2)
        tracker.apply("c", "e4", "PLACED", 3)  # evicts "b"
        raise RuntimeError("an event the processor cannot take")
    assert (tracker.status_of("a"), tracker.status_of("b"), tracker.status_of("c")) == (
        "PLACED",
        "PLACED",
        None,
    )


def test_tracker_forgets_the_least_recent_orders_beyond_its_bound() -> None:
    tracker = LifecycleTracker(max_orders=2)
    for order in ("a", "b", "c"):
        tracker.apply(order, f"e-{order}", "PLACED", 1)
    assert len(tracker) == 2
    assert tracker.status_of("a") is None
    assert tracker.status_of("c") == "PLACED"


def expected_alerts(count: int, seed: int, anomaly_rate: float) -> Counter[str]:
    tracker, counts = LifecycleTracker(), Counter[str]()
    events = generate_events(seed=seed, orders=30, start_ms=0, anomaly_rate=anomaly_rate)
    for e in islice(events, count):
        verdict = tracker.apply(e["order_id"], e["event_id"], e["status"], e["timestamp"])
        counts[verdict.alert.value if verdict.alert else "legal"] += 1
    return counts


def test_processor_raises_one_avro_alert_per_wrong_event(settings: Settings) -> None:
    register_v1(settings)
    options = ProduceOptions(count=400, orders=30, seed=4, start_ms=0, anomaly_rate=0.1)
    produce(settings, options)
    processor = OrderProcessor(settings)
    runner = Runner(
        settings,
        processor,
        RunOptions(
            max_events=400, handle_signals=False, idle_timeout_s=15, group_id=settings.topic
        ),
    )
    summary = runner.run()
    expected = expected_alerts(400, 4, 0.1)
    assert summary.handled == 400
    assert {k: v for k, v in processor.counts.items() if k != "events"} == dict(expected)
    alerts = sum(n for kind, n in expected.items() if kind != "legal")
    assert alerts > 20
    assert f"400 events, {expected['legal']} legal, {alerts} alerts" in processor.summary_line()

    messages = read_all(settings, settings.alerts_topic, alerts)
    decoder = AvroDecoder(registry_client.connect(settings), f"{settings.alerts_topic}-value")
    records = [decoder.decode(m.value())[1] for m in messages]
    assert Counter(r["kind"] for r in records) == {
        k: v for k, v in expected.items() if k in AlertKind.__members__
    }
    assert len({r["alert_id"] for r in records}) == alerts
    assert all(m.key() == r["order_id"].encode() for m, r in zip(messages, records, strict=True))
    assert all(r["topic"] == settings.topic for r in records)


def test_clean_lifecycles_raise_no_alert(settings: Settings) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=300, seed=8))
    processor = OrderProcessor(settings)
    options = RunOptions(max_events=300, handle_signals=False, idle_timeout_s=15)
    Runner(settings, processor, options).run()
    assert processor.counts == {"events": 300, "legal": 300}
    processor.close()
