"""Dead letters that do not fit, and a dead-letter topic that does not answer, on the real
broker: a message too large to copy becomes a letter with its digest instead of stopping
every service on its partition; an unavailable dead-letter topic stops the service without
committing, and the message is dead-lettered once the topic is back."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition

import pipeline.kafka.checked_producer as checked_producer
from pipeline.config import Settings
from pipeline.dlq import DeadLetterError
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin, TopicSpec
from pipeline.kafka.committed import read_topic
from pipeline.producer import ProduceOptions, produce
from pipeline.services.analytics import Analytics
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.summary import RunSummary
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


def test_a_letter_whose_headers_make_it_too_large_goes_as_its_digest_before_the_transaction(
    settings: Settings,
) -> None:
    register_v1(settings)
    Admin.from_settings(settings).ensure(
        [
            TopicSpec(settings.topic, settings.partitions),
            TopicSpec(settings.dlq_topic, 1, {"max.message.bytes": "60000"}),
        ]
    )
    # 49,500 bytes of value and thousands of tiny headers: it is their length prefixes that
    # take it over the limit, so only a size counted as the broker counts it sees that.
    value = b"plain text " * 4_500
    headers = [(f"h{i % 10}", b"v") for i in range(3_000)]
    send_raw(settings, value, headers)
    group = f"{settings.topic}-headers"
    summary = run_analytics(settings, group, 1).summary
    assert dict(summary.dead_lettered) == {"oversized": 1}
    assert summary.aborted_transactions == 0  # it never entered a transaction
    assert committed_total(settings, group) == 1
    [letter] = headers_of(settings, 1)
    assert letter["dlq.original-kind"] == "not-wire-format"
    assert f"larger than {settings.dlq_topic} takes" in letter["dlq.reason"]
    assert letter["dlq.sha256"] == hashlib.sha256(value).hexdigest()


def await_refusal(settings: Settings, size: int) -> None:
    """Until the dead-letter topic refuses a record of `size` bytes (a changed limit takes
    effect shortly after the change is acknowledged). A record it still took is not a
    letter (no dlq.kind header): the test leaves it aside."""
    producer = clients.producer(
        settings.kafka_config(**{"acks": "all", "message.max.bytes": 1_048_576})
    )
    refusals: list[int] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        producer.produce(
            settings.dlq_topic,
            b"p" * size,
            on_delivery=lambda error, _m: refusals.append(0 if error is None else error.code()),
        )
        assert producer.flush(30) == 0
        if refusals[-1] == KafkaError.MSG_SIZE_TOO_LARGE:
            return
        time.sleep(0.5)
    raise AssertionError(f"{settings.dlq_topic} still takes {size} bytes: {refusals}")


def test_a_letter_the_broker_refuses_is_replaced_by_its_digest(settings: Settings) -> None:
    register_v1(settings)
    admin = Admin.from_settings(settings)
    admin.ensure([TopicSpec(settings.topic, settings.partitions), TopicSpec(settings.dlq_topic, 1)])
    group = f"{settings.topic}-refused"
    options = RunOptions(group_id=group, max_events=1, idle_timeout_s=90, handle_signals=False)
    runner = Runner(settings, Analytics(settings), options)
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["summary"] = runner.run()
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while runner.summary.assignments == 0 and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert runner.summary.assignments > 0, outcome
    # The service read the topic's limit when it started; the limit is lowered since, so
    # the letter looks as if it fits, and the broker refuses it inside the transaction.
    admin.set_config(settings.dlq_topic, {"max.message.bytes": "60000"})
    await_refusal(settings, 70_000)
    value = b"plain text " * 9_000
    send_raw(settings, value)
    thread.join(120)
    assert not thread.is_alive(), "the service did not finish its one event"
    summary = outcome.get("summary")
    assert isinstance(summary, RunSummary), outcome
    assert dict(summary.dead_lettered) == {"oversized": 1}
    assert summary.aborted_transactions == 1  # the one with the refused letter, then redone
    assert committed_total(settings, group) == 1
    letters = [
        {k: v.decode() for k, v in m.headers() or []}
        for m in read_topic(settings, settings.dlq_topic, timeout_s=30)
    ]
    [letter] = [h for h in letters if "dlq.kind" in h]
    assert letter["dlq.kind"] == "oversized"
    assert letter["dlq.original-kind"] == "not-wire-format"
    assert f"refused by {settings.dlq_topic}" in letter["dlq.reason"]
    assert letter["dlq.size"] == str(len(value))
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
