"""The stateful services SIGKILLed three times during 20,000 events, restarted each time.

Their promise: the alerts topic (and the stats topic), read committed, hold exactly what a
pure replay of the rules over the input gives, each record once, whatever happened to the
process; a state folder lost between runs is rebuilt from the changelog; two instances,
one joining mid-stream and one leaving, give the same results as one.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.services.lifecycle import Retention
from pipeline.services.windows import Windowing
from tests.faults.helpers import offsets, wait_for
from tests.faults.stateful_runs import TOTAL, ServiceProcess, Stream, check_kills
from tests.services.stateful_helpers import (
    expected_alerts,
    expected_windows,
    input_events,
    written_alerts,
    written_windows,
)

WINDOWING = Windowing(size_ms=5_000, grace_ms=1_000)
WINDOW_FLAGS = ("--window", "5", "--grace", "1")


def assert_alerts_as_replayed(settings: Settings) -> None:
    events = input_events(settings)
    assert len(events) == TOTAL
    expected = expected_alerts(events, Retention())
    written = written_alerts(settings)
    assert sum(expected.values()) > 100
    missing, extra = expected - written, written - expected
    assert (missing, extra) == ({}, {}), f"{len(missing)} missing, {len(extra)} extra"


def assert_windows_as_replayed(settings: Settings, last: dict[str, object]) -> None:
    events = input_events(settings)
    expected, states = expected_windows(events, WINDOWING)
    written = written_windows(settings)
    keys = [(w.partition, w.start_ms) for w in written]
    assert len(keys) == len(set(keys)), "a window was written twice"
    order = lambda w: (w.partition, w.start_ms)  # noqa: E731
    assert sorted(written, key=order) == sorted(expected, key=order)
    totals = last["analytics"]["totals"]  # type: ignore[index]
    assert totals["events"] == TOTAL  # the running totals of every partition
    assert totals["events"] == sum(s.totals.events for s in states.values())


@pytest.mark.faults
def test_order_processor_killed_three_times_raises_each_alert_once(
    settings: Settings, tmp_path: Path
) -> None:
    service = ServiceProcess(settings, "order-processor", tmp_path)
    rng = random.Random(12_2026)
    with Stream(settings, seed=7_001):
        kills = [service.kill_once(rng) for _ in range(3)]
    last = service.finish()
    check_kills(kills)
    assert last["run"]["stopped_by"] == "idle"
    assert [c for c, _ in offsets(settings, service.group)] == [
        h for _, h in offsets(settings, service.group)
    ]
    assert_alerts_as_replayed(settings)


@pytest.mark.faults
def test_analytics_killed_three_times_writes_each_window_once(
    settings: Settings, tmp_path: Path
) -> None:
    service = ServiceProcess(settings, "analytics", tmp_path, *WINDOW_FLAGS)
    rng = random.Random(13_2026)
    with Stream(settings, seed=7_002):
        kills = [service.kill_once(rng) for _ in range(3)]
    last = service.finish()
    check_kills(kills)
    assert_windows_as_replayed(settings, last)


@pytest.mark.faults
def test_two_instances_one_joining_one_leaving_and_a_lost_folder_give_the_same_results(
    settings: Settings, tmp_path: Path
) -> None:
    """Instance A starts; B joins mid-stream (the partitions are shared); A leaves (B
    restores A's partitions from the changelog); then B's state folder is deleted and a
    last run rebuilds everything from the changelog alone."""
    processor = ServiceProcess(settings, "order-processor", tmp_path)
    analytics = ServiceProcess(settings, "analytics", tmp_path, *WINDOW_FLAGS)
    with Stream(settings, seed=7_003):
        for service in (processor, analytics):
            first = service.start()
            assert wait_for(lambda s=service: s.committed() >= 3_000, timeout_s=90)
            second = service.start()  # joins: the group rebalances, state moves with it
            assert wait_for(lambda s=service: s.holders() == 2, timeout_s=120, interval_s=0.5)
            assert wait_for(lambda s=service: s.committed() >= 9_000, timeout_s=120)
            first.terminate()  # leaves cleanly: its partitions go to the other
            assert first.wait(timeout=30) == 0
            assert wait_for(lambda s=service: s.committed() >= 12_000, timeout_s=120)
            second.terminate()
            assert second.wait(timeout=30) == 0
    shutil.rmtree(settings.state_dir)
    time.sleep(0.5)
    processor.finish()
    last = analytics.finish()
    assert_alerts_as_replayed(settings)
    assert_windows_as_replayed(settings, last)
