"""The one consume loop every service runs on: poll → decode → handle → dead-letter → commit.

At-least-once: a batch's offsets are committed synchronously only after the service has
handled it and every dead letter is stored. A message that cannot be decoded goes to the
dead-letter topic with its reason; it never stops or stalls the loop. SIGINT/SIGTERM finish
the current batch, commit it and stop; the consumer is closed in `finally`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import (
    OFFSET_INVALID,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.dlq import DeadLetter, DeadLetterWriter, header_pairs
from pipeline.errors import ConfigError, PipelineError
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin, ensure_topics
from pipeline.model import Event, PartitionRef
from pipeline.registry_client import RegistryUnavailable, value_subject
from pipeline.serde import AvroDecoder, DecodeError
from pipeline.services.base import PartitionAware, Service
from pipeline.services.guarantees import Guarantee
from pipeline.services.offsets import OffsetBook
from pipeline.services.stateful import Stateful
from pipeline.services.summary import RunSummary
from pipeline.services.transactional import StatefulBatches
from pipeline.signals import stop_on_signals

log = logging.getLogger(__name__)
REGISTRY_RETRY_MAX_S = 10.0


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    group_id: str | None = None  # defaults to the service's name
    batch_size: int = 500
    poll_timeout_s: float = 0.5
    max_events: int | None = None  # stop once this many messages are done (tests, demo)
    idle_timeout_s: float | None = None  # stop after this long with nothing to read
    handle_signals: bool = True  # SIGINT/SIGTERM stop the loop (main thread only)
    # For a stateful service (the order processor, analytics); exactly-once if not given.
    guarantee: Guarantee | None = None


class ConsumeError(PipelineError):
    """The consumer hit an error Kafka calls fatal; the service cannot go on."""


class Runner:
    """Runs one service until it is told to stop; `run()` returns the summary."""

    def __init__(
        self,
        settings: Settings,
        service: Service,
        options: RunOptions | None = None,
        on_tick: Callable[[RunSummary], None] | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.options = options or RunOptions()
        self.summary = RunSummary(service.name, self.options.group_id or service.name)
        self._on_tick = on_tick
        self._stop = threading.Event()
        self._book = OffsetBook()
        self._idle_since = time.monotonic()  # reset by data and by a new assignment
        self._registry_failures = 0  # consecutive batches the registry could not serve
        self._topic_ids: dict[str, str] = {}
        self.batches: StatefulBatches | None = None
        if isinstance(service, Stateful):
            guarantee = self.options.guarantee or Guarantee.EXACTLY_ONCE
            self.summary.guarantee = guarantee.value
            self.batches = StatefulBatches(
                settings, service, self.summary.group_id, guarantee, self._topic_id
            )

    def stop(self) -> None:
        """Ask the loop to stop after the current batch (safe from any thread)."""
        self._stop.set()

    def run(self) -> RunSummary:
        topics = {self.settings.topic: self.settings.partitions, self.settings.dlq_topic: 1}
        ensure_topics(self.settings, topics)
        registry = registry_client.connect(self.settings)
        decoder = AvroDecoder(registry, value_subject(self.settings.topic))
        dlq = DeadLetterWriter(self.settings)
        if self.batches is not None:
            self.batches.start()  # claims the state folder, fences a predecessor's producer
        # read_committed: offsets a previous owner's open transaction holds are waited for.
        config = clients.consumer_config(
            self.settings, self.summary.group_id, **{"isolation.level": "read_committed"}
        )
        consumer = clients.consumer(config)
        try:
            with stop_on_signals(self._stop, self.options.handle_signals):
                consumer.subscribe(
                    [self.settings.topic],
                    on_assign=self._assigned,
                    on_revoke=lambda c, parts: self._revoked(c, parts, commit=True),
                    on_lost=lambda c, parts: self._revoked(c, parts, commit=False),
                )
                self._loop(consumer, decoder, dlq)
        except KafkaException as exc:  # fatal: authentication, authorization, a fenced member
            raise ConsumeError(f"{self.service.name} stopped: {exc.args[0].str()}") from exc
        finally:
            try:
                consumer.close()
            finally:
                dlq.close()
                registry.close()
                if self.batches is not None:
                    self.batches.close()
                self.service.close()
        self.summary.finish()
        return self.summary

    def _loop(self, consumer: Consumer, decoder: AvroDecoder, dlq: DeadLetterWriter) -> None:
        options = self.options
        self._idle_since = time.monotonic()
        while not self._stop.is_set():
            wanted = options.batch_size
            if options.max_events is not None:
                wanted = min(wanted, options.max_events - self.summary.consumed)
                if wanted <= 0:
                    self.summary.stopped_by = "max-events"
                    return
            messages = [m for m in self._poll(consumer, wanted) if _ok(m)]
            if messages:
                self._process(consumer, messages, decoder, dlq)
                self._idle_since = time.monotonic()
            elif options.idle_timeout_s and self._idle_for() >= options.idle_timeout_s:
                self.summary.stopped_by = "idle"
                return
            if self._on_tick is not None:
                self._on_tick(self.summary)
        self.summary.stopped_by = "stop-request"

    def _poll(self, consumer: Consumer, wanted: int) -> list[Message]:
        # Wait for the first message only, then take what has arrived meanwhile: a batch is
        # whatever piled up while the last one was written, so latency stays low at low
        # rates and batches grow by themselves under load (consume(n, t) would wait for n).
        first = consumer.consume(1, self.options.poll_timeout_s)
        if not first or wanted <= 1:
            return first
        return first + consumer.consume(wanted - 1, 0)

    def _idle_for(self) -> float:
        return time.monotonic() - self._idle_since

    def _process(
        self,
        consumer: Consumer,
        messages: list[Message],
        decoder: AvroDecoder,
        dlq: DeadLetterWriter,
    ) -> None:
        events: list[Event] = []
        letters: list[DeadLetter] = []
        if self.batches is not None:
            self.batches.begin()
        try:
            for message in messages:
                try:
                    events.append(_event(message, decoder))
                except DecodeError as exc:
                    letters.append(self._letter(message, exc.kind, str(exc)))
            # A service raises RegistryUnavailable only before it changes anything (its
            # contract), so the batch can be read again.
            refusals = self.service.handle(events) if events else ()
        except RegistryUnavailable as exc:
            if self.batches is not None:
                self.batches.abandon()
            self._retry_later(consumer, messages, exc)
            return
        self._registry_failures = 0
        for refusal in refusals:
            letters.append(self._letter(refusal.event, "refused", refusal.reason))
        if self.batches is not None:
            # Letters, outputs, state and offsets: one transaction (or flushed, then offsets).
            if not self.batches.finish(consumer, messages, letters):
                self.summary.count_transaction(self.batches.output)
                self._rewind(consumer, messages)
                return
            self.summary.count_transaction(self.batches.output)
        else:
            for letter in letters:
                dlq.send(letter)
            dlq.flush()  # raises if a dead letter is not stored: then nothing is committed
            self._book.done(messages)
            self._commit(consumer, self._book.pending())
        self.summary.count_batch(len(messages), len(events), letters)

    def _rewind(self, consumer: Consumer, messages: list[Message]) -> None:
        """Read the batch again (its transaction was aborted)."""
        for partition in _earliest_offsets(messages):
            consumer.seek(partition)

    def _retry_later(self, consumer: Consumer, messages: list[Message], exc: Exception) -> None:
        """The registry is unreachable: nothing of the batch was done, so read it again later.

        Dead-lettering would be wrong (the messages are fine) and stopping would leave the
        service down after the registry is back; waiting with a growing pause is neither.
        """
        self._registry_failures += 1
        self.summary.registry_retries += 1
        pause = min(REGISTRY_RETRY_MAX_S, 0.5 * 2 ** (self._registry_failures - 1))
        log.warning("%s: %s; reading the batch again in %.1f s", self.service.name, exc, pause)
        for partition in _earliest_offsets(messages):
            consumer.seek(partition)
        self._stop.wait(pause)

    def _letter(self, source: Message | Event, kind: str, reason: str) -> DeadLetter:
        if isinstance(source, Event):
            where = (source.topic, source.partition, source.offset)
            return DeadLetter(
                kind, reason, self.service.name, *where, source.key, source.raw, source.headers
            )
        return DeadLetter(
            kind,
            reason,
            self.service.name,
            source.topic() or "",
            source.partition() or 0,
            source.offset() or 0,
            source.key(),
            source.value(),
            header_pairs(source),
        )

    def _commit(self, consumer: Consumer, offsets: list[TopicPartition]) -> None:
        if not offsets:
            return
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # A rebalance beat us: the new owner redoes the batch (at-least-once allows it).
            self.summary.commit_failures += 1
            log.warning("commit of %s failed: %s", self.service.name, exc.args[0].str())
        else:
            self._book.committed(offsets)

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.summary.assignments += 1
        self._idle_since = time.monotonic()
        self.summary.partitions = sorted({p.partition for p in partitions})
        log.info("%s assigned partitions %s", self.service.name, self.summary.partitions)
        if isinstance(self.service, PartitionAware) and partitions:
            # Before any of their events: the service's own positions win (state restored).
            refs = self._refs(partitions)
            starts = self.service.assigned(refs)
            consumer.assign(
                [TopicPartition(r.topic, r.partition, starts.get(r, OFFSET_INVALID)) for r in refs]
            )

    def _refs(self, partitions: list[TopicPartition]) -> list[PartitionRef]:
        missing = {p.topic for p in partitions} - set(self._topic_ids)
        if missing:
            self._topic_ids.update(Admin.from_settings(self.settings).topic_ids(missing))
        return [PartitionRef(p.topic, p.partition, self._topic_id(p.topic)) for p in partitions]

    def _topic_id(self, topic: str, _partition: int = 0) -> str:
        return self._topic_ids.get(topic, "")

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition], commit: bool) -> None:
        # Batches are committed before the next poll, so this only holds work whose commit
        # failed; errors must not escape a librdkafka callback.
        revoked = {(p.topic, p.partition) for p in partitions}
        try:
            if commit:
                self._commit(consumer, self._book.pending(revoked))
            if isinstance(self.service, PartitionAware):
                self.service.revoked(self._refs(partitions))
        except Exception as exc:
            log.warning("commit or revocation failed: %s", exc)
        finally:
            self._book.forget(revoked)


def _earliest_offsets(messages: list[Message]) -> list[TopicPartition]:
    earliest: dict[tuple[str, int], int] = {}
    for message in messages:
        where = (message.topic() or "", message.partition() or 0)
        earliest[where] = min(earliest.get(where, message.offset() or 0), message.offset() or 0)
    return [TopicPartition(topic, part, offset) for (topic, part), offset in earliest.items()]


def _ok(message: Message) -> bool:
    error = message.error()
    if error is None:
        return True
    if error.fatal():
        raise KafkaException(error)
    if error.code() != KafkaError._PARTITION_EOF:
        log.warning("consumer: %s", error.str())
    return False


def _event(message: Message, decoder: AvroDecoder) -> Event:
    raw = message.value()
    writer, value = decoder.decode(raw)
    return Event(
        topic=message.topic() or "",
        partition=message.partition() or 0,
        offset=message.offset() or 0,
        key=message.key(),
        raw=raw or b"",
        headers=header_pairs(message),
        timestamp_ms=message.timestamp()[1],
        value=value,
        schema=writer,
    )


SERVICE_NAMES = ("order-processor", "analytics", "storage")


@dataclass(frozen=True)
class ServiceTuning:
    """The stateful services' knobs (None: their defaults)."""

    window_s: int | None = None
    grace_s: int | None = None
    retention_s: int | None = None


def make_service(name: str, settings: Settings, tuning: ServiceTuning | None = None) -> Service:
    """The service called `name`, imported only when asked for (storage pulls in SQLite)."""
    tuning = tuning or ServiceTuning()
    from pipeline.services.lifecycle import Retention

    retention = Retention()
    if tuning.retention_s is not None:
        retention = Retention(finished_ms=tuning.retention_s * 1000)
    if name == "order-processor":
        from pipeline.services.order_processor import OrderProcessor

        return OrderProcessor(settings, retention=retention)
    if name == "analytics":
        from pipeline.services.analytics import Analytics
        from pipeline.services.windows import Windowing

        windowing = Windowing()
        if tuning.window_s is not None or tuning.grace_s is not None:
            windowing = Windowing(
                size_ms=(tuning.window_s or windowing.size_ms // 1000) * 1000,
                grace_ms=(windowing.grace_ms // 1000 if tuning.grace_s is None else tuning.grace_s)
                * 1000,
            )
        return Analytics(settings, windowing=windowing, retention=retention)
    if name == "storage":
        from pipeline.services.storage import StorageService

        return StorageService(settings)
    raise ConfigError(f"unknown service {name!r}; choose one of {', '.join(SERVICE_NAMES)}")
