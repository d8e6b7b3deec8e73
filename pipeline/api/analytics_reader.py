"""Reading analytics' stats topic as it is written: one reader for every client of the API.

A `TopicTail` of the stats topic (`order-stats`, or `T.stats`): every partition from its
start, committed records only. Analytics writes its windows in transactions, so a window of
an aborted batch is never shown, and one written again after a crash is the same window
(see `windows`). Each record is decoded with the `order_stats` schema analytics registered
and handed to the `AnalyticsWindows` the routes and the stream read. A record that cannot
be decoded because the registry is away is read again once it answers, so no window is
lost to a blip.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Message, TopicPartition

from pipeline.api.topic_tail import TopicTail
from pipeline.api.windows import AnalyticsWindows
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.registry_client import RegistryUnavailable
from pipeline.serde import AvroDecoder
from pipeline.services.stats import window_of

RETRY_S = 1.0


class AnalyticsReader(TopicTail):
    def __init__(self, settings: Settings, windows: AnalyticsWindows) -> None:
        topic = windows.topic
        super().__init__(settings, name="api-analytics", topics=(topic,), decoded_topic=topic)
        self.windows = windows

    def _take_all(self, consumer: Any, messages: list[Message], decoder: AvroDecoder) -> None:
        """Add the records' windows. While the registry is away, each partition is sought
        back to its first record not taken, to be read again once it answers."""
        for index, message in enumerate(messages):
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
            if partition is not None and offset is not None:
                first[partition] = min(offset, first.get(partition, offset))
        for partition, offset in first.items():
            consumer.seek(TopicPartition(self.windows.topic, partition, offset))
