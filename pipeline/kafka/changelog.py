"""Changelog topics: naming, creating, and reading partitions back to restore state.

A stateful service writes each change of its state to `<group>.<topic>.changelog`, a
compacted topic with the input topic's partition count: changelog partition N holds the
state of input partition N, keyed by state key, the value the entry's JSON bytes (none: a
tombstone) and its expiry in the `expires` header. Compaction keeps the latest record of
each key, so the topic stays about as large as the state itself.

Reading back is `read_committed`: what a transaction that was aborted (or is still open)
wrote is never restored. Before reading, `settled_ends` waits until no transaction is open
on the partitions (one a previous owner left behind is ended by the broker within its
transaction timeout), so the end it returns is the end of everything committed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin, TopicSpec

EXPIRES_HEADER = "expires"
# Segments roll at this size, so compaction (which skips the active segment) gets to work.
SEGMENT_BYTES = str(64 * 1024 * 1024)
READ_BATCH = 5000


class ChangelogError(PipelineError):
    pass


def changelog_topic(group: str, topic: str) -> str:
    return f"{group}.{topic}.changelog"


def changelog_spec(name: str, partitions: int) -> TopicSpec:
    config = {"cleanup.policy": "compact", "segment.bytes": SEGMENT_BYTES}
    return TopicSpec(name, partitions, config)


@dataclass(frozen=True)
class Record:
    key: str
    value: bytes | None
    expires_at: int | None


def record_of(message: Message) -> Record:
    expires_at = None
    headers: list[tuple[str, bytes]] = message.headers() or []  # type: ignore[assignment]
    for name, raw in headers:
        if name == EXPIRES_HEADER and raw:
            expires_at = int(raw)
    key = message.key() or b""
    return Record(key.decode(), message.value(), expires_at)


def expiry_headers(expires_at: int | None) -> list[tuple[str, str | bytes | None]] | None:
    return None if expires_at is None else [(EXPIRES_HEADER, str(expires_at).encode())]


Apply = Callable[[int, list[Record], int], None]  # partition, records, next offset


class ChangelogReader:
    """Reads partitions of one changelog topic from given offsets to their committed end."""

    def __init__(self, settings: Settings, topic: str, *, idle_timeout_s: float = 30.0) -> None:
        self.settings = settings
        self.topic = topic
        self.idle_timeout_s = idle_timeout_s
        self._admin = Admin.from_settings(settings)

    def topic_id(self) -> str:
        return self._admin.topic_ids([self.topic])[self.topic]

    def low(self, partitions: Iterable[int]) -> dict[int, int]:
        return self._admin.offsets(self.topic, partitions, end="low")

    def settled_ends(self, partitions: Iterable[int], timeout_s: float) -> dict[int, int]:
        """The end of each partition once no transaction is open on it (waits ≤ timeout_s)."""
        wanted = sorted(partitions)
        deadline = time.monotonic() + timeout_s
        while True:
            stable = self._admin.offsets(self.topic, wanted, end="stable")
            high = self._admin.offsets(self.topic, wanted, end="high")
            if stable == high or time.monotonic() > deadline:
                return stable
            time.sleep(0.1)

    def read(self, starts: Mapping[int, int], ends: Mapping[int, int], apply: Apply) -> None:
        """Feed `apply` each partition's records from `starts` until `ends` (in batches)."""
        todo = {p: ends[p] for p, start in starts.items() if start < ends[p]}
        if not todo:
            return
        consumer = clients.consumer(
            self.settings.kafka_config(
                **{
                    "group.id": f"{self.topic}.restore",  # assigned, never joins or commits
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    "isolation.level": "read_committed",
                }
            )
        )
        try:
            consumer.assign([TopicPartition(self.topic, p, starts[p]) for p in todo])
            self._drain(consumer, todo, apply)
        except KafkaException as exc:
            raise ChangelogError(f"cannot read {self.topic}: {exc.args[0].str()}") from exc
        finally:
            consumer.close()

    def _drain(self, consumer: Consumer, todo: dict[int, int], apply: Apply) -> None:
        last_news = time.monotonic()
        while todo:
            messages = consumer.consume(READ_BATCH, 0.5)
            if messages:
                last_news = time.monotonic()
            elif time.monotonic() - last_news > self.idle_timeout_s:
                missing = ", ".join(f"{self.topic}[{p}] up to {end}" for p, end in todo.items())
                raise ChangelogError(f"no progress restoring {missing}")
            by_partition: dict[int, list[Record]] = {}
            reached: dict[int, int] = {}
            for message in messages:
                partition, offset = message.partition() or 0, message.offset() or 0
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise KafkaException(error)
                    reached[partition] = max(reached.get(partition, 0), offset)
                    continue
                by_partition.setdefault(partition, []).append(record_of(message))
                reached[partition] = max(reached.get(partition, 0), offset + 1)
            for partition, position in reached.items():
                if partition in todo:
                    apply(partition, by_partition.get(partition, []), position)
                    if position >= todo[partition]:
                        del todo[partition]
