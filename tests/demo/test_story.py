"""The demo's story against the session's real broker and registry, on its own topics."""

from __future__ import annotations

import time

from pipeline.cli.demo import dead_letters_line
from pipeline.config import Settings
from pipeline.demo.story import POISON, DemoOptions, history_start, run_story
from pipeline.events import generate_events
from pipeline.services.windows import Windowing


def test_the_story_runs_end_to_end(settings: Settings) -> None:
    said: list[str] = []
    progress: list[tuple[str, int, int]] = []
    options = DemoOptions(events=400, rate=None, anomaly_rate=0.01)

    report = run_story(settings, options, said.append, lambda *p: progress.append(p))

    # 400 with v1, then 200 with v1 and 200 with v2 at once, then the bad messages.
    assert report.produced == 800 + len(POISON)
    assert report.analytics["totals"]["events"] == 800
    assert sum(report.analytics["totals"]["by_status"].values()) == 800
    # The v1 phase's events fill one window, which the v1 + v2 phase (at the wall clock,
    # two windows later) closed.
    assert report.windows_closed == 1
    stored, skipped = (int(part.split()[0]) for part in report.storage.split(", ")[:2])
    assert stored + skipped == 800 and "0 refused" in report.storage  # skipped: duplicates
    # Killed after the first 400, the processor came back with its state: the 400 after it
    # were judged against it (its counts are since the restart), and no alert is doubled.
    assert report.processor.startswith("400 events, ")
    assert {r["source"] for r in report.processor_restores.values()} == {"local file"}
    assert report.alert_ids_distinct and sum(report.alerts.values()) > 0
    # v2 grew the table; the breaking schema was refused with the field named.
    assert sorted(set(report.columns_after) - set(report.columns_before)) == ["amount", "currency"]
    assert report.refused_reason == (
        f"refused in '{settings.topic}-value' at BACKWARD: field 'user_id' is a string in "
        "version 2 but a long in the new schema, and Avro cannot promote string to long: the "
        "new schema cannot read data written with version 2"
    )
    assert "errorType" not in " ".join(said)
    # Each of the three services dead-letters each bad message once.
    assert report.dead_letters == 3 * len(POISON)
    assert (report.dead_messages, report.dead_services) == (len(POISON), 3)
    assert dead_letters_line(report) == "9 dead letters this run: 3 messages × 3 services"
    assert report.timeline is not None
    rows = report.timeline.as_dicts()
    assert [row["status"] for row in rows] == ["PLACED", "CONFIRMED", "SHIPPED", "DELIVERED"]
    assert {row["schema_version"] for row in rows} == {2}
    assert all(row["amount"] is not None for row in rows)
    assert any("v2" in label for label, _, _ in progress)
    assert any(line.startswith("order_event.v2.avsc registered") for line in said)


def test_a_second_run_counts_its_own_dead_letters_and_schemas_already_there(
    settings: Settings,
) -> None:
    said: list[str] = []
    options = DemoOptions(events=200, rate=None, anomaly_rate=0.0)
    run_story(settings, options, lambda _: None, lambda *p: None)
    again = run_story(settings, options, said.append, lambda *p: None)
    assert again.dead_letters == 3 * len(POISON)  # this run's, though the topic holds 18
    assert any(line.startswith("order_event.v1.avsc was already registered") for line in said)


def test_the_demos_history_starts_a_window_and_ends_two_windows_before_now() -> None:
    windowing = Windowing()
    now = 1_790_000_123_456
    for events in (200, 20_000, 100_000):
        start = history_start(now, events, windowing)
        assert start == windowing.start_of(start)  # a window starts with the v1 phase
        # Its steps average 20 ms, and their sum strays by seconds, not a window, even at
        # 100,000: the window of its last event ends, with its grace, before now.
        last_window_end = windowing.start_of(start + events * 20) + windowing.size_ms
        assert last_window_end + windowing.grace_ms + windowing.size_ms <= now


def test_unthrottled_event_times_never_run_ahead_of_the_clock() -> None:
    events = generate_events(orders=10)
    stamps = [next(events)["timestamp"] for _ in range(50_000)]  # ~1,000,000 ms simulated
    assert max(stamps) <= time.time() * 1000
    assert stamps == sorted(stamps)
