"""The order processor: alerts ids, and alerts on the real broker judged against restored
state (a restart, a lost state folder) exactly as a pure replay of the rules judges."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.config import Settings
from pipeline.events import AlertKind
from pipeline.producer import ProduceOptions, produce
from pipeline.services.guarantees import Guarantee
from pipeline.services.lifecycle import Retention
from pipeline.services.order_processor import OrderProcessor, alert_id, epoch_ms
from pipeline.services.runner import Runner, RunOptions
from tests.order_helpers import register_v1
from tests.services.stateful_helpers import expected_alerts, input_events, written_alerts

RETENTION = Retention(finished_ms=5_000, open_ms=60_000)


def run(settings: Settings, count: int, guarantee: Guarantee = Guarantee.EXACTLY_ONCE) -> None:
    processor = OrderProcessor(settings, retention=RETENTION)
    options = RunOptions(
        max_events=count,
        handle_signals=False,
        idle_timeout_s=15,
        group_id=f"{settings.topic}-op",
        batch_size=50,
        guarantee=guarantee,
    )
    summary = Runner(settings, processor, options).run()
    assert summary.consumed == count


def test_event_time_is_read_to_the_exact_millisecond() -> None:
    # float seconds * 1000 truncated 1.003 s to 1002 ms: two steps a millisecond apart looked
    # simultaneous, and the later one was reported out of order.
    start = datetime(1970, 1, 1, tzinfo=UTC)
    for ms in (0, 1_003, 1_005, 999_999, 1_735_689_600_123):
        assert epoch_ms(start + timedelta(milliseconds=ms)) == ms
    assert epoch_ms(1_234) == 1_234


def test_an_alert_id_is_the_events_identity_and_the_kind_only() -> None:
    assert alert_id("e1", "DUPLICATE") == alert_id("e1", "DUPLICATE")
    assert alert_id("e1", "DUPLICATE") != alert_id("e1", "OUT_OF_ORDER")
    assert alert_id("e1", "DUPLICATE") != alert_id("e2", "DUPLICATE")


@pytest.mark.parametrize("guarantee", list(Guarantee))
def test_alerts_across_a_restart_are_those_of_one_pass_over_the_input(
    settings: Settings, guarantee: Guarantee
) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=600, orders=30, seed=4, start_ms=0, anomaly_rate=0.1))
    run(settings, 250, guarantee)
    run(settings, 350, guarantee)  # a new instance: the state comes back from its folder
    expected = expected_alerts(input_events(settings), RETENTION)
    assert sum(expected.values()) > 30
    assert {kind for _, kind, _, _ in expected} >= {AlertKind.DUPLICATE, AlertKind.UNKNOWN_ORDER}
    assert written_alerts(settings) == expected


def test_a_lost_state_folder_is_restored_from_the_changelog(settings: Settings) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=500, orders=20, seed=9, start_ms=0, anomaly_rate=0.1))
    run(settings, 200)
    shutil.rmtree(settings.state_dir)
    run(settings, 300)
    assert written_alerts(settings) == expected_alerts(input_events(settings), RETENTION)


def test_clean_lifecycles_raise_no_alert(settings: Settings) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=300, seed=8))
    processor = OrderProcessor(settings)
    options = RunOptions(max_events=300, handle_signals=False, idle_timeout_s=15)
    summary = Runner(settings, processor, options).run()
    assert processor.counts == Counter({"events": 300, "legal": 300})
    assert summary.transactions >= 1 and summary.aborted_transactions == 0
    assert "300 events, 300 legal, 0 alerts" in processor.summary_line()
