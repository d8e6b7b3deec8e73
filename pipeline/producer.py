"""`produce`: generated order lifecycles, Avro-encoded through the registry, into Kafka.

Governance first: the schema file is looked up in the registry under the topic's value
subject before anything is sent, and never registered from here. Delivery is `acks=all`
with idempotence; messages are keyed by order id so an order stays in one partition.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.events import generate_events
from pipeline.kafka import clients
from pipeline.kafka.admin import ensure_topics
from pipeline.registry_client import value_subject
from pipeline.schema_files import ORDER_EVENT_V1, load_schema_file
from pipeline.serde import AvroEncoder
from pipeline.signals import stop_on_signals

DEFAULT_SCHEMA = ORDER_EVENT_V1
DEFAULT_CANCEL_RATE = 0.05
FLUSH_TIMEOUT_S = 60.0
# After Ctrl-C, what is still queued gets this long to go, then is dropped and reported.
INTERRUPTED_FLUSH_S = 0.5
# Throughput settings: batches fill for a few ms and are compressed cheaply. 5 ms of linger
# costs no measurable throughput against 50 ms (batches fill anyway at full speed) and cuts
# end-to-end latency at 5,000 events/s from p50 ~60 ms to ~15 ms (`python cli.py bench`).
PRODUCER_CONFIG: dict[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 5,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 500_000,
}
# `Producer.produce(topic, value, key, partition, on_delivery)`: the partition for "the
# configured partitioner's", passed with the callback by position, as keywords cost ~0.3 us
# more a message (the C function parses keywords out of a dict; measured, issue 15).
ANY_PARTITION = -1


class ProduceError(PipelineError):
    pass


class Encoder(Protocol):
    """Turns an event dict into a message value (the benchmark swaps in other encoders)."""

    @property
    def schema_id(self) -> int: ...

    def encode(self, record: dict[str, Any]) -> bytes: ...


@dataclass(frozen=True, kw_only=True)
class ProduceOptions:
    count: int | None = 1000  # None: until --duration ends or Ctrl-C
    rate: float | None = None  # events/s; None: as fast as possible
    duration_s: float | None = None
    orders: int = 100  # orders in flight at once
    seed: int | None = None
    schema_path: Path = DEFAULT_SCHEMA
    anomaly_rate: float = 0.0
    start_ms: int | None = None
    # Share of PLACED/CONFIRMED orders cancelled; None: DEFAULT_CANCEL_RATE if the schema
    # has the CANCELLED status (v3 and later), else none.
    cancel_rate: float | None = None


@dataclass
class ProduceSummary:
    topic: str
    schema_id: int
    produced: int = 0  # handed to the client
    delivered: int = 0
    failed: int = 0
    elapsed_s: float = 0.0
    interrupted: bool = False
    errors: list[str] = field(default_factory=list)
    stopped_by_error: bool = False  # the client refused to go on (a KafkaException, say)

    @property
    def ok(self) -> bool:
        """Every event handed over was delivered, and nothing stopped the run early but
        the user."""
        return not (self.stopped_by_error or self.failed or self.delivered < self.produced)

    @property
    def rate(self) -> float:
        return self.delivered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def describe(self) -> list[str]:
        stopped = " (stopped early)" if self.interrupted else ""
        lines = [
            f"sent {self.delivered} events to {self.topic} (schema id {self.schema_id}) "
            f"in {self.elapsed_s:.1f} s: {self.rate:,.0f} events/s{stopped}",
        ]
        lost = self.produced - self.delivered - self.failed
        if self.failed or lost:
            lines.append(f"failed: {self.failed}, undelivered at exit: {lost}")
        lines.extend(f"  error: {error}" for error in self.errors)
        return lines

    def delivery_report(self, error: KafkaError | None, _message: Message) -> None:
        if error is None:
            self.delivered += 1
        else:
            self.failed += 1
            # One line per distinct reason: a purge after a broker outage repeats one error.
            text = error.str()
            if len(self.errors) < 5 and text not in self.errors:
                self.errors.append(text)


Progress = Callable[[ProduceSummary], None]


def produce(
    settings: Settings, options: ProduceOptions, progress: Progress | None = None
) -> ProduceSummary:
    """Send generated events; fails before sending anything if the schema is not registered."""
    schema_str = load_schema_file(options.schema_path)
    cancel_rate = cancel_rate_for(schema_str, options)
    client = registry_client.connect(settings)
    try:
        encoder = AvroEncoder.for_subject(client, value_subject(settings.topic), schema_str)
    finally:
        client.close()
    ensure_topics(settings, {settings.topic: settings.partitions})
    events = generate_events(
        seed=options.seed,
        orders=options.orders,
        start_ms=options.start_ms,
        anomaly_rate=options.anomaly_rate,
        cancel_rate=cancel_rate,
    )
    return send_events(settings, encoder, islice(events, options.count), options, progress)


def cancel_rate_for(schema_str: str, options: ProduceOptions) -> float:
    """The share of cancellations to generate: none unless the schema can say CANCELLED."""
    can_cancel = "CANCELLED" in status_symbols(schema_str)
    if options.cancel_rate is None:
        return DEFAULT_CANCEL_RATE if can_cancel else 0.0
    if options.cancel_rate > 0 and not can_cancel:
        raise ProduceError(
            f"{options.schema_path.name} has no CANCELLED status, so it cannot write "
            "cancellations: write with schemas/order_event.v3.avsc (or leave them out)"
        )
    return options.cancel_rate


def status_symbols(schema_str: str) -> frozenset[str]:
    """The symbols of the order schema's `status` enum (none if it has no such field)."""
    for field_ in json.loads(schema_str).get("fields", []):
        kind = field_.get("type") if field_.get("name") == "status" else None
        if isinstance(kind, dict) and kind.get("type") == "enum":
            return frozenset(kind.get("symbols", ()))
    return frozenset()


