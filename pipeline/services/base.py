"""The contract between the shared consume loop (`runner.py`) and the services.

The runner polls a batch, decodes each message into an `Event` with its own writer schema,
and calls `service.handle(batch)`. The service does its work durably and returns the events
it refuses; the runner copies those to the dead-letter topic and only then commits the
batch's offsets (at-least-once). The runner calls `service.close()` when it stops, so a
service may open its resources lazily on the first batch (no I/O in constructors).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class WriterSchema:
    schema_id: int
    # The subject/version this id is registered under for the topic's value subject, if any.
    subject: str | None
    version: int | None
    definition: dict[str, Any]  # the parsed Avro schema JSON, as registered


@dataclass(frozen=True, slots=True)
class Event:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    raw: bytes  # the message value byte for byte (for the DLQ)
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int  # Kafka message timestamp
    value: dict[str, Any]  # decoded with the writer schema itself (no projection)
    schema: WriterSchema


@dataclass(frozen=True, slots=True)
class Refusal:
    event: Event
    reason: str


class Service(Protocol):
    name: str  # the consumer group id too ("order-processor", "analytics", "storage")

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        """Do the work durably; return the events to dead-letter.

        A `RegistryError` (registry unreachable) may be raised only before anything of the
        batch is done: the runner then reads the batch again later.
        """
        ...

    def close(self) -> None: ...
