"""Place one order, move one order on: the governed producer's rules for single requests.

What `produce` does for generated streams, this does one order at a time for callers that
wait for the answer (the HTTP API): the event is written with the latest version registered
under the topic's value subject (looked up, never registered from here), with `acks=all`
and idempotence, and the caller learns once the broker acknowledged it.

The lifecycle is checked before anything is sent, against the order's known status, and
against the schema: a status the registered schema's enum does not have (CANCELLED before
v3) is refused with the version that would carry it. An idempotency key gives the same
order and event ids every time, so a retry writes an event the store already keeps once.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

from confluent_kafka import KafkaError, Message

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.events import CANCELLABLE, LIFECYCLE, Status, uuid7
from pipeline.events import STATUSES as ALL_STATUSES
from pipeline.kafka import clients
from pipeline.producer import PRODUCER_CONFIG
from pipeline.registry_client import RegistryError, value_subject
from pipeline.schema_files import ORDER_EVENT_V1, ORDER_EVENT_V2, ORDER_EVENT_V3
from pipeline.serde import AvroEncoder

# Ids derived from idempotency keys live in a namespace of their own (uuid5).
IDEMPOTENCY_NAMESPACE = uuid.UUID("0f7b5e52-3c4e-4b87-a7f1-6d2f1f0c2a93")
# An answer within seconds: librdkafka gives up on a message it could not deliver by then.
DELIVERY_TIMEOUT_S = 5.0
# How long the latest registered version is trusted before the registry is asked again.
SCHEMA_TTL_S = 5.0
KNOWN_ORDERS = 100_000
SCHEMA_FILES = (ORDER_EVENT_V1, ORDER_EVENT_V2, ORDER_EVENT_V3)
RandomSource = Callable[[int], int]


class OrderRefused(PipelineError):
    """The lifecycle or the registered schema does not allow this step (HTTP 409)."""


class UnknownOrder(PipelineError):
    """Neither this producer nor the store knows the order (HTTP 404)."""


class NotDelivered(PipelineError):
    """The broker did not acknowledge the event in time (HTTP 503: try again)."""


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """What is known of an order: its last status and the fields every event repeats."""

    order_id: str
    status: str
    user_id: str
    source: str
    amount: float | None = None
    currency: str = "EUR"
    timestamp_ms: int = 0


@dataclass(frozen=True, slots=True)
class Produced:
    order: OrderRecord
    event_id: str
    schema_id: int
    schema_version: int
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class LatestSchema:
    subject: str
    version: int
    encoder: AvroEncoder
    statuses: frozenset[str]

    @classmethod
    def of(cls, subject: str, version: int, schema_id: int, schema_str: str) -> LatestSchema:
        return cls(subject, version, AvroEncoder(schema_id, schema_str), status_symbols(schema_str))


def status_symbols(schema_str: str) -> frozenset[str]:
    """The symbols of the `status` enum of an order-event schema (empty if it has none)."""
    for field in json.loads(schema_str).get("fields", []):
        kind = field.get("type") if field.get("name") == "status" else None
        if isinstance(kind, dict) and kind.get("type") == "enum":
            return frozenset(kind.get("symbols", ()))
    return frozenset()


def version_carrying(status: str) -> str:
    """Which of the project's order-event schemas first carries `status`, for the refusal."""
    for number, path in enumerate(SCHEMA_FILES, start=1):
        if status in status_symbols(path.read_text(encoding="utf-8")):
            return f"order_event v{number} (schemas/{path.name})"
    return "a schema whose status enum has it"


def derived_ids(key: str, scope: str) -> tuple[str, str]:
    """(order id, event id) for an idempotency key: the same key gives the same ids."""
    order_id = uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"order:{key}")
    event_id = uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{scope}:{key}")
    return str(order_id), str(event_id)


class KnownOrders:
    """The last event this process produced for each order (bounded, least recent dropped)."""

    def __init__(self, capacity: int = KNOWN_ORDERS) -> None:
        self._capacity = capacity
        self._orders: OrderedDict[str, OrderRecord] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, order_id: str) -> OrderRecord | None:
        with self._lock:
            return self._orders.get(order_id)

    def put(self, record: OrderRecord) -> None:
        with self._lock:
            self._orders[record.order_id] = record
            self._orders.move_to_end(record.order_id)
            if len(self._orders) > self._capacity:
                self._orders.popitem(last=False)


# The lifecycle of `pipeline.events`: one step at a time along LIFECYCLE, CANCELLED from
# PLACED or CONFIRMED, nothing after DELIVERED or CANCELLED.
FORWARD = tuple(status.value for status in LIFECYCLE)
TERMINAL = frozenset((Status.DELIVERED.value, Status.CANCELLED.value))
STATUSES = tuple(status.value for status in ALL_STATUSES)


def transition_refusal(current: str, wanted: str) -> str | None:
    """Why an order in `current` cannot move to `wanted`, or None if it can."""
    if wanted not in STATUSES:
        return f"unknown status {wanted!r}: choose one of {', '.join(STATUSES[1:])}"
    if current in TERMINAL:
        return f"it is {current}, and nothing follows {current}"
    if wanted == "PLACED":
        return "it is already placed (POST /orders places new orders)"
    if wanted == "CANCELLED":
        return None if current in CANCELLABLE else f"a {current} order cannot be cancelled"
    if current not in FORWARD:
        return f"its status {current!r} is not one of the lifecycle's"
    following = FORWARD[FORWARD.index(current) + 1]
    if wanted != following:
        return f"{current} -> {wanted} is not allowed: after {current} comes {following}"
    return None


