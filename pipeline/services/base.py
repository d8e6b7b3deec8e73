"""The contract between the shared consume loop (`runner.py`) and the services.

The runner polls a batch, decodes each message into an `Event` with its own writer schema,
and calls `service.handle(batch)`. The service does its work durably and returns the events
it refuses; the runner copies those to the dead-letter topic and only then commits the
batch's offsets (at-least-once). The runner calls `service.close()` when it stops, so a
service may open its resources lazily on the first batch (no I/O in constructors).

A service whose class says `plain_values = True` gets its events' uuids as text and their
timestamp-millis as epoch milliseconds (not `uuid.UUID` and `datetime`), checked as a full
read checks them (`pipeline.avro_plain`): the storage service keeps them so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from pipeline.model import Event, PartitionRef, Refusal


class Service(Protocol):
    name: str  # the consumer group id too ("order-processor", "analytics", "storage")

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        """Do the work durably; return the events to dead-letter.

        `RegistryUnavailable` (registry unreachable) may be raised only before anything of
        the batch is done: the runner then reads the batch again later.

        A batch that raises must leave nothing behind (all or nothing): for an exception
        that is not systemic (see `isolation.py`) the runner hands the batch over again
        one event at a time and dead-letters the events that fail alone (`handler-error`);
        a systemic one (`PipelineError`, Kafka's, the OS's) stops the service, uncommitted.
        """
        ...

    def close(self) -> None: ...


@runtime_checkable
class PartitionAware(Protocol):
    """A service that keeps something per input partition (stored positions, state).

    The runner calls `assigned` when partitions are assigned, before it hands over any of
    their events, and `revoked` when they are taken away (or lost), after the last batch
    holding their events was handled. `assigned` returns, for the partitions it knows, the
    offset to read next (the exactly-once sink pattern: the position stored with the
    service's own data wins over Kafka's committed offset).
    """

    def assigned(self, partitions: Sequence[PartitionRef]) -> Mapping[PartitionRef, int]: ...

    def revoked(self, partitions: Sequence[PartitionRef]) -> None: ...


@runtime_checkable
class CommitAware(Protocol):
    """A service told of each offset commit the runner makes to Kafka.

    The runner commits only once everything before the offsets is done: handled, and the
    dead letters written, including those of messages the service never saw (they could
    not be decoded). A service keeping its own positions uses this to move them past such
    messages.
    """

    def committed(self, offsets: Mapping[PartitionRef, int]) -> None: ...
