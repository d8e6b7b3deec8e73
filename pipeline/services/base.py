"""The contract between the shared consume loop (`runner.py`) and the services.

The runner polls a batch, decodes each message into an `Event` with its own writer schema,
and calls `service.handle(batch)`. The service does its work durably and returns the events
it refuses; the runner copies those to the dead-letter topic and only then commits the
batch's offsets (at-least-once). The runner calls `service.close()` when it stops, so a
service may open its resources lazily on the first batch (no I/O in constructors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pipeline.model import Event, Refusal


class Service(Protocol):
    name: str  # the consumer group id too ("order-processor", "analytics", "storage")

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        """Do the work durably; return the events to dead-letter.

        `RegistryUnavailable` (registry unreachable) may be raised only before anything of
        the batch is done: the runner then reads the batch again later.
        """
        ...

    def close(self) -> None: ...
