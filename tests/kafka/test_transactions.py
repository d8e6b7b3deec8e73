"""The transactional output producer against the session's real broker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from confluent_kafka import KafkaError, TopicPartition

from pipeline.config import Settings
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin, TopicSpec
from pipeline.kafka.committed import read_topic
from pipeline.kafka.transactions import (
    OutputProducer,
    TransactionAborted,
    TransactionFatal,
    classify,
)


def read_committed(settings: Settings, topic: str, partitions: int = 1) -> list[bytes]:
    """Every committed value of `topic`, read to its stable end (bounded)."""
    values = [m.value() or b"" for m in read_topic(settings, topic, timeout_s=20)]
    assert Admin.from_settings(settings).partitions(topic) == partitions
    return values


def test_errors_are_classified_as_librdkafka_flags_them() -> None:
    assert classify(KafkaError(KafkaError._FENCED, fatal=True)) == "fatal"
    assert classify(KafkaError(KafkaError._STATE, txn_requires_abort=True)) == "abort"
    assert classify(KafkaError(KafkaError._TIMED_OUT, retriable=True)) == "retry"
    assert classify(KafkaError(KafkaError._FAIL)) == "abort"


def test_committed_records_and_offsets_count_aborted_ones_never(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    out_topic, group = unique("out"), unique("group")
    Admin.from_settings(settings).ensure([TopicSpec(out_topic, 1), TopicSpec(settings.topic, 1)])
    consumer = clients.consumer(clients.consumer_config(settings, group))
    consumer.subscribe([settings.topic])
    consumer.consume(1, 5.0)  # joins the group: its metadata goes with the offsets
    producer = OutputProducer(settings, unique("txn"))
    producer.start()
    try:
        producer.begin()
        producer.send(out_topic, b"kept", b"k")
        producer.commit([TopicPartition(settings.topic, 0, 7)], consumer.consumer_group_metadata())
        producer.begin()
        producer.send(out_topic, b"dropped", b"k")
        producer.flush()  # stored in the log, but only as part of the open transaction
        producer.abort()
        assert read_committed(settings, out_topic) == [b"kept"]
        assert (producer.committed, producer.aborted) == (1, 1)
        committed = consumer.committed([TopicPartition(settings.topic, 0)], timeout=10)
        assert committed[0].offset == 7
    finally:
        producer.close()
        consumer.close()


def test_a_restarted_instance_fences_its_predecessor_and_aborts_what_it_left_open(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    out_topic, identity = unique("out"), unique("txn")
    Admin.from_settings(settings).ensure([TopicSpec(out_topic, 1)])
    old = OutputProducer(settings, identity)
    old.start()
    old.begin()
    old.send(out_topic, b"from the old instance", b"k")
    old.flush()
    new = OutputProducer(settings, identity)
    new.start()  # aborts the open transaction and fences `old`
    try:
        new.begin()
        new.send(out_topic, b"from the new instance", b"k")
        new.commit([], None)
        with pytest.raises((TransactionFatal, TransactionAborted)):
            old.send(out_topic, b"zombie", b"k")
            old.commit([], None)
        assert read_committed(settings, out_topic) == [b"from the new instance"]
    finally:
        old.close()
        new.close()


def test_a_reader_waits_for_an_open_transaction_and_skips_it_once_aborted(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    out_topic = unique("out")
    Admin.from_settings(settings).ensure([TopicSpec(out_topic, 1)])
    producer = OutputProducer(settings, unique("txn"))
    producer.start()
    producer.begin()
    producer.send(out_topic, b"open", b"k")
    producer.flush()
    admin = Admin.from_settings(settings)
    assert admin.offsets(out_topic, [0], end="stable") == {0: 0}
    assert admin.offsets(out_topic, [0], end="high") == {0: 1}
    later = threading.Timer(1.0, producer.abort)
    later.start()
    try:
        assert read_committed(settings, out_topic) == []
    finally:
        later.join()
        producer.close()
    # The abort marker is written shortly after the abort returns: then nothing is open.
    deadline = time.monotonic() + 15
    while admin.offsets(out_topic, [0], end="stable") != admin.offsets(out_topic, [0]):
        assert time.monotonic() < deadline, "the aborted transaction stayed open"
        time.sleep(0.1)


def test_after_a_record_the_broker_refused_the_next_transaction_commits(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    """The refused record kept its sequence number in the aborted producer; the next
    transaction, on the producer that replaces it, is not refused for the gap."""
    small, other = unique("small"), unique("other")
    Admin.from_settings(settings).ensure(
        [TopicSpec(small, 1, {"max.message.bytes": "20000"}), TopicSpec(other, 1)]
    )
    producer = OutputProducer(settings, unique("txn"), message_max_bytes=1_000_000)
    producer.start()
    try:
        producer.begin()
        producer.send(other, b"before", b"k")
        producer.send(small, b"x" * 50_000, b"k")
        with pytest.raises(TransactionAborted, match="too large"):
            producer.commit([], None)
        for value in (b"first", b"second"):  # both on the partition that refused one
            producer.begin()
            producer.send(small, value, b"k")
            producer.send(other, value, b"k")
            producer.commit([], None)
        assert read_committed(settings, small) == [b"first", b"second"]
        assert read_committed(settings, other) == [b"first", b"second"]
        assert (producer.committed, producer.aborted) == (2, 1)
    finally:
        producer.close()
