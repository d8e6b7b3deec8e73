"""Exactly-once batches on a backlog, on the real broker: one transaction takes what has
piled up (beyond `batch_size`, up to `transaction_batch_size`), and a transaction aborted
in such a batch is redone whole: its alerts are those of one pass over the input, none
doubled, none missing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.kafka.admin import Admin, TopicSpec
from pipeline.model import Event, Refusal
from pipeline.producer import ProduceOptions, produce
from pipeline.serde import AvroDecoder
from pipeline.services.guarantees import Guarantee
from pipeline.services.lifecycle import Retention
from pipeline.services.order_processor import OrderProcessor
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.summary import RunSummary
from tests.order_helpers import register_v1
from tests.services.stateful_helpers import expected_alerts, read_topic, written_alerts
from tests.services.test_oversized import await_refusal, send_raw

RETENTION = Retention(finished_ms=5_000, open_ms=60_000)
RAW_KEY = b"big"  # send_raw's key: the one input message that is not an event


def options(count: int, guarantee: Guarantee) -> RunOptions:
    return RunOptions(
        max_events=count,
        handle_signals=False,
        idle_timeout_s=20,
        group_id=f"op-{guarantee.value}",
        batch_size=50,
        transaction_batch_size=1_000,
        guarantee=guarantee,
    )


def events_of(settings: Settings) -> list[tuple[int, int, dict[str, Any]]]:
    """(partition, offset, value) of the input's events; the raw message, dead-lettered, aside."""
    decoder = AvroDecoder(registry_client.connect(settings), f"{settings.topic}-value")
    return [
        (m.partition(), m.offset(), decoder.decode(m.value())[1])
        for m in read_topic(settings, settings.topic)
        if m.key() != RAW_KEY
    ]


def test_a_backlog_under_exactly_once_is_taken_in_fewer_larger_transactions(
    settings: Settings,
) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=2_000, orders=60, seed=5, start_ms=0, anomaly_rate=0.1))
    expected = expected_alerts(events_of(settings), RETENTION)
    summaries: dict[Guarantee, RunSummary] = {}
    for guarantee in Guarantee:
        run_settings = settings.with_(
            alerts_topic=f"{settings.topic}.alerts-{guarantee.value}",
            state_dir=settings.state_dir / guarantee.value,
        )
        processor = OrderProcessor(run_settings, retention=RETENTION)
        summaries[guarantee] = Runner(run_settings, processor, options(2_000, guarantee)).run()
        assert summaries[guarantee].consumed == 2_000
        assert written_alerts(run_settings) == expected
    eos, alo = summaries[Guarantee.EXACTLY_ONCE], summaries[Guarantee.AT_LEAST_ONCE]
    assert alo.batches == 2_000 // 50  # at-least-once keeps to batch_size
    # Exactly-once took what had piled up, beyond batch_size: fewer transactions, one each.
    assert eos.batches < alo.batches
    assert eos.transactions == eos.batches and eos.aborted_transactions == 0


class LowersTheLetterLimit(OrderProcessor):
    """The order processor, lowering the dead-letter topic's limit (on the real broker) as
    it handles its first batch: it read the old limit when it started, so a large letter
    looks as if it fits and the broker refuses it inside the transaction."""

    lowered = False

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        if not self.lowered:
            self.lowered = True
            Admin.from_settings(self.settings).set_config(
                self.settings.dlq_topic, {"max.message.bytes": "60000"}
            )
            await_refusal(self.settings, 70_000)
        return super().handle(batch)


def test_a_transaction_aborted_in_a_large_batch_is_redone_whole(settings: Settings) -> None:
    register_v1(settings)
    Admin.from_settings(settings).ensure(
        [TopicSpec(settings.topic, settings.partitions), TopicSpec(settings.dlq_topic, 1)]
    )
    produce(settings, ProduceOptions(count=800, orders=40, seed=6, start_ms=0, anomaly_rate=0.1))
    send_raw(settings, b"plain text " * 9_000)  # a letter of ~99 kB: refused once lowered
    produce(settings, ProduceOptions(count=800, orders=40, seed=7, start_ms=0, anomaly_rate=0.1))
    processor = LowersTheLetterLimit(settings, retention=RETENTION)
    summary = Runner(settings, processor, options(1_601, Guarantee.EXACTLY_ONCE)).run()
    assert summary.consumed == 1_601
    # The batch with the refused letter, redone (twice when the first abort came before the
    # letter's delivery report said why: the letter went again as it was).
    assert summary.aborted_transactions >= 1
    assert dict(summary.dead_lettered) == {"oversized": 1}
    assert summary.batches < 1_601 // 50  # the batches were larger than batch_size
    expected = expected_alerts(events_of(settings), RETENTION)
    assert sum(expected.values()) > 30
    assert written_alerts(settings) == expected  # nothing of the aborted batch doubled or lost
    assert processor.counts["events"] == 1_600  # counted once, after the redo committed