def send_events(
    settings: Settings,
    encoder: Encoder,
    events: Iterable[dict[str, Any]],
    options: ProduceOptions,
    progress: Progress | None = None,
) -> ProduceSummary:
    summary = ProduceSummary(settings.topic, encoder.schema_id)
    stop = threading.Event()
    producer = clients.producer(settings.kafka_config(**PRODUCER_CONFIG))
    started = time.monotonic()
    try:
        with stop_on_signals(stop):
            _send(producer, encoder, events, options, summary, stop, progress)
    except KeyboardInterrupt:
        summary.interrupted = True
    except ProduceError as exc:  # the broker stopped taking events: still say what was sent
        summary.interrupted = summary.stopped_by_error = True
        summary.errors.insert(0, str(exc))
    finally:
        clients.close_producer(producer, INTERRUPTED_FLUSH_S if stop.is_set() else FLUSH_TIMEOUT_S)
        summary.elapsed_s = time.monotonic() - started
    summary.interrupted = summary.interrupted or stop.is_set()
    return summary


def _send(
    producer: Producer,
    encoder: Encoder,
    events: Iterable[dict[str, Any]],
    options: ProduceOptions,
    summary: ProduceSummary,
    stop: threading.Event,
    progress: Progress | None,
) -> None:
    topic, encode, report = summary.topic, encoder.encode, summary.delivery_report
    send = producer.produce
    # Check the clock, the rate and Ctrl-C every `chunk` events: cheap at full speed,
    # smooth at low rates.
    chunk = 256 if not options.rate else max(1, int(options.rate / 50))
    started, next_check = time.monotonic(), chunk
    for event in events:
        value = encode(event)
        key = event.get("order_id")  # a record of another schema (produce --from) may lack it
        try:
            send(topic, value, key, ANY_PARTITION, report)
        except BufferError:  # the local queue is full: wait for deliveries to drain it
            if not _send_when_room(producer, topic, value, key, report, stop):
                return  # Ctrl-C while waiting
        except KafkaException as exc:  # fatal idempotence error, a message too large, ...
            raise ProduceError(f"the producer stopped: {exc.args[0].str()}") from exc
        summary.produced += 1
        if summary.produced < next_check:
            continue
        next_check += chunk
        producer.poll(0)
        if progress is not None:
            progress(summary)
        elapsed = time.monotonic() - started
        if stop.is_set() or (options.duration_s and elapsed >= options.duration_s):
            return
        if options.rate:
            ahead = summary.produced / options.rate - elapsed
            if ahead > 0:
                stop.wait(ahead)


def _send_when_room(
    producer: Producer,
    topic: str,
    value: bytes,
    key: str | None,
    report: Callable[[KafkaError | None, Message], None],
    stop: threading.Event,
) -> bool:
    """Send once the queue has room; False if Ctrl-C came first (checked every 0.1 s)."""
    for _ in range(int(FLUSH_TIMEOUT_S / 0.1)):
        producer.poll(0.1)
        if stop.is_set():
            return False
        try:
            producer.produce(topic, value, key, ANY_PARTITION, report)
            return True
        except BufferError:
            continue
        except KafkaException as exc:
            raise ProduceError(f"the producer stopped: {exc.args[0].str()}") from exc
    raise ProduceError(f"the producer queue stayed full for {FLUSH_TIMEOUT_S:.0f} s")
