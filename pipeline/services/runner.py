"""The one consume loop every service runs on: poll → decode → handle → dead-letter → commit.

At-least-once: a batch's offsets are committed synchronously only after the service has
handled it and every dead letter is stored. A message that cannot be decoded goes to the
dead-letter topic with its reason, and so does an event the service fails on by itself
(`isolation.py`); neither stops or stalls the loop. A failure that is not about one event
(store, broker) stops the service without committing. Partitions are assigned
incrementally (cooperative-sticky); a `PartitionAware` service hears of each assignment
before it gets their events and of each revocation after its last batch with them
(`assignment.py`). SIGINT/SIGTERM finish the current batch, commit it and stop; the
consumer is closed in `finally`. A `Stateful` service's batches commit through
`transactional.StatefulBatches` instead, exactly-once by default (`RunOptions.guarantee`);
under exactly-once a batch takes up to `transaction_batch_size` messages of a backlog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from pipeline import registry_client
from pipeline.config import Settings, replay_topic
from pipeline.dlq import DeadLetter, DeadLetterWriter, header_pairs
from pipeline.errors import ConfigError, PipelineError
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin, TopicSpec
from pipeline.model import Event, PartitionRef
from pipeline.registry_client import RegistryUnavailable, value_subject
from pipeline.serde import AvroDecoder, DecodeError
from pipeline.services.assignment import Assignment, Key
from pipeline.services.base import Service
from pipeline.services.collector import collector_paused
from pipeline.services.groups import chosen_group
from pipeline.services.guarantees import Guarantee
from pipeline.services.isolation import describe_failure, handle_isolating
from pipeline.services.offsets import OffsetBook
from pipeline.services.stateful import Stateful
from pipeline.services.summary import RunSummary
from pipeline.services.transactional import StatefulBatches
from pipeline.signals import stop_on_signals

log = logging.getLogger(__name__)
REGISTRY_RETRY_MAX_S = 10.0
# Incremental rebalancing: a member joining or leaving moves only the partitions that
# change hands; the others keep being consumed through the rebalance.
ASSIGNMENT_STRATEGY = "cooperative-sticky"


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    group_id: str | None = None  # defaults to one named after what it reads (groups.py)
    # A batch costs a synchronous offset commit and the service's transaction (tens of ms
    # on a busy machine) however many events it has; it only grows this big under load.
    batch_size: int = 2000
    poll_timeout_s: float = 0.5
    max_events: int | None = None  # stop once this many messages are done (tests, demo)
    idle_timeout_s: float | None = None  # stop after this long with nothing to read
    handle_signals: bool = True  # SIGINT/SIGTERM stop the loop (main thread only)
    # Static membership (group.instance.id): a restart within the session timeout gets its
    # partitions back without a rebalance; but when it leaves, they wait out that timeout.
    instance_id: str | None = None
    # For a stateful service (the order processor, analytics); exactly-once if not given.
    guarantee: Guarantee | None = None
    # Exactly-once: a batch takes up to this many messages that have already arrived (never
    # fewer than batch_size), so a backlog spreads each transaction's fixed round trips
    # (AddPartitionsToTxn, TxnOffsetCommit, EndTxn) over more events; no waiting is added.
    transaction_batch_size: int = 5000


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
        group = chosen_group(service.name, settings, self.options.group_id)
        self.summary = RunSummary(service.name, group)
        self._on_tick = on_tick
        self._stop = threading.Event()
        self._book = OffsetBook()
        self._idle_since = time.monotonic()  # reset by data and by a new assignment
        self._registry_failures = 0  # consecutive batches the registry could not serve
        self._admin = Admin.from_settings(settings)  # no I/O until first used
        # The positions a store holds become offsets to commit (a stateful service's offsets
        # move with its state, in its own batches).
        adopt = None if isinstance(service, Stateful) else self._book.adopt
        self._assignment = Assignment(service, self._admin, self._give_up, adopt)
        self.batches: StatefulBatches | None = None
        if isinstance(service, Stateful):
            guarantee = self.options.guarantee or Guarantee.EXACTLY_ONCE
            self.summary.guarantee = guarantee.value
            self.batches = StatefulBatches(
                settings, service, group, guarantee, self._assignment.topic_id
            )

    def stop(self) -> None:
        """Ask the loop to stop after the current batch (safe from any thread)."""
        self._stop.set()

    def run(self) -> RunSummary:
        # Signals are heard from the very start: a stop asked for while the service is still
        # starting (restoring state, waiting on a predecessor's transaction) ends it cleanly,
        # as one asked for later does, instead of killing it mid-start.
        with stop_on_signals(self._stop, self.options.handle_signals):
            return self._run()

    def _run(self) -> RunSummary:
        self._admin.ensure(
            [
                TopicSpec(self.settings.topic, self.settings.partitions),
                TopicSpec(self.settings.dlq_topic, 1),
            ]
        )
        # `dlq replay` hands this service, and it alone, its dead letters back on this
        # topic; it exists once a letter was replayed (a run started later reads it).
        replay = replay_topic(self.settings.topic, self.service.name)
        replays = [replay] if self._admin.partitions(replay) else []
        # Whatever is open is closed however the run ends, a second Ctrl-C during the start
        # included; in reverse order: the consumer first (it revokes what is left, and the
        # service hears of it), the service last.
        with ExitStack() as opened:
            opened.callback(self.service.close)
            registry = registry_client.connect(self.settings)
            opened.callback(registry.close)
            # A service that keeps uuids as text and times as epoch milliseconds (the
            # storage service) is handed them so, not as objects it would only undo.
            plain = bool(getattr(self.service, "plain_values", False))
            decoder = AvroDecoder(registry, value_subject(self.settings.topic), plain=plain)
            dlq = DeadLetterWriter(self.settings)
            opened.callback(dlq.close)
            if self.batches is not None:
                opened.callback(self.batches.close)
                self.batches.start()  # claims the state folder, fences a predecessor's producer
            consumer = clients.consumer(self._consumer_config())
            opened.callback(consumer.close)
            assignment = self._assignment
            try:
                consumer.subscribe(
                    [self.settings.topic, *replays],
                    on_assign=assignment.on_assign,
                    on_revoke=assignment.on_revoke,
                    on_lost=assignment.on_lost,
                )
                self._loop(consumer, decoder, dlq)
            except KafkaException as exc:  # fatal: authentication, authorization, fenced
                raise ConsumeError(f"{self.service.name} stopped: {exc.args[0].str()}") from exc
        self._assignment.raise_failure()  # the last revocation (at close) failed
        self.summary.finish()
        return self.summary

    def _consumer_config(self) -> dict[str, object]:
        # Read committed (clients.consumer_config): committed offsets that a previous
        # owner's open transaction holds are waited for, not read past.
        extra: dict[str, object] = {"partition.assignment.strategy": ASSIGNMENT_STRATEGY}
        if self.options.instance_id:
            extra["group.instance.id"] = self.options.instance_id
        return clients.consumer_config(self.settings, self.summary.group_id, **extra)

    def _loop(self, consumer: Consumer, decoder: AvroDecoder, dlq: DeadLetterWriter) -> None:
        options = self.options
        self._idle_since = time.monotonic()
        changes = 0
        while not self._stop.is_set():
            wanted = self._batch_size()
            if options.max_events is not None:
                wanted = min(wanted, options.max_events - self.summary.consumed)
                if wanted <= 0:
                    self.summary.stopped_by = "max-events"
                    return
            messages = self._poll(consumer, wanted)
            if changes != self._assignment.changes:  # a new assignment restarts the idle clock
                changes = self._assignment.changes
                self._idle_since = time.monotonic()
                self.summary.assignments = changes
                self.summary.partitions = self._assignment.partitions()
            if messages:
                self._process(consumer, messages, decoder, dlq)
                self._idle_since = time.monotonic()
            elif options.idle_timeout_s and self._idle_for() >= options.idle_timeout_s:
                self.summary.stopped_by = "idle"
                return
            if self._on_tick is not None:
                self._on_tick(self.summary)
        self.summary.stopped_by = "stop-request"

    def _batch_size(self) -> int:
        if self.batches is not None and self.batches.guarantee is Guarantee.EXACTLY_ONCE:
            return max(self.options.batch_size, self.options.transaction_batch_size)
        return self.options.batch_size

    def _poll(self, consumer: Consumer, wanted: int) -> list[Message]:
        """A batch of messages of partitions this consumer still owns.

        Wait for the first message only, then take what has arrived meanwhile: a batch is
        whatever piled up while the last one was written, so latency stays low at low
        rates and batches grow by themselves under load (consume(n, t) would wait for n).
        """
        batch = consumer.consume(1, self.options.poll_timeout_s)
        if batch and wanted > 1:
            batch += consumer.consume(wanted - 1, 0)
        self._assignment.raise_failure()  # a rebalance callback failed: stop, handle nothing
        # A partition revoked during the second consume() may have messages in the batch:
        # its new owner reads them from the committed offset, so they are not ours to do.
        owned, refs, dropped = [], self._assignment.refs, 0
        for message in batch:  # one pass, no Python call per message: runs for every event
            error = message.error()
            if error is not None:
                _raise_if_fatal(error)
            elif (message.topic(), message.partition()) in refs:
                owned.append(message)
            else:
                dropped += 1
        self.summary.dropped_after_revoke += dropped
        return owned

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
            with collector_paused():  # a batch's objects die with it (collector.py)
                refs = self._assignment.refs
                for message in messages:
                    try:
                        events.append(self._event(message, decoder, refs))
                    except DecodeError as exc:
                        letters.append(self._letter(message, exc.kind, str(exc)))
                outcome = handle_isolating(self.service, events)
        except RegistryUnavailable as exc:
            # A service raises it only before it changes anything (its contract), so the
            # batch can be read again.
            if self.batches is not None:
                self.batches.abandon()
            self._retry_later(consumer, messages, exc)
            return
        self._registry_failures = 0
        for refusal in outcome.refusals:
            letters.append(self._letter(refusal.event, "refused", refusal.reason))
        for event, failure in outcome.failures:
            letters.append(self._letter(event, "handler-error", describe_failure(failure)))
        if self.batches is not None:
            # Letters, outputs, state and offsets: one transaction (or flushed, then offsets).
            kinds = self.batches.finish(consumer, messages, letters)
            producer = self.batches.output.producer
            self.summary.count_transactions(
                producer.committed, producer.aborted, producer.last_commit_at
            )
            if kinds is None:  # aborted: nothing of the batch counts; read it again
                self._rewind(consumer, messages)
                return
        else:
            for letter in letters:
                dlq.send(letter)
            kinds = dlq.flush()  # raises if a letter is not stored: then nothing is committed
            self._book.done(messages)
            self._commit(consumer, self._book.pending())
        self.summary.count_batch(len(messages), len(events) - len(outcome.failures), kinds)

    @staticmethod
    def _event(message: Message, decoder: AvroDecoder, refs: Mapping[Key, PartitionRef]) -> Event:
        raw = message.value()
        writer, value = decoder.decode(raw)
        topic, partition = message.topic() or "", message.partition() or 0
        ref = refs.get((topic, partition))
        return Event(
            topic,
            partition,
            message.offset() or 0,
            message.key(),
            raw or b"",
            header_pairs(message),
            message.timestamp()[1],
            value,
            writer,
            "" if ref is None else ref.topic_id,
        )

    def _retry_later(self, consumer: Consumer, messages: list[Message], exc: Exception) -> None:
        """The registry is unreachable: nothing of the batch was done, so read it again later.

        Dead-lettering would be wrong (the messages are fine) and stopping would leave the
        service down after the registry is back; waiting with a growing pause is neither.
        """
        self._registry_failures += 1
        self.summary.registry_retries += 1
        pause = min(REGISTRY_RETRY_MAX_S, 0.5 * 2 ** (self._registry_failures - 1))
        log.warning("%s: %s; reading the batch again in %.1f s", self.service.name, exc, pause)
        owned = self._assignment.owned_keys()
        for partition in _earliest_offsets(messages):
            if (partition.topic, partition.partition) in owned:
                consumer.seek(partition)
        self._stop.wait(pause)

    def _rewind(self, consumer: Consumer, messages: list[Message]) -> None:
        """Read the batch again (its transaction was aborted)."""
        owned = self._assignment.owned_keys()
        for partition in _earliest_offsets(messages):
            if (partition.topic, partition.partition) in owned:
                consumer.seek(partition)

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
        # Only partitions still owned: a commit for one given up could move its offset
        # behind what the new owner already committed.
        owned = self._assignment.owned_keys()
        offsets = [tp for tp in offsets if (tp.topic, tp.partition) in owned]
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
            self._assignment.committed(offsets)

    def _give_up(self, consumer: Consumer, keys: set[Key], commit: bool) -> None:
        """Partitions are being revoked (still owned) or were lost (commit is False)."""
        if commit:
            self._commit(consumer, self._book.pending(keys))
        self._book.forget(keys)


def _earliest_offsets(messages: list[Message]) -> list[TopicPartition]:
    earliest: dict[tuple[str, int], int] = {}
    for message in messages:
        where = (message.topic() or "", message.partition() or 0)
        earliest[where] = min(earliest.get(where, message.offset() or 0), message.offset() or 0)
    return [TopicPartition(topic, part, offset) for (topic, part), offset in earliest.items()]


def _raise_if_fatal(error: KafkaError) -> None:
    """The error a message carries instead of data: a fatal one stops the service."""
    if error.fatal():
        raise KafkaException(error)
    if error.code() != KafkaError._PARTITION_EOF:
        log.warning("consumer: %s", error.str())


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

        defaults = Windowing()
        windowing = Windowing(
            size_ms=defaults.size_ms if tuning.window_s is None else tuning.window_s * 1000,
            grace_ms=defaults.grace_ms if tuning.grace_s is None else tuning.grace_s * 1000,
        )
        return Analytics(settings, windowing=windowing, retention=retention)
    if name == "storage":
        from pipeline.services.storage import StorageService

        return StorageService(settings)
    raise ConfigError(f"unknown service {name!r}; choose one of {', '.join(SERVICE_NAMES)}")
