"""Reading analytics' stats topic as it is written: one reader for every client of the API.

A consumer without a group (nothing committed) is assigned every partition of the stats
topic (`order-stats`, or `T.stats`) from its start, reading committed records only:
analytics writes its windows in transactions, so a window of an aborted batch is never
shown, and one written again after a crash is the same window (see `windows`). Each record
is decoded with the `order_stats` schema analytics registered and handed to the
`AnalyticsWindows` the routes and the stream read. A topic that does not exist yet is
picked up when it appears; a record that cannot be decoded because the registry is away is
read again once it answers, so no window is lost to a blip.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Message, TopicPartition

from pipeline import registry_client
from pipeline.api.windows import AnalyticsWindows
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka import clients
from pipeline.registry_client import RegistryUnavailable, value_subject
from pipeline.serde import AvroDecoder
from pipeline.services.stats import window_of

RECHECK_S = 3.0
RETRY_S = 1.0


class AnalyticsReader:
    def __init__(self, settings: Settings, windows: AnalyticsWindows) -> None:
        self.settings = settings
        self.windows = windows
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._assigned: set[int] = set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="api-analytics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        config = clients.consumer_config(
            self.settings,
            "order-pipeline-api-analytics",  # librdkafka wants one; nothing is ever committed
            **{"isolation.level": "read_committed", "log_level": 2},
        )
        consumer = clients.consumer(config)
        registry = registry_client.connect(self.settings, timeout_s=5)
        decoder = AvroDecoder(registry, value_subject(self.windows.topic))
        try:
            checked = 0.0
            while not self._stop.is_set():
                if time.monotonic() - checked > RECHECK_S:
                    checked = time.monotonic()
                    self._assign_new(consumer)
                if not self._assigned:
                    self._stop.wait(0.5)
                    continue
                self._take_all(consumer, consumer.consume(500, 0.5), decoder)
        finally:
            consumer.close()
            registry.close()

    def _assign_new(self, consumer: Any) -> None:
        topic = self.windows.topic
        try:  # all topics: naming one could create it where the broker auto-creates topics
            found = consumer.list_topics(timeout=3).topics.get(topic)
        except Exception:  # the broker is down: the sampler reports it; try again later
            return
        if found is None or found.error is not None:
            return
        new = [p for p in found.partitions if p not in self._assigned]
        if new:
            consumer.incremental_assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in new])
            self._assigned.update(new)

    def _take_all(self, consumer: Any, messages: list[Message], decoder: AvroDecoder) -> None:
        """Add the records' windows. While the registry is away, each partition is sought
        back to its first record not taken, to be read again once it answers."""
        for index, message in enumerate(messages):
            if message.error() is not None:
                continue
            try:
                _, record = decoder.decode(message.value())
                window = window_of(record)
            except RegistryUnavailable:
                self._seek_back(consumer, messages[index:])
                self._stop.wait(RETRY_S)
                return
            except (PipelineError, KeyError, TypeError, ValueError):
                self.windows.undecodable += 1  # not an order_stats record: counted, skipped
                continue
            self.windows.add(window)

    def _seek_back(self, consumer: Any, untaken: list[Message]) -> None:
        first: dict[int, int] = {}
        for message in untaken:
            partition, offset = message.partition(), message.offset()
            if message.error() is None and partition is not None and offset is not None:
                first[partition] = min(offset, first.get(partition, offset))
        for partition, offset in first.items():
            consumer.seek(TopicPartition(self.windows.topic, partition, offset))
