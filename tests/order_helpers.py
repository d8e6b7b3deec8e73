"""Helpers shared by the producer, serde and service tests: real registry, real broker."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from confluent_kafka import Message

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin
from pipeline.kafka.committed import read_span, stable_ends
from tests.paths import SCHEMAS

V1 = SCHEMAS / "order_event.v1.avsc"


def register_v1(settings: Settings) -> int:
    """Register the v1 order schema under this test's `{topic}-value` subject."""
    subject = registry_client.value_subject(settings.topic)
    with registry_client.connected(settings) as client:
        return registry_client.register(client, subject, V1.read_text()).schema_id or 0


def produce_raw(
    settings: Settings, topic: str, values: Iterable[tuple[bytes | None, bytes | None]]
) -> None:
    """Send (key, value) pairs as they are, bypassing any serializer."""
    producer = clients.producer(settings.kafka_config(acks="all"))
    for key, value in values:
        producer.produce(topic, value, key)
    assert producer.flush(15) == 0


def read_all(settings: Settings, topic: str, expected: int, timeout: float = 20) -> list[Message]:
    """Every committed message of `topic` up to each partition's stable end, read again
    from where it stopped until at least `expected` are there (or `timeout` passed).

    Stops on the reader's position, never on a count: markers of the transactions that
    write the services' outputs take offsets, so offsets do not count messages."""
    admin = Admin.from_settings(settings)
    deadline = time.monotonic() + timeout
    messages: list[Message] = []
    starts: dict[int, int] = {}
    while True:
        count = admin.partitions(topic) or 0
        if count:
            ends = stable_ends(admin, topic, range(count), settle_s=1.0)
            low = admin.offsets(topic, range(count), end="low")
            starts = {p: starts.get(p, low[p]) for p in range(count)}
            left = max(1.0, deadline - time.monotonic())
            messages += read_span(settings, topic, starts, ends, timeout_s=left)
            starts = {p: max(starts[p], ends[p]) for p in range(count)}
        if len(messages) >= expected or time.monotonic() >= deadline:
            return messages
        time.sleep(0.2)


def fetch(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of `sql` on the store, read-only (the service may be writing at the same time)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def stored_rows(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        return int(fetch(path, "SELECT count(*) FROM events")[0][0])
    except sqlite3.OperationalError:  # the service has not created its tables yet
        return 0
