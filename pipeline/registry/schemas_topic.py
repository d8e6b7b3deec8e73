"""The `_schemas` topic: created if missing, replayed by a reader thread, written with acks=all.

`write` returns only once the reader thread has applied the written record, so a request
that follows a write always sees it. Only one registry may write to a topic at a time.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from pipeline.errors import RegistryError
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin, TopicError, TopicSpec
from pipeline.registry.errors import StoreTimeout, StoreUnavailable

log = logging.getLogger(__name__)
WRITE_TIMEOUT_S = 10.0
SETTLE_TIMEOUT_S = 30.0
POLL_S = 0.2


class SchemasTopic:
    """Owns the Kafka clients of one registry; `on_record(key, value)` applies a record."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topic: str,
        client_properties: Mapping[str, str],
        timeout_s: float,
        on_record: Callable[[bytes | None, bytes | None], None],
    ) -> None:
        self._base: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            **client_properties,
            "logger": logging.getLogger("pipeline.registry.kafka"),
        }
        self._topic = topic
        self._timeout_s = timeout_s
        self._on_record = on_record
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        # Next offset the reader will apply; writers wait on it.
        self._position = 0
        self._advanced = threading.Condition()
        # Set when a write failed or timed out: it may still land, so the next write first
        # waits for the producer to settle and the reader to reach the topic's end.
        self._uncertain = False

    # --- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Ensure the topic, replay it to its end, then keep following it in a thread."""
        self.ensure_topic()
        self._consumer = clients.consumer(
            {
                **self._base,
                "group.id": f"schema-registry-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
            }
        )
        self._consumer.assign([TopicPartition(self._topic, 0, OFFSET_BEGINNING)])
        end = self._end_offset(self._consumer)
        self._thread = threading.Thread(target=self._follow, name="schemas-reader", daemon=True)
        self._thread.start()
        if not self.wait_for(end, self._timeout_s):
            raise RegistryError(
                f"could not replay topic {self._topic} to offset {end} "
                f"within {self._timeout_s:.0f}s (reached {self._position})"
            )
        self._producer = clients.producer(
            {
                **self._base,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 0,
                # A stuck write resolves (delivered or failed) within this bound.
                "message.timeout.ms": int(SETTLE_TIMEOUT_S * 1000),
            }
        )
        # Connect now, so that the first registration does not pay for it.
        self._producer.list_topics(self._topic, timeout=self._timeout_s)

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        elif self._consumer is not None:
            self._consumer.close()
        self._consumer = None
        if self._producer is not None:
            clients.close_producer(self._producer, 5)
            self._producer = None

    def ensure_topic(self) -> None:
        """Create the compacted one-partition topic, or check the existing one."""
        admin = Admin(self._base, timeout_s=self._timeout_s)
        spec = TopicSpec(self._topic, 1, {"cleanup.policy": "compact"})
        try:
            partitions = admin.partitions(self._topic)
            if partitions is None:
                admin.ensure([spec])
        except TopicError as exc:
            raise RegistryError(str(exc)) from exc
        if partitions is not None and partitions != 1:
            raise RegistryError(
                f"topic {self._topic} has {partitions} partitions; "
                "a schemas topic must have exactly 1"
            )

    def _end_offset(self, consumer: Consumer) -> int:
        partition = TopicPartition(self._topic, 0)
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                _, high = consumer.get_watermark_offsets(partition, timeout=2, cached=False)
                return int(high)
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    raise RegistryError(f"cannot read the end of {self._topic}: {exc}") from exc

    # --- reading ----------------------------------------------------------------------------

    def _follow(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        try:
            while not self._stopping.is_set():
                # poll() returns on the first record (consume() would wait for a full batch
                # or its timeout: that wait would add to every write); then drain the rest.
                first = consumer.poll(POLL_S)
                if first is None:
                    continue
                for message in [first, *consumer.consume(num_messages=500, timeout=0)]:
                    self._take(message)
        finally:
            consumer.close()

    def _take(self, message: Message) -> None:
        error = message.error()
        if error is not None and error.code() != KafkaError._PARTITION_EOF:
            log.warning("reading %s: %s", self._topic, error)
            return
        offset = message.offset() or 0
        if error is None:
            try:
                self._on_record(message.key(), message.value())
            # One bad record must not stop the registry: skip it, say so, go on.
            except Exception:
                log.exception("skipping record at offset %s of %s", offset, self._topic)
            offset += 1
        with self._advanced:
            self._position = max(self._position, offset)
            self._advanced.notify_all()

    def wait_for(self, offset: int, timeout_s: float) -> bool:
        """Block until every record before `offset` is applied."""
        with self._advanced:
            return self._advanced.wait_for(lambda: self._position >= offset, timeout_s)

    # --- writing (callers serialize writes) ---------------------------------------------------

    def prepare(self) -> None:
        """Before a write is decided: after an uncertain write, settle and catch up first."""
        producer = self._producer
        if producer is None:
            raise StoreUnavailable("the registry is not connected to Kafka")
        if not self._uncertain:
            return
        if producer.flush(0) > 0:
            raise StoreUnavailable(f"an earlier write to {self._topic} is still pending; retry")
        consumer = self._consumer
        if consumer is None:
            raise StoreUnavailable("the registry is not connected to Kafka")
        try:
            # librdkafka's watermark query is safe beside the reader thread's poll.
            end = self._end_offset(consumer)
        except RegistryError as exc:
            raise StoreUnavailable(str(exc)) from exc
        if not self.wait_for(end, WRITE_TIMEOUT_S):
            raise StoreTimeout(f"the registry could not catch up with {self._topic}")
        self._uncertain = False

    def write(self, key: bytes, value: bytes | None) -> None:
        """Produce one record durably (acks=all) and return once the reader has applied it."""
        producer = self._producer
        if producer is None:
            raise StoreUnavailable("the registry is not connected to Kafka")
        self._uncertain = True  # until this write is known to be applied
        outcome: list[Any] = []

        def delivered(err: KafkaError | None, message: Message) -> None:
            outcome.append(err if err is not None else message.offset())

        try:
            producer.produce(self._topic, key=key, value=value, partition=0, on_delivery=delivered)
        except (BufferError, KafkaException) as exc:
            raise StoreUnavailable(f"cannot write to {self._topic}: {exc}") from exc
        producer.flush(WRITE_TIMEOUT_S)
        if not outcome:
            raise StoreTimeout(f"writing to {self._topic} timed out after {WRITE_TIMEOUT_S:.0f}s")
        if isinstance(outcome[0], KafkaError):
            raise StoreUnavailable(f"cannot write to {self._topic}: {outcome[0].str()}")
        if not self.wait_for(int(outcome[0]) + 1, WRITE_TIMEOUT_S):
            raise StoreTimeout(f"the write to {self._topic} was not read back in time")
        self._uncertain = False
