"""The repository's own v3 schema (orders can be CANCELLED) through all three services, on the
real broker and registry: nothing crashes, every service counts the cancellations."""

from __future__ import annotations

from collections import Counter
from itertools import islice
from typing import Any

from click.testing import CliRunner

from pipeline import registry_client
from pipeline.cli.main import cli
from pipeline.config import Settings
from pipeline.events import generate_events
from pipeline.producer import ProduceOptions, produce
from pipeline.serde import AvroEncoder
from pipeline.services.alerts_reader import read_alerts
from pipeline.services.analytics import Analytics
from pipeline.services.lifecycle import PartitionLifecycle, Step
from pipeline.services.order_processor import OrderProcessor
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.state.table import MemoryTable
from pipeline.services.storage import StorageService
from tests.order_helpers import fetch, produce_raw
from tests.paths import SCHEMAS

V3 = SCHEMAS / "order_event.v3.avsc"
COUNT, SEED, ORDERS = 600, 31, 30


def register_up_to_v3(settings: Settings) -> AvroEncoder:
    subject = registry_client.value_subject(settings.topic)
    with registry_client.connected(settings) as client:
        for version in ("v1", "v2", "v3"):
            path = SCHEMAS / f"order_event.{version}.avsc"
            registry_client.register(client, subject, path.read_text())
        return AvroEncoder.for_subject(client, subject, V3.read_text())


def shipped_then_cancelled(order_id: str) -> list[dict[str, Any]]:
    base = {"order_id": order_id, "user_id": "u-1", "source": "WEB", "amount": 9.5}
    steps = [("PLACED", 1), ("CONFIRMED", 2), ("SHIPPED", 3), ("CANCELLED", 4), ("DELIVERED", 5)]
    return [
        base
        | {
            "event_id": f"00000000-0000-7000-8000-00000000000{n}",
            "event_type": f"order_{status.lower()}",
            "status": status,
            "timestamp": 1_000 + n,
            "currency": "EUR",
        }
        for status, n in steps
    ]


def test_v3_cancellations_through_the_processor_analytics_and_the_store(
    settings: Settings,
) -> None:
    encoder = register_up_to_v3(settings)
    summary = produce(
        settings, ProduceOptions(count=COUNT, orders=ORDERS, seed=SEED, start_ms=0, schema_path=V3)
    )
    assert summary.delivered == COUNT
    generated = list(
        islice(generate_events(seed=SEED, orders=ORDERS, start_ms=0, cancel_rate=0.05), COUNT)
    )
    late = shipped_then_cancelled("00000000-0000-7000-8000-0000000000aa")
    produce_raw(
        settings, settings.topic, [(e["order_id"].encode(), encoder.encode(e)) for e in late]
    )
    everything = generated + late
    cancelled = sum(e["status"] == "CANCELLED" for e in everything)
    assert cancelled > 5  # the producer wrote cancellations because v3 can say them

    processor, analytics = OrderProcessor(settings), Analytics(settings)
    storage = StorageService(settings)
    for service in (processor, analytics, storage):
        options = RunOptions(
            group_id=f"{settings.topic}-{service.name}",
            max_events=len(everything),
            idle_timeout_s=20,
            handle_signals=False,
        )
        run = Runner(settings, service, options).run()
        assert (run.handled, run.stopped_by, dict(run.dead_lettered)) == (
            len(everything),
            "max-events",
            {},
        ), service.name

    # The order processor judged every cancellation, and alerted only the late ones.
    # (Orders are independent and nothing expires here: one stream judges as partitions do.)
    rules, expected = PartitionLifecycle(MemoryTable()), Counter[str]()
    for e in everything:
        step = Step(e["order_id"], e["event_id"], e["status"], e["timestamp"])
        verdict = rules.judge(step).verdict
        expected[verdict.alert.value if verdict.alert else "legal"] += 1
    judged = {k: v for k, v in processor.counts.items() if k not in ("events", "forgotten")}
    assert judged == dict(expected)
    assert expected["ILLEGAL_TRANSITION"] == 2  # cancelled after SHIPPED; DELIVERED after that

    totals = analytics.picture().totals
    assert totals.by_status["CANCELLED"] == cancelled
    assert totals.cancelled == cancelled  # each cancelled order once

    assert fetch(settings.db_path, "SELECT count(*) FROM events WHERE status = 'CANCELLED'") == [
        (cancelled,)
    ]
    shown = CliRunner().invoke(cli, ["query", "--db", str(settings.db_path), "stats", "--csv"])
    assert shown.exit_code == 0, shown.output
    assert f"CANCELLED,{cancelled}" in shown.output


def test_a_cancelled_order_is_judged_not_a_crash(settings: Settings) -> None:
    """On the old code: KeyError: 'CANCELLED' out of the processor, nothing committed."""
    encoder = register_up_to_v3(settings)
    events = shipped_then_cancelled("00000000-0000-7000-8000-0000000000bb")
    produce_raw(
        settings, settings.topic, [(e["order_id"].encode(), encoder.encode(e)) for e in events]
    )
    processor = OrderProcessor(settings)
    options = RunOptions(max_events=5, idle_timeout_s=20, handle_signals=False)
    run = Runner(settings, processor, options).run()
    assert (run.handled, dict(run.dead_lettered)) == (5, {})
    assert processor.counts == {"events": 5, "legal": 3, "ILLEGAL_TRANSITION": 2}
    # The order's state was CANCELLED when DELIVERED came (read back from the alerts).
    alerts = {(a["status"], a["previous_status"]) for a in read_alerts(settings)}
    assert alerts == {("CANCELLED", "SHIPPED"), ("DELIVERED", "CANCELLED")}
