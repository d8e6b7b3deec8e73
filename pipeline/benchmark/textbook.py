"""The baseline: a producer and a storage consumer written the way the common tutorials do.

Producer: the shape of confluent-kafka's own `avro_producer.py` example, which most
tutorials copy: the stock `AvroSerializer` called for one event at a time, `poll(0)` before
each `produce()` to serve delivery callbacks, one `flush()` at the end, the client's default
configuration. (The other common shape, `flush()` after every message, is slower still by
a round trip per event; we measure against the faster of the two.)

Consumer: `poll(1.0)` one message at a time, the stock `AvroDeserializer`, one INSERT and
one `commit()` per message on a default `sqlite3` connection (rollback journal,
synchronous=FULL), offsets committed by Kafka's auto-commit.

The benchmark paces the producer at a fixed rate when asked (that is the harness, not the
tutorial); everything else is the tutorial's. Its clients come from the project's one home
for each (`pipeline.kafka.clients`, `registry_client.connect`): plain constructor calls on
the default configuration, so the baseline stays the tutorial's.

The two halves are also what the other benchmarks compare against: `TextbookEncoder` (the
stock serializer, as `bench producer` puts it in our producer loop) and `TextbookTable`
(one INSERT and one commit per event, as `bench store` times it without Kafka).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.kafka import clients

TABLE = "order_events"
CREATE_SQL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (event_id TEXT PRIMARY KEY, event_type TEXT, "
    "order_id TEXT, user_id TEXT, status TEXT, timestamp TEXT, source TEXT)"
)
INSERT_SQL = f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)"
FLUSH_TIMEOUT_S = 60.0


@dataclass
class Produced:
    """What a producer run did: deliveries, and when it started (wall clock) and took."""

    delivered: int = 0
    failed: int = 0
    started_at: float = 0.0  # time.time() just before the first event
    elapsed_s: float = 0.0  # until every delivery report came back

    @property
    def rate(self) -> float:
        return self.delivered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def report(self, error: KafkaError | None, _message: Message) -> None:
        if error is None:
            self.delivered += 1
        else:
            self.failed += 1


class Pacer:
    """Holds a loop to `rate` events/s by sleeping every few events (harness, not tutorial)."""

    def __init__(self, rate: float | None) -> None:
        self._rate = rate
        self._chunk = max(1, int(rate / 50)) if rate else 0
        self._started = time.monotonic()

    def tick(self, sent: int) -> None:
        if not self._rate or sent % self._chunk:
            return
        ahead = sent / self._rate - (time.monotonic() - self._started)
        if ahead > 0:
            time.sleep(ahead)


class TextbookEncoder:
    """The stock `AvroSerializer`, called for one event at a time as the tutorials do."""

    def __init__(
        self, client: SchemaRegistryClient, topic: str, schema_str: str, schema_id: int = 0
    ) -> None:
        # Auto-registration off only because the harness registered the schema already (and
        # producers here never register); the serializer looks the id up once and caches it.
        self._serialize = AvroSerializer(client, schema_str, conf={"auto.register.schemas": False})
        self._topic = topic
        self.schema_id = schema_id  # for the producer's summary; the serializer finds its own

    def encode(self, record: dict[str, Any]) -> bytes:
        value = self._serialize(record, SerializationContext(self._topic, MessageField.VALUE))
        if value is None:  # only for a None record, which no generator yields
            raise ValueError("the stock serializer returned no value")
        return value


def textbook_produce(
    settings: Settings, schema_str: str, events: Iterable[dict[str, Any]], rate: float | None
) -> Produced:
    with registry_client.connected(settings) as client:
        encoder = TextbookEncoder(client, settings.topic, schema_str)
        return _produce_all(encoder, settings, events, rate)


def _produce_all(
    encoder: TextbookEncoder,
    settings: Settings,
    events: Iterable[dict[str, Any]],
    rate: float | None,
) -> Produced:
    key_serializer = StringSerializer("utf_8")
    producer = clients.producer(settings.kafka_config())
    produced, topic = Produced(), settings.topic
    produced.started_at, began = time.time(), time.monotonic()
    pacer = Pacer(rate)
    for sent, event in enumerate(events, start=1):
        producer.poll(0.0)
        value = encoder.encode(event)
        key = key_serializer(event["order_id"])
        _produce(producer, topic, key, value, produced.report)
        pacer.tick(sent)
    producer.flush(FLUSH_TIMEOUT_S)
    produced.elapsed_s = time.monotonic() - began
    return produced


def _produce(
    producer: Producer,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    report: Callable[[KafkaError | None, Message], None],
) -> None:
    # The tutorial's answer to a full local queue (BufferError): poll, then try again.
    for _ in range(int(FLUSH_TIMEOUT_S / 0.1)):
        try:
            producer.produce(topic, key=key, value=value, on_delivery=report)
            return
        except BufferError:
            producer.poll(0.1)
    raise BufferError(f"the producer queue stayed full for {FLUSH_TIMEOUT_S:.0f} s")


class TextbookTable:
    """The tutorial's SQLite side: a default connection (rollback journal, synchronous=FULL),
    one INSERT and one commit per event."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, db_path: Path) -> TextbookTable:
        conn = sqlite3.connect(str(db_path))
        conn.execute(CREATE_SQL)
        return cls(conn)

    def store(self, event: Any) -> None:
        self._conn.execute(INSERT_SQL, _row(event))
        self._conn.commit()

    def close(self) -> None:
        self._conn.close()


def textbook_consume(
    settings: Settings,
    group: str,
    schema_str: str,
    expect: int,
    on_ready: Callable[[], None],
    on_stored: Callable[[Message], None],
    stop: threading.Event,
    idle_timeout_s: float,
) -> int:
    """Store `expect` messages one row and one commit at a time; returns how many."""
    with (
        closing(TextbookTable.open(settings.db_path)) as table,
        registry_client.connected(settings) as client,
    ):
        deserializer = AvroDeserializer(client, schema_str)
        consumer = clients.consumer(
            settings.kafka_config(**{"group.id": group, "auto.offset.reset": "earliest"})
        )
        stored, idle_since = 0, time.monotonic()
        try:
            consumer.subscribe([settings.topic], on_assign=lambda _c, _p: on_ready())
            while stored < expect and not stop.is_set():
                msg = consumer.poll(1.0)
                if msg is None or msg.error():
                    if time.monotonic() - idle_since > idle_timeout_s:
                        break
                    continue
                context = SerializationContext(settings.topic, MessageField.VALUE)
                table.store(deserializer(msg.value(), context))
                stored += 1
                idle_since = time.monotonic()
                on_stored(msg)
        finally:
            consumer.close()
    return stored


def _row(event: Any) -> tuple[Any, ...]:
    return (
        str(event["event_id"]),
        event["event_type"],
        str(event["order_id"]),
        event["user_id"],
        event["status"],
        event["timestamp"].isoformat(),
        event["source"],
    )


def count_rows(db_path: Path) -> int:
    with closing(sqlite3.connect(str(db_path))) as conn:
        row = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    return int(row[0])
