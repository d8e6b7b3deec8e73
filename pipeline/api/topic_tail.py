"""Following topics as they are written, in a thread of the API's own: what the readers share.

A consumer without a group (nothing committed) is assigned every partition of its topics
from their start, reading committed records only: a service writing them in a transaction
that aborts is never shown. A topic that does not exist yet, or a partition added later, is
picked up when it appears (looked for every RECHECK_S). Each batch of records is handed,
with a decoder for one topic's value subject, to the reader's `_take_all`: how the records
are kept is the one thing the readers do differently.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Message, TopicPartition

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.kafka import clients
from pipeline.registry_client import value_subject
from pipeline.serde import AvroDecoder

RECHECK_S = 3.0


class TopicTail:
    """Reads `topics` on a thread named `name`; records decode with `decoded_topic`'s schema."""

    def __init__(
        self, settings: Settings, *, name: str, topics: tuple[str, ...], decoded_topic: str
    ) -> None:
        self.settings = settings
        self._name = name
        self._topics = topics
        self._subject = value_subject(decoded_topic)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._assigned: set[tuple[str, int]] = set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _take_all(self, consumer: Any, messages: list[Message], decoder: AvroDecoder) -> None:
        """Keep a batch of records (none of them an error), in order."""
        raise NotImplementedError

    def _run(self) -> None:
        config = clients.consumer_config(
            self.settings,
            f"order-pipeline-{self._name}",  # librdkafka wants one; nothing is ever committed
            **{"isolation.level": "read_committed", "log_level": 2},
        )
        consumer = clients.consumer(config)
        registry = registry_client.connect(self.settings, timeout_s=5)
        decoder = AvroDecoder(registry, self._subject)
        try:
            checked = 0.0
            while not self._stop.is_set():
                if time.monotonic() - checked > RECHECK_S:
                    checked = time.monotonic()
                    self._assign_new(consumer)
                if not self._assigned:
                    self._stop.wait(0.5)
                    continue
                batch = consumer.consume(500, 0.5)
                self._take_all(consumer, [m for m in batch if m.error() is None], decoder)
        finally:
            consumer.close()
            registry.close()

    def _assign_new(self, consumer: Any) -> None:
        try:  # all topics: naming one could create it where the broker auto-creates topics
            topics = consumer.list_topics(timeout=3).topics
        except Exception:  # the broker is down: the sampler reports it; try again later
            return
        new = [
            TopicPartition(name, partition, OFFSET_BEGINNING)
            for name in self._topics
            if name in topics and topics[name].error is None
            for partition in topics[name].partitions
            if (name, partition) not in self._assigned
        ]
        if new:
            consumer.incremental_assign(new)
            self._assigned.update((tp.topic, tp.partition) for tp in new)
