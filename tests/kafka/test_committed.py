"""Reading transactional topics to their stable end, against the session's real broker."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from confluent_kafka import Producer

from pipeline.config import Settings
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin, TopicSpec
from pipeline.kafka.committed import ReadError, read_span, read_topic, stable_ends


def transactional(settings: Settings, name: str) -> Producer:
    producer = clients.producer(settings.kafka_config(**{"transactional.id": name}))
    producer.init_transactions(20)
    return producer


def write(producer: Producer, topic: str, values: list[bytes], *, commit: bool) -> None:
    producer.begin_transaction()
    for index, value in enumerate(values):
        producer.produce(topic, value=value, partition=index % 2)
    if commit:
        producer.commit_transaction(20)
    else:
        producer.flush(20)
        producer.abort_transaction(20)


def test_markers_and_aborted_records_take_offsets_yet_every_committed_one_is_read(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    topic = unique("txn")
    admin = Admin.from_settings(settings)
    admin.ensure([TopicSpec(topic, 2)])
    producer = transactional(settings, unique("writer"))
    try:
        write(producer, topic, [b"a", b"b", b"c", b"d"], commit=True)
        write(producer, topic, [b"gone1", b"gone2"], commit=False)
        write(producer, topic, [b"e", b"f"], commit=True)
    finally:
        producer.close()
    high = admin.offsets(topic, [0, 1])
    # 6 committed records, yet the offsets run further: markers and aborted records.
    assert sum(high.values()) > 6
    started = time.monotonic()
    values = sorted(m.value() for m in read_topic(settings, topic, timeout_s=20))
    assert values == [b"a", b"b", b"c", b"d", b"e", b"f"]
    assert time.monotonic() - started < 15  # ended on position, not on the timeout


def test_an_open_transaction_bounds_the_read_and_is_never_shown(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    topic = unique("open")
    admin = Admin.from_settings(settings)
    admin.ensure([TopicSpec(topic, 2)])
    producer = transactional(settings, unique("writer"))
    try:
        write(producer, topic, [b"x", b"y"], commit=True)
        producer.begin_transaction()
        producer.produce(topic, value=b"pending", partition=0)
        producer.flush(20)
        ends = stable_ends(admin, topic, [0, 1], settle_s=0.5)
        assert ends[0] < admin.offsets(topic, [0])[0]  # held back by the open transaction
        values = [m.value() for m in read_topic(settings, topic, timeout_s=20, settle_s=0.5)]
        assert sorted(values) == [b"x", b"y"]
        producer.commit_transaction(20)
        values = [m.value() for m in read_topic(settings, topic, timeout_s=20)]
        assert sorted(values) == [b"pending", b"x", b"y"]
    finally:
        producer.close()


def test_a_partition_that_cannot_reach_its_end_is_named(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    topic = unique("short")
    Admin.from_settings(settings).ensure([TopicSpec(topic, 1)])
    with pytest.raises(ReadError, match=rf"{topic} to its stable end.*\[0\] at"):
        read_span(settings, topic, {0: 0}, {0: 5}, timeout_s=2)
