"""Alerts and dead letters as they arrive: one reader for every client of the API.

A `TopicTail` of the alerts topic and the dead-letter topic: every partition from its
start, committed records only. It keeps the last few of each, decoded, and counts them by
kind; requests and the live stream read from here.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter, deque
from datetime import datetime
from typing import Any

from confluent_kafka import Message

from pipeline.api.topic_tail import TopicTail
from pipeline.config import Settings
from pipeline.dlq import header_pairs
from pipeline.errors import PipelineError
from pipeline.serde import AvroDecoder

PREVIEW_BYTES = 64


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


class Feeds(TopicTail):
    def __init__(self, settings: Settings, size: int) -> None:
        topics = (settings.alerts_topic, settings.dlq_topic)
        super().__init__(
            settings, name="api-feeds", topics=topics, decoded_topic=settings.alerts_topic
        )
        self.alerts = Feed(size)
        self.dead_letters = Feed(size)

    def _take_all(self, consumer: Any, messages: list[Message], decoder: AvroDecoder) -> None:
        for message in messages:
            self._take(message, decoder)

    def _take(self, message: Message, decoder: AvroDecoder) -> None:
        if message.topic() == self.settings.dlq_topic:
            self.dead_letters.add(dead_letter_item(message))
            return
        try:
            _, value = decoder.decode(message.value())
        except PipelineError as exc:
            value = {"kind": "undecodable", "detail": str(exc)}
        self.alerts.add(alert_item(message, value))
