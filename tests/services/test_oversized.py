"""Dead letters that do not fit, and a dead-letter topic that does not answer, on the real
broker: a message too large to copy becomes a letter with its digest instead of stopping
every service on its partition; an unavailable dead-letter topic stops the service without
committing, and the message is dead-lettered once the topic is back."""

from __future__ import annotations

import hashlib
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

import pipeline.kafka.checked_producer as checked_producer
from pipeline.config import Settings
from pipeline.dlq import DeadLetterError
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin, TopicSpec
from pipeline.producer import ProduceOptions, produce
from pipeline.services.analytics import Analytics
from pipeline.services.runner import Runner, RunOptions
from tests.order_helpers import read_all, register_v1

# What a Java client sends with its default max.request.size (1 MiB): near the broker's limit.
NEAR_THE_LIMIT = 1_040_000


def send_raw(
    settings: Settings, value: bytes, headers: list[tuple[str, bytes]] | None = None
) -> None:
    producer = clients.producer(
        settings.kafka_config(**{"acks": "all", "message.max.bytes": 1_048_576})
    )
    producer.produce(settings.topic, value, b"big", headers=headers)
    assert producer.flush(30) == 0


def run_analytics(settings: Settings, group: str, count: int) -> Runner:
    options = RunOptions(group_id=group, max_events=count, idle_timeout_s=20, handle_signals=False)
    runner = Runner(settings, Analytics(settings), options)
    runner.run()
    return runner


def committed_total(settings: Settings, group: str) -> int:
    consumer = Consumer(settings.kafka_config(**{"group.id": group}))
    try:
        parts = [TopicPartition(settings.topic, p) for p in range(settings.partitions)]
        return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
    finally:
        consumer.close()


def headers_of(settings: Settings, count: int) -> list[dict[str, str]]:
    letters = read_all(settings, settings.dlq_topic, count)
    assert len(letters) == count
    return [{k: v.decode() for k, v in m.headers() or []} for m in letters]


def test_a_message_near_the_brokers_limit_is_dead_lettered_byte_for_byte(
    settings: Settings,
) -> None:
    register_v1(settings)
    Admin.from_settings(settings).ensure([TopicSpec(settings.topic, settings.partitions)])
    value = b"<not avro>" + b"x" * (NEAR_THE_LIMIT - 10)
    send_raw(settings, value)
    produce(settings, ProduceOptions(count=20, seed=61))
    group = f"{settings.topic}-big"
    summary = run_analytics(settings, group, 21).summary
    assert dict(summary.dead_lettered) == {"not-wire-format": 1}
    assert committed_total(settings, group) == 21
    [letter] = read_all(settings, settings.dlq_topic, 1)
    assert letter.value() == value


def test_a_message_the_dead_letter_topic_cannot_take_leaves_its_digest(
    settings: Settings,
) -> None:
    register_v1(settings)
    admin = Admin.from_settings(settings)
    admin.ensure(
        [
            TopicSpec(settings.topic, settings.partitions),
            TopicSpec(settings.dlq_topic, 1, {"max.message.bytes": "50000"}),
        ]
    )
    value = b"\x00\x01" * 100_000
    send_raw(settings, value, [("trace", b"abc")])
    produce(settings, ProduceOptions(count=10, seed=62))
    group = f"{settings.topic}-digest"
    summary = run_analytics(settings, group, 11).summary
    assert dict(summary.dead_lettered) == {"oversized": 1}
    assert committed_total(settings, group) == 11
    [headers] = headers_of(settings, 1)
    assert headers["dlq.kind"] == "oversized"
    assert headers["dlq.original-kind"] == "unknown-schema-id"
    assert headers["dlq.size"] == str(len(value))
    assert headers["dlq.sha256"] == hashlib.sha256(value).hexdigest()
    assert headers["dlq.topic"] == settings.topic
    assert int(headers["dlq.offset"]) >= 0
    assert "200000-byte message is not copied" in headers["dlq.reason"]
    assert "trace" not in headers


def test_a_letter_the_broker_refuses_is_replaced_by_its_digest(settings: Settings) -> None:
    register_v1(settings)
    Admin.from_settings(settings).ensure(
        [
            TopicSpec(settings.topic, settings.partitions),
            TopicSpec(settings.dlq_topic, 1, {"max.message.bytes": "60000"}),
        ]
    )
    # Thousands of tiny headers: their framing is more than the size estimate counts, so
    # the letter looks like it fits, and the broker refuses it.
    value = b"plain text " * 4_500
    headers = [(f"h{i % 10}", b"v") for i in range(3_000)]
    send_raw(settings, value, headers)
    group = f"{settings.topic}-refused"
    summary = run_analytics(settings, group, 1).summary
    assert dict(summary.dead_lettered) == {"oversized": 1}
    assert committed_total(settings, group) == 1
    [letter] = headers_of(settings, 1)
    assert letter["dlq.original-kind"] == "not-wire-format"
    assert "refused by" in letter["dlq.reason"]
    assert letter["dlq.sha256"] == hashlib.sha256(value).hexdigest()


@pytest.mark.faults
def test_a_dead_letter_topic_that_takes_nothing_stops_the_service_and_loses_nothing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checked_producer, "FLUSH_TIMEOUT_S", 5.0)
    register_v1(settings)
    admin = Admin.from_settings(settings)
    # A dead-letter topic that takes no letter at all, not even a digest (Kafka 4 caps
    # min.insync.replicas at the replica count, so a one-broker cluster cannot be made to
    # refuse acks=all writes that way).
    admin.ensure(
        [
            TopicSpec(settings.topic, settings.partitions),
            TopicSpec(settings.dlq_topic, 1, {"max.message.bytes": "64"}),
        ]
    )
    send_raw(settings, b"not an order event")
    group = f"{settings.topic}-nodlq"
    started = time.monotonic()
    with pytest.raises(DeadLetterError, match=f"cannot write to {settings.dlq_topic}"):
        run_analytics(settings, group, 1)
    assert time.monotonic() - started < 60
    assert committed_total(settings, group) == 0

    admin.delete([settings.dlq_topic])
    deadline = time.monotonic() + 30
    while settings.dlq_topic in admin.names() and time.monotonic() < deadline:
        time.sleep(0.2)
    summary = run_analytics(settings, group, 1).summary  # the runner creates it anew
    assert dict(summary.dead_lettered) == {"not-wire-format": 1}
    assert committed_total(settings, group) == 1
    [letter] = read_all(settings, settings.dlq_topic, 1)
    assert letter.value() == b"not an order event"
