"""Which offsets the consume loop has finished but not yet committed, per partition."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set

from confluent_kafka import Message, TopicPartition

Key = tuple[str, int]


class OffsetBook:
    """Done work waiting for its commit: the next offset to read, per (topic, partition)."""

    def __init__(self) -> None:
        self._next: dict[Key, int] = {}

    def done(self, messages: Iterable[Message]) -> None:
        for message in messages:
            key = (message.topic() or "", message.partition() or 0)
            offset = (message.offset() or 0) + 1
            if offset > self._next.get(key, -1):
                self._next[key] = offset

    def adopt(self, starts: Mapping[Key, int]) -> None:
        """Positions a service already holds (its store's): done work, to be committed, so
        the group's offsets follow the store even where nothing more is read."""
        for key, offset in starts.items():
            if offset > self._next.get(key, -1):
                self._next[key] = offset

    def pending(self, only: Set[Key] | None = None) -> list[TopicPartition]:
        return [
            TopicPartition(topic, partition, offset)
            for (topic, partition), offset in sorted(self._next.items())
            if only is None or (topic, partition) in only
        ]

    def committed(self, offsets: Iterable[TopicPartition]) -> None:
        for tp in offsets:
            key = (tp.topic, tp.partition)
            if self._next.get(key) == tp.offset:
                del self._next[key]

    def forget(self, keys: Set[Key]) -> None:
        for key in keys:
            self._next.pop(key, None)
