"""The order processor's rules over a partition's state, on event time (pure)."""

from __future__ import annotations

import json
from itertools import islice

from pipeline.events import AlertKind, generate_events
from pipeline.services.lifecycle import (
    HOUR_MS,
    Judgement,
    PartitionLifecycle,
    Retention,
    Step,
    replay,
)
from pipeline.services.state.table import Entry, MemoryTable


def steps(count: int, seed: int, anomaly_rate: float = 0.05) -> list[Step]:
    events = generate_events(seed=seed, orders=40, start_ms=0, anomaly_rate=anomaly_rate)
    return [
        Step(e["order_id"], e["event_id"], e["status"], e["timestamp"])
        for e in islice(events, count)
    ]


def kinds(judgements: list[Judgement]) -> list[str | None]:
    return [j.verdict.alert.value if j.verdict.alert else None for j in judgements]


def test_each_wrong_step_is_reported_with_the_status_before_it() -> None:
    lifecycle = PartitionLifecycle(MemoryTable())
    seen = [
        lifecycle.judge(Step("o1", "e1", "PLACED", 1)),
        lifecycle.judge(Step("o1", "e2", "CONFIRMED", 2)),
        lifecycle.judge(Step("o1", "e2", "CONFIRMED", 2)),
        lifecycle.judge(Step("o1", "e3", "DELIVERED", 3)),
        lifecycle.judge(Step("o1", "e4", "SHIPPED", 2)),
        lifecycle.judge(Step("o2", "e5", "SHIPPED", 4)),
    ]
    assert kinds(seen) == [
        None,
        None,
        AlertKind.DUPLICATE,
        AlertKind.ILLEGAL_TRANSITION,
        AlertKind.OUT_OF_ORDER,
        AlertKind.UNKNOWN_ORDER,
    ]
    assert [j.previous for j in seen] == [
        None,
        "PLACED",
        "CONFIRMED",
        "CONFIRMED",
        "DELIVERED",
        None,
    ]
    assert lifecycle.clock == 4


def test_a_finished_order_is_remembered_for_its_retention_of_event_time_then_forgotten() -> None:
    retention = Retention(finished_ms=1_000, open_ms=HOUR_MS)
    lifecycle = PartitionLifecycle(MemoryTable(), retention)
    for number, status in enumerate(["PLACED", "CONFIRMED", "SHIPPED", "DELIVERED"]):
        lifecycle.judge(Step("o1", f"e{number}", status, 10_000 + number))
    again = lifecycle.judge(Step("o1", "e3", "DELIVERED", 10_500))  # a late copy: known
    assert again.verdict.alert is AlertKind.DUPLICATE
    lifecycle.judge(Step("o2", "x1", "PLACED", 11_003))  # the partition's clock moves on
    late = lifecycle.judge(Step("o1", "e3", "DELIVERED", 10_600))
    assert late.verdict.alert is AlertKind.UNKNOWN_ORDER  # forgotten: retention passed


def test_purging_deletes_only_what_has_expired_and_keeps_the_state_bounded() -> None:
    table = MemoryTable()
    lifecycle = PartitionLifecycle(table, Retention(finished_ms=60_000, open_ms=600_000))
    for step in steps(20_000, seed=3, anomaly_rate=0.0):
        lifecycle.judge(step)
        lifecycle.purge()
    orders = [key for key in table.entries if key.startswith("o:")]
    # 40 orders in flight, ~20 ms apart per event: a minute of finished orders at most.
    assert 40 <= len(orders) < 1_500
    assert all(
        entry.expires_at is not None and entry.expires_at > lifecycle.clock
        for key, entry in table.entries.items()
        if key.startswith("o:")
    )


def test_judgements_do_not_depend_on_when_the_state_is_purged() -> None:
    stream = steps(8_000, seed=11)
    retention = Retention(finished_ms=5_000, open_ms=60_000)
    reference = kinds(list(replay(stream, retention)))
    assert reference.count(None) < len(reference)  # anomalies are there to be judged
    for every in (1, 7, 500):
        assert kinds(list(replay(stream, retention, purge_every=every))) == reference


def test_a_state_restored_from_its_changelog_encoding_judges_the_rest_the_same() -> None:
    """The state goes through JSON (as the changelog and the local file carry it) mid-way."""
    stream = steps(6_000, seed=5)
    retention = Retention(finished_ms=10_000, open_ms=120_000)
    reference = kinds(list(replay(stream, retention)))
    table = MemoryTable()
    first = PartitionLifecycle(table, retention)
    judged = [first.judge(step) for step in stream[:2_500]]
    first.purge()
    restored = MemoryTable()
    for key, entry in table.entries.items():
        restored.put(key, json.loads(json.dumps(entry.value)), entry.expires_at)
    second = PartitionLifecycle(restored, retention)
    judged += [second.judge(step) for step in stream[2_500:]]
    assert kinds(judged) == reference


def test_the_clock_is_kept_in_the_table() -> None:
    table = MemoryTable()
    PartitionLifecycle(table).judge(Step("o1", "e1", "PLACED", 42))
    assert table.get("~clock") == Entry(42, None)
    assert PartitionLifecycle(table).clock == 42


def test_a_cancelled_order_is_finished_and_forgotten_after_its_retention() -> None:
    retention = Retention(finished_ms=1_000, open_ms=HOUR_MS)
    lifecycle = PartitionLifecycle(MemoryTable(), retention)
    lifecycle.judge(Step("o1", "e1", "PLACED", 100))
    assert lifecycle.judge(Step("o1", "e2", "CANCELLED", 200)).verdict.alert is None
    after = lifecycle.judge(Step("o1", "e3", "CONFIRMED", 300))
    assert after.verdict.alert is AlertKind.ILLEGAL_TRANSITION  # nothing follows CANCELLED
    lifecycle.judge(Step("o2", "x", "PLACED", 1_400))
    assert lifecycle.purge() == 1  # o1: its retention ran out at 1,300
