"""`produce`: generated order lifecycles, Avro-encoded through the registry, into Kafka.

Governance first: the schema file is looked up in the registry under the topic's value
subject before anything is sent, and never registered from here. Delivery is `acks=all`
with idempotence; messages are keyed by order id so an order stays in one partition.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka import KafkaError, Message, Producer

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
FLUSH_TIMEOUT_S = 60.0
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
    )
    return send_events(settings, encoder, islice(events, options.count), options, progress)


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
        summary.interrupted = True
        summary.errors.insert(0, str(exc))
    finally:
        clients.close_producer(producer, FLUSH_TIMEOUT_S)
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
            send(topic, value, key, on_delivery=report)
        except BufferError:  # the local queue is full: wait for deliveries to drain it
            _send_when_room(producer, topic, value, key, report)
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
) -> None:
    for _ in range(int(FLUSH_TIMEOUT_S / 0.1)):
        producer.poll(0.1)
        try:
            producer.produce(topic, value, key, on_delivery=report)
            return
        except BufferError:
            continue
    raise ProduceError(f"the producer queue stayed full for {FLUSH_TIMEOUT_S:.0f} s")
