"""Proof that a broker works end to end: one message produced, then read back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from pipeline.errors import DevStackError


def produce_one(config: Mapping[str, Any], topic: str, value: bytes, timeout_s: float = 30) -> int:
    """Produce `value` to partition 0 with acks=all; return its offset once acknowledged."""
    producer = Producer({**config, "acks": "all", "enable.idempotence": True})
    offsets: list[int] = []

    def on_delivery(err: Any, msg: Any) -> None:
        if err is not None:
            raise DevStackError(f"round trip: delivery to {topic} failed: {err}")
        offsets.append(msg.offset())

    producer.produce(topic, value=value, partition=0, on_delivery=on_delivery)
    if producer.flush(timeout_s) or not offsets:
        raise DevStackError(f"round trip: no acknowledgement from the broker within {timeout_s} s")
    return offsets[0]


def read_at(config: Mapping[str, Any], topic: str, offset: int, timeout_s: float = 30) -> bytes:
    """Read the message at `offset` of partition 0 (no consumer group involved)."""
    consumer = Consumer({**config, "group.id": "roundtrip", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, 0, offset)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            return bytes(msg.value() or b"")
    finally:
        consumer.close()
    raise DevStackError(f"round trip: nothing read back from {topic} within {timeout_s} s")


def round_trip(bootstrap: str, topic: str = "devstack-roundtrip") -> float:
    """Write a unique message and read it back; return the seconds it took."""
    config = {"bootstrap.servers": bootstrap}
    token = uuid.uuid4().hex.encode()
    began = time.monotonic()
    offset = produce_one(config, topic, token)
    if read_at(config, topic, offset) != token:
        raise DevStackError(f"round trip: {topic} returned another message at offset {offset}")
    return time.monotonic() - began
