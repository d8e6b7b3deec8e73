"""Analytics' windows as the API merges them while they arrive (pure: no server)."""

from __future__ import annotations

import random

from pipeline.api.windows import AnalyticsWindows
from pipeline.services.stats import merge
from pipeline.services.windows import ClosedWindow, Observation, Windowing, replay

WINDOWING = Windowing(size_ms=400, grace_ms=100)
SOURCES = ("WEB", "MOBILE", "API")


def lifecycles(seed: int, orders: int, start_ms: int = 0) -> list[Observation]:
    """Orders placed, confirmed, shipped and delivered, interleaved, on a moving clock."""
    rng = random.Random(seed)
    steps = ["PLACED", "CONFIRMED", "SHIPPED", "DELIVERED"]
    pending = {f"o-{seed}-{n}": 0 for n in range(orders)}
    sources = {order: rng.choice(SOURCES) for order in pending}
    clock, found = start_ms, []
    while pending:
        order = rng.choice(sorted(pending))
        clock += rng.randrange(1, 60)
        found.append(Observation(order, steps[pending[order]], sources[order], clock))
        pending[order] += 1
        if pending[order] == len(steps):
            del pending[order]
    return found


def closed_windows() -> list[ClosedWindow]:
    """What analytics closes on three partitions, in the order a reader would see them."""
    closed = []
    for partition in range(3):
        done, _ = replay(partition, lifecycles(partition, 40), WINDOWING)
        closed.extend(done)
    random.Random(1).shuffle(closed)  # partitions' records interleave on the stats topic
    return closed


def test_windows_merge_as_the_stats_command_merges_them() -> None:
    closed = closed_windows()
    seen = AnalyticsWindows("order-stats")
    for window in closed:
        seen.add(window)
    expected = merge(closed).to_dict()
    assert len(expected["windows"]) > 10
    assert seen.windows(limit=1000) == expected["windows"]
    summary = seen.summary()
    assert summary["totals"] == expected["totals"]
    assert summary["partitions"] == [0, 1, 2]
    assert summary["window_ms"] == 400
    timed = [w["fulfilment"] for w in expected["windows"] if w["fulfilment"]]
    assert len(timed) > 3 and all(
        {"count", "p50_ms", "p95_ms"} <= set(figures) for f in timed for figures in f.values()
    )


def test_a_window_done_again_replaces_its_record_instead_of_counting_twice() -> None:
    closed = closed_windows()
    seen = AnalyticsWindows("order-stats")
    for window in closed + closed[:7]:  # at-least-once: a batch's windows written twice
        seen.add(window)
    assert seen.windows(limit=1000) == merge(closed).to_dict()["windows"]
    assert seen.records == len(closed) + 7


def test_changed_windows_are_those_touched_since_a_sequence_number() -> None:
    closed = sorted(closed_windows(), key=lambda w: (w.start_ms, w.partition))
    seen = AnalyticsWindows("order-stats")
    for window in closed[:10]:
        seen.add(window)
    mark = seen.seq
    assert seen.changed(mark) == []
    for window in closed[10:12]:
        seen.add(window)
    touched = sorted({w.start_ms for w in closed[10:12]})
    assert [w["window_start"] for w in seen.changed(mark)] == touched
    # Each changed window as merged so far, with the partitions it holds.
    latest = seen.changed(mark)[-1]
    assert (
        latest == merge(w for w in closed[:12] if w.start_ms == touched[-1]).to_dict()["windows"][0]
    )


def test_only_the_latest_windows_are_kept_and_the_totals_still_count_all() -> None:
    closed = closed_windows()
    seen = AnalyticsWindows("order-stats", kept=4)
    for window in closed:
        seen.add(window)
    starts = sorted({w.start_ms for w in closed})
    assert [w["window_start"] for w in seen.windows(limit=1000)] == starts[-4:]
    assert seen.summary()["totals"] == merge(closed).to_dict()["totals"]
    assert seen.windows(limit=2) == seen.windows(limit=1000)[-2:]
