"""Alerts and dead letters as they arrive: one reader for every client of the API.

A consumer without a group (nothing committed) is assigned every partition of the alerts
topic and the dead-letter topic from their start, reading committed records only (a
service writing them in a transaction that aborts is never shown). It keeps the last few
of each, decoded, and counts them by kind; requests and the live stream read from here.
Topics that do not exist yet are picked up when they appear.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, deque
from datetime import datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Message, TopicPartition

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.dlq import header_pairs
from pipeline.errors import PipelineError
from pipeline.kafka import clients
from pipeline.registry_client import value_subject
from pipeline.serde import AvroDecoder

PREVIEW_BYTES = 64
RECHECK_S = 3.0


def preview(value: bytes | None) -> dict[str, Any]:
    """The start of a payload as text (unprintable bytes as '.') and as hex."""
    head = (value or b"")[:PREVIEW_BYTES]
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in head)
    return {"text": text, "hex": head.hex(" "), "truncated": len(value or b"") > PREVIEW_BYTES}


def dead_letter_item(message: Message) -> dict[str, Any]:
    headers = {k: v.decode(errors="replace") for k, v in header_pairs(message)}
    h = headers.get
    value = message.value()
    key = message.key()
    return {
        "offset": message.offset(),
        "timestamp_ms": message.timestamp()[1],
        "kind": h("dlq.kind", "unknown"),
        "reason": h("dlq.reason", ""),
        "service": h("dlq.service", ""),
        "origin": {
            "topic": h("dlq.topic"),
            "partition": _int(h("dlq.partition")),
            "offset": _int(h("dlq.offset")),
        },
        "key": None if key is None else key.decode(errors="replace"),
        "size": int(h("dlq.size") or 0) or len(value or b""),
        "preview": preview(value),
    }


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def alert_item(message: Message, value: dict[str, Any]) -> dict[str, Any]:
    item = {k: _plain(v) for k, v in value.items()}
    item["alerts_offset"] = message.offset()
    item["alerts_partition"] = message.partition()
    return item


def _plain(value: Any) -> Any:
    """JSON-ready: fastavro hands timestamp-millis over as datetimes, uuids as UUIDs."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return str(value) if isinstance(value, uuid.UUID) else value


class Feed:
    """The recent items of one topic, newest last, each with a sequence number."""

    def __init__(self, size: int) -> None:
        self.items: deque[tuple[int, dict[str, Any]]] = deque(maxlen=size)
        self.by_kind: Counter[str] = Counter()
        self.seq = 0
        self.lock = threading.Lock()

    def add(self, item: dict[str, Any]) -> None:
        with self.lock:
            self.seq += 1
            self.items.append((self.seq, item))
            self.by_kind[str(item.get("kind", "unknown"))] += 1

    def newest(self, limit: int, after: int = 0) -> list[dict[str, Any]]:
        """Up to `limit` items newer than sequence `after`, newest first."""
        with self.lock:
            picked = [item for seq, item in reversed(self.items) if seq > after]
        return picked[:limit]

    def counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self.by_kind)


class Feeds:
    def __init__(self, settings: Settings, size: int) -> None:
        self.settings = settings
        self.alerts = Feed(size)
        self.dead_letters = Feed(size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._assigned: set[tuple[str, int]] = set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="api-feeds", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        config = clients.consumer_config(
            self.settings,
            "order-pipeline-api-feeds",  # librdkafka wants one; nothing is ever committed
            **{"isolation.level": "read_committed", "log_level": 2},
        )
        consumer = clients.consumer(config)
        registry = registry_client.connect(self.settings, timeout_s=5)
        decoder = AvroDecoder(registry, value_subject(self.settings.alerts_topic))
        try:
            checked = 0.0
            while not self._stop.is_set():
                if time.monotonic() - checked > RECHECK_S:
                    checked = time.monotonic()
                    self._assign_new(consumer)
                if not self._assigned:
                    self._stop.wait(0.5)
                    continue
                for message in consumer.consume(500, 0.5):
                    if message.error() is None:
                        self._take(message, decoder)
        finally:
            consumer.close()
            registry.close()

    def _assign_new(self, consumer: Any) -> None:
        wanted = (self.settings.alerts_topic, self.settings.dlq_topic)
        try:
            topics = consumer.list_topics(timeout=3).topics
        except Exception:  # the broker is down: the sampler reports it; try again later
            return
        new = [
            TopicPartition(name, partition, OFFSET_BEGINNING)
            for name in wanted
            if name in topics and topics[name].error is None
            for partition in topics[name].partitions
            if (name, partition) not in self._assigned
        ]
        if new:
            consumer.incremental_assign(new)
            self._assigned.update((tp.topic, tp.partition) for tp in new)

    def _take(self, message: Message, decoder: AvroDecoder) -> None:
        if message.topic() == self.settings.dlq_topic:
            self.dead_letters.add(dead_letter_item(message))
            return
        try:
            _, value = decoder.decode(message.value())
        except PipelineError as exc:
            value = {"kind": "undecodable", "detail": str(exc)}
        self.alerts.add(alert_item(message, value))
