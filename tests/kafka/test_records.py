"""A record's size on the wire, judged before it is produced, against what the real broker
takes: a topic whose `max.message.bytes` is the record's size alone in its batch takes it,
one byte less refuses it."""

from __future__ import annotations

from collections.abc import Callable

from confluent_kafka import KafkaError, Message

from pipeline.config import Settings
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin, TopicSpec
from pipeline.kafka.records import Header, batch_bytes, varint_bytes

# The bound counts the timestamp and offset deltas at their widest (10 and 5 bytes); a
# record alone in its batch has both at 0, one byte each.
DELTAS_SLACK = 9 + 4


def test_varints_grow_by_a_byte_every_seven_bits_of_their_zigzag_form() -> None:
    assert [varint_bytes(n) for n in (0, -1, 1, 63, -64)] == [1, 1, 1, 1, 1]
    assert [varint_bytes(n) for n in (64, -65, 8191)] == [2, 2, 2]
    assert varint_bytes(8192) == 3
    assert varint_bytes(1_000_000) == 3
    assert varint_bytes(2**31 - 1) == 5


def test_a_headerless_record_counts_its_batch_header_and_fields() -> None:
    # 61 (batch) + 1 (length) + 16 (attributes, deltas at their widest) + 2 (key) + 1 (null
    # value) + 1 (no headers)
    assert batch_bytes(b"k", None, []) == 61 + 1 + 16 + 2 + 1 + 1


Record = tuple[bytes, bytes, list[Header]]


def produce_alone(settings: Settings, topic: str, record: Record) -> KafkaError | None:
    """The delivery error of `record` sent alone in its batch, or None if it was stored."""
    key, value, headers = record
    producer = clients.producer(
        settings.kafka_config(**{"acks": "all", "linger.ms": 0, "message.max.bytes": 1_000_000})
    )
    errors: list[KafkaError | None] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        errors.append(error)

    producer.produce(topic, value, key, headers=headers, on_delivery=delivered)
    assert producer.flush(30) == 0
    return errors[0]


def test_the_estimate_is_what_the_broker_counts_but_for_the_deltas(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    # Thousands of tiny headers: their length prefixes are a large share of the record.
    record = (b"key" * 10, b"v" * 20_000, [(f"h{i % 10}", b"v") for i in range(3_000)])
    exact = batch_bytes(*record) - DELTAS_SLACK
    fits, too_small = unique("fits"), unique("too-small")
    Admin.from_settings(settings).ensure(
        [
            TopicSpec(fits, 1, {"max.message.bytes": str(exact)}),
            TopicSpec(too_small, 1, {"max.message.bytes": str(exact - 1)}),
        ]
    )
    assert produce_alone(settings, fits, record) is None
    refusal = produce_alone(settings, too_small, record)
    assert refusal is not None and refusal.code() == KafkaError.MSG_SIZE_TOO_LARGE
