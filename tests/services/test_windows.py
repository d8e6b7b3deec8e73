"""Analytics over a partition's events on event time: windows, grace, late, totals (pure)."""

from __future__ import annotations

import json
from collections import Counter
from itertools import islice

from pipeline.events import generate_events
from pipeline.services.counts import Counts
from pipeline.services.lifecycle import Retention
from pipeline.services.state.table import MemoryTable
from pipeline.services.stats import merge
from pipeline.services.windows import (
    ClosedWindow,
    Observation,
    PartitionWindows,
    Windowing,
    replay,
)

MINUTE = 60_000


def observations(count: int, seed: int, anomaly_rate: float = 0.02) -> list[Observation]:
    events = generate_events(seed=seed, orders=50, start_ms=0, anomaly_rate=anomaly_rate)
    return [
        Observation(e["order_id"], e["status"], e["source"], e["timestamp"])
        for e in islice(events, count)
    ]


def test_a_window_counts_its_events_and_each_order_placed_delivered_or_cancelled_once() -> None:
    windows = PartitionWindows(0, MemoryTable(), Windowing(size_ms=MINUTE, grace_ms=0))
    for event in [
        Observation("o1", "PLACED", "WEB", 1_000),
        Observation("o1", "PLACED", "WEB", 1_001),  # a duplicate: counted as an event only
        Observation("o1", "DELIVERED", "WEB", 31_000),
        Observation("o2", "PLACED", "API", 2_000),
        Observation("o2", "CANCELLED", "API", 3_000),
        Observation("o2", "CANCELLED", "API", 3_500),
    ]:
        assert windows.add(event) == []
    closed = windows.add(Observation("o3", "PLACED", "MOBILE", MINUTE))
    assert [(w.start_ms, w.end_ms) for w in closed] == [(0, MINUTE)]
    counts = closed[0].counts
    assert counts.events == 6
    assert counts.by_status == {"PLACED": 3, "DELIVERED": 1, "CANCELLED": 2}
    assert counts.by_source == {"WEB": 3, "API": 3}
    assert (counts.placed, counts.delivered, counts.cancelled) == (2, 1, 1)
    assert counts.percentiles()["WEB"]["count"] == 1
    assert abs((counts.percentiles()["WEB"]["p50_ms"] or 0) - 30_000) <= 300
    assert closed[0].totals.events == 7


def test_a_window_closes_on_event_time_after_its_grace_and_late_events_are_counted() -> None:
    windows = PartitionWindows(0, MemoryTable(), Windowing(size_ms=MINUTE, grace_ms=5_000))
    windows.add(Observation("a", "PLACED", "WEB", 10_000))
    assert windows.add(Observation("b", "PLACED", "WEB", 64_999)) == []  # within the grace
    in_grace = windows.add(Observation("c", "PLACED", "WEB", 59_000))  # late, but in grace
    assert in_grace == []
    closed = windows.add(Observation("d", "PLACED", "WEB", 65_000))
    assert [w.start_ms for w in closed] == [0] and closed[0].counts.events == 2
    late = windows.add(Observation("e", "PLACED", "WEB", 30_000))  # its window has closed
    assert late == []
    current = windows.open[MINUTE]
    assert current.late == 1 and current.events == 3  # counted where the clock is
    assert current.placed == 2  # b and d; e is late: in the totals only
    assert windows.totals.events == 5 and windows.totals.late == 1
    assert windows.totals.placed == 5


def test_totals_equal_the_input_and_windows_plus_late_account_for_every_event() -> None:
    events = observations(30_000, seed=21)
    windowing = Windowing(size_ms=10_000, grace_ms=500)
    closed, state = replay(0, events, windowing)
    totals = state.totals
    assert totals.events == len(events)
    assert totals.by_status == dict(Counter(e.status for e in events))
    assert totals.by_source == dict(Counter(e.source for e in events))
    in_windows = sum(w.counts.events + w.counts.late for w in closed)
    in_windows += sum(c.events + c.late for c in state.open.values())
    assert in_windows == len(events)
    starts = [w.start_ms for w in closed]
    assert starts == sorted(set(starts))  # each window closed once, in order
    assert closed[-1].totals.events < len(events)


def test_replaying_through_the_changelog_encoding_mid_way_closes_the_same_windows() -> None:
    events = observations(12_000, seed=4)
    windowing = Windowing(size_ms=5_000, grace_ms=200)
    retention = Retention(finished_ms=20_000, open_ms=200_000)
    reference, _ = replay(3, events, windowing, retention)
    table = MemoryTable()
    first = PartitionWindows(3, table, windowing, retention)
    closed: list[ClosedWindow] = []
    for event in events[:5_000]:
        closed.extend(first.add(event))
    first.purge()
    first.write()
    restored = MemoryTable()
    for key, entry in table.entries.items():
        value = json.loads(json.dumps(entry.value))
        restored.put(key, value, entry.expires_at)
    second = PartitionWindows(3, restored, windowing, retention)
    for event in events[5_000:]:
        closed.extend(second.add(event))
    assert closed == reference


def test_the_rate_is_events_per_second_of_event_time() -> None:
    windows = PartitionWindows(0, MemoryTable(), Windowing(rate_window_s=10))
    for second in range(20):
        for number in range(50):
            windows.add(Observation(f"o{second}-{number}", "PLACED", "WEB", second * 1000 + number))
    assert windows.rate() == 50.0


def test_merging_partitions_adds_counts_and_takes_percentiles_of_the_union() -> None:
    def window(partition: int, start: int, durations: list[int], events: int) -> ClosedWindow:
        counts = Counts(events=events, by_status={"DELIVERED": events})
        for duration in durations:
            counts.count_fulfilment("WEB", duration)
        totals = Counts(events=events * 10)
        return ClosedWindow(partition, start, start + MINUTE, counts, totals, start + MINUTE)

    picture = merge(
        [
            window(0, 0, [1_000] * 10, 10),
            window(1, 0, [9_000] * 30, 30),
            window(0, MINUTE, [2_000], 1),
        ]
    )
    assert [w.start_ms for w in picture.windows] == [0, MINUTE]
    first = picture.windows[0]
    assert first.counts.events == 40 and first.partitions == {0, 1}
    p50 = first.counts.percentiles()["WEB"]["p50_ms"]
    assert p50 is not None and abs(p50 - 9_000) <= 90  # 30 of the 40 took 9 s
    assert picture.totals.events == 10 + 300  # the latest totals of each partition
    assert picture.partitions == [0, 1]
    assert picture.to_dict()["windows"][0]["fulfilment"]["WEB"]["count"] == 40
