"""The dead-letter topic: what a service cannot read or refuses, copied there byte for byte.

A dead letter keeps the original key, value and headers, and adds headers saying why and
where it came from: `dlq.kind` (not-wire-format, unknown-schema-id, corrupt-avro, refused),
`dlq.reason` (human-readable), `dlq.service`, `dlq.topic`, `dlq.partition`, `dlq.offset`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka import clients
from pipeline.kafka.checked_producer import CheckedProducer

READ_TIMEOUT_S = 10.0


class DeadLetterError(PipelineError):
    pass


@dataclass(frozen=True, slots=True)
class DeadLetter:
    kind: str
    reason: str
    service: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()

    def kafka_headers(self) -> list[tuple[str, str | bytes | None]]:
        return [
            *self.headers,
            ("dlq.kind", self.kind.encode()),
            ("dlq.reason", self.reason.encode()),
            ("dlq.service", self.service.encode()),
            ("dlq.topic", self.topic.encode()),
            ("dlq.partition", str(self.partition).encode()),
            ("dlq.offset", str(self.offset).encode()),
        ]


class DeadLetterWriter:
    """Produces dead letters; `flush()` returns only when every one is safely stored."""

    def __init__(self, settings: Settings) -> None:
        self._out = CheckedProducer(settings, settings.dlq_topic, DeadLetterError)

    def send(self, letter: DeadLetter) -> None:
        self._out.send(letter.value, letter.key, letter.kafka_headers())

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._out.close()


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """One record read back from the dead-letter topic."""

    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    def describe(self) -> str:
        h = self.headers.get
        when = datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        origin = f"{h('dlq.topic', '?')}[{h('dlq.partition', '?')}]@{h('dlq.offset', '?')}"
        size = 0 if self.value is None else len(self.value)
        return (
            f"#{self.offset} {when} {h('dlq.service', '?')} {h('dlq.kind', '?')} "
            f"from {origin}, {size} bytes: {h('dlq.reason', '')}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
            "key": None if self.key is None else self.key.decode(errors="replace"),
            "size": 0 if self.value is None else len(self.value),
            "headers": self.headers,
        }


def read_dead_letters(settings: Settings, limit: int = 100) -> list[DeadLetterRecord]:
    """The last `limit` records of the dead-letter topic (read without a consumer group)."""
    consumer = clients.consumer(clients.consumer_config(settings, "dlq-reader"))
    try:
        return _read(consumer, settings.dlq_topic, limit)
    except KafkaException as exc:
        raise DeadLetterError(f"cannot read {settings.dlq_topic}: {exc.args[0].str()}") from exc
    finally:
        consumer.close()


def _read(consumer: Consumer, topic: str, limit: int) -> list[DeadLetterRecord]:
    metadata = consumer.list_topics(topic, timeout=READ_TIMEOUT_S).topics.get(topic)
    if metadata is None or metadata.error is not None:
        return []
    assignment: list[TopicPartition] = []
    remaining = 0
    for partition in metadata.partitions:
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=READ_TIMEOUT_S
        )
        start = max(low, high - limit)
        if high > start:
            assignment.append(TopicPartition(topic, partition, start))
            remaining += high - start
    consumer.assign(assignment)
    records: list[DeadLetterRecord] = []
    deadline = time.monotonic() + READ_TIMEOUT_S * 3
    while len(records) < remaining and time.monotonic() < deadline:
        for message in consumer.consume(500, 1.0):
            if message.error() is None:
                records.append(_record(message))
    records.sort(key=lambda r: (r.timestamp_ms, r.offset))
    return records[-limit:]


def header_pairs(message: Message) -> tuple[tuple[str, bytes], ...]:
    """A message's headers as (name, bytes) pairs, however the client hands them over."""
    raw = message.headers() or ()
    pairs = raw.items() if isinstance(raw, dict) else raw
    return tuple((k, v.encode() if isinstance(v, str) else (v or b"")) for k, v in pairs)


def _record(message: Message) -> DeadLetterRecord:
    headers = {k: v.decode(errors="replace") for k, v in header_pairs(message)}
    return DeadLetterRecord(
        offset=message.offset() or 0,
        timestamp_ms=message.timestamp()[1],
        key=message.key(),
        value=message.value(),
        headers=headers,
    )