def event_of(order: OrderRecord, event_id: str) -> dict[str, Any]:
    """The Avro record of one step (fields a schema does not have are left out by the writer)."""
    return {
        "event_id": event_id,
        "event_type": f"order_{order.status.lower()}",
        "order_id": order.order_id,
        "user_id": order.user_id,
        "status": order.status,
        "timestamp": order.timestamp_ms,
        "source": order.source,
        "amount": order.amount,
        "currency": order.currency,
    }


class OrderWriter:
    """One idempotent producer shared by every request; a thread serves its delivery reports.

    `start()` builds the client (no I/O in the constructor); `close()` flushes and stops.
    """

    def __init__(self, settings: Settings, *, delivery_timeout_s: float = DELIVERY_TIMEOUT_S):
        self.settings = settings
        self.subject = value_subject(settings.topic)
        self.known = KnownOrders()
        self._timeout_ms = int(delivery_timeout_s * 1000)
        self._producer: Any = None
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._schema: tuple[float, LatestSchema] | None = None
        self._schema_lock = threading.Lock()
        self.registry_requests = 0

    def start(self) -> None:
        config = {**PRODUCER_CONFIG, "message.timeout.ms": self._timeout_ms, "log_level": 2}
        self._producer = clients.producer(self.settings.kafka_config(**config))
        self._poller = threading.Thread(target=self._poll, name="order-writer", daemon=True)
        self._poller.start()

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
        if self._producer is not None:
            clients.close_producer(self._producer, self._timeout_ms / 1000)
            self._producer = None

    def schema_is_fresh(self) -> bool:
        """Whether `latest_schema()` will answer without asking the registry."""
        cached = self._schema
        return cached is not None and time.monotonic() - cached[0] < SCHEMA_TTL_S

    def latest_schema(self) -> LatestSchema:
        """The latest version of the subject, asked again every SCHEMA_TTL_S seconds."""
        with self._schema_lock:
            now = time.monotonic()
            if self._schema is not None and now - self._schema[0] < SCHEMA_TTL_S:
                return self._schema[1]
            latest = self._fetch_latest()
            self._schema = (now, latest)
            return latest

    def _fetch_latest(self) -> LatestSchema:
        self.registry_requests += 1
        with registry_client.connected(self.settings) as client:
            try:
                found = registry_client.call(
                    lambda: client.get_latest_version(self.subject), f"subject {self.subject!r}"
                )
            except registry_client.RegistryUnavailable:
                raise
            except RegistryError as exc:
                if registry_client.is_not_found(exc):
                    raise registry_client.SchemaNotRegisteredError(
                        f"no schema is registered under {self.subject!r}: register one first "
                        "(python cli.py schema register schemas/order_event.v2.avsc)"
                    ) from exc
                raise
        schema_str = found.schema.schema_str if found.schema else None
        if not schema_str or found.schema_id is None or found.version is None:
            raise RegistryError(f"the registry answered {self.subject!r} without a schema")
        return LatestSchema.of(self.subject, found.version, found.schema_id, schema_str)

    def place(
        self,
        *,
        user_id: str,
        source: str,
        amount: float | None,
        currency: str,
        idempotency_key: str | None = None,
    ) -> Future[Produced]:
        now = int(time.time() * 1000)
        if idempotency_key is None:
            order_id, event_id = uuid7_pair(now)
        else:
            order_id, event_id = derived_ids(idempotency_key, "placed")
        order = OrderRecord(order_id, "PLACED", user_id, source, amount, currency, now)
        return self._send(order, event_id, self.latest_schema())

    def move(
        self,
        current: OrderRecord,
        status: str,
        *,
        idempotency_key: str | None = None,
    ) -> Future[Produced]:
        """Move a known order to `status`; OrderRefused if the lifecycle or schema forbid it."""
        reason = transition_refusal(current.status, status)
        if reason is not None:
            raise OrderRefused(f"order {current.order_id}: {reason}")
        schema = self.latest_schema()
        if status not in schema.statuses:
            raise OrderRefused(
                f"the registered schema ({schema.subject} version {schema.version}) cannot "
                f"carry {status}: it needs {version_carrying(status)}; register that version "
                "first (python cli.py schema register FILE)"
            )
        now = max(int(time.time() * 1000), current.timestamp_ms + 1)
        if idempotency_key is None:
            event_id = uuid7_pair(now)[1]
        else:
            event_id = derived_ids(idempotency_key, f"{current.order_id}:{status}")[1]
        return self._send(replace(current, status=status, timestamp_ms=now), event_id, schema)

    def _send(self, order: OrderRecord, event_id: str, schema: LatestSchema) -> Future[Produced]:
        if self._producer is None:
            raise NotDelivered("the order writer is not started")
        future: Future[Produced] = Future()
        value = schema.encoder.encode(event_of(order, event_id))

        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                future.set_exception(
                    NotDelivered(
                        f"Kafka at {self.settings.bootstrap_servers} did not take the event: "
                        f"{error.str()}"
                    )
                )
                return
            self.known.put(order)
            future.set_result(
                Produced(
                    order,
                    event_id,
                    schema.encoder.schema_id,
                    schema.version,
                    message.partition() or 0,
                    message.offset() or 0,
                )
            )

        try:
            self._producer.produce(
                self.settings.topic, value, order.order_id, on_delivery=delivered
            )
        except BufferError as exc:
            raise NotDelivered("the producer's queue is full: try again shortly") from exc
        return future

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)


def uuid7_pair(now_ms: int) -> tuple[str, str]:
    """A fresh time-ordered (order id, event id), as the generator makes them, from the OS's
    randomness."""
    rng = random.SystemRandom()
    return uuid7(rng, now_ms), uuid7(rng, now_ms)
