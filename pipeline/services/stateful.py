"""What the stateful services share, and the contract the consume loop drives them by.

A `Stateful` service keeps its state per input partition (`state.StateManager`) and writes
through the batch's output (`guarantees.BatchOutput`). The loop calls, per instance:
`open(group)` (claims the state folder; the instance id names its transactional producer),
`bind(output)`; per assignment `assigned`/`revoked` (restore, drop); per batch `handle`,
then `before_commit(positions)` (the changelog records and the input positions reached),
then `committed()` or, if the batch's output could not be committed, `aborted()` (the
batch is read again).

`StatefulService` implements the contract; a service supplies `process(batch)`, which
reads and writes tables and `emit()`s records. `handle` leaves nothing behind when
`process` raises: the tables go back to their savepoint, emitted records are dropped, and
the service's caches over the tables are forgotten (`forget_caches`). Emitted records are
sent only once `process` succeeded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

from pipeline.config import Settings
from pipeline.model import Event, PartitionRef, Refusal
from pipeline.services.base import PartitionAware
from pipeline.services.state.manager import Output, StateError, StateManager
from pipeline.services.state.restore import Progress
from pipeline.services.state.store import PartitionStore


@runtime_checkable
class Stateful(PartitionAware, Protocol):
    name: str

    def open(self, group_id: str) -> str: ...

    def bind(self, output: Output) -> None: ...

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]: ...

    def before_commit(self, positions: Mapping[PartitionRef, int]) -> None: ...

    def committed(self) -> None: ...

    def aborted(self) -> None: ...

    def close(self) -> None: ...


class Emitted(NamedTuple):
    topic: str
    value: bytes
    key: str


class StatefulService:
    name = "stateful"

    def __init__(self, settings: Settings, state_dir: Path | None = None) -> None:
        self.settings = settings
        self.state = StateManager(settings, state_dir or settings.state_dir)
        self.counts: Counter[str] = Counter()  # committed batches only
        self._batch_counts: Counter[str] = Counter()
        self._output: Output | None = None
        self._emitted: list[Emitted] = []

    # The contract.

    def open(self, group_id: str) -> str:
        return self.state.open(group_id)

    def bind(self, output: Output) -> None:
        self._output = output

    def assigned(self, partitions: Sequence[PartitionRef]) -> Mapping[PartitionRef, int]:
        return self.state.assigned(partitions)

    def revoked(self, partitions: Sequence[PartitionRef]) -> None:
        self.state.revoked(partitions)
        self.forget_caches()

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        output = self._bound()
        savepoint = self.state.savepoint()
        counts = Counter(self._batch_counts)
        self._emitted = []
        try:
            refusals = self.process(batch)
            self.write_caches()
        except BaseException:
            self.state.rollback(savepoint)
            self._batch_counts = counts
            self._emitted = []
            self.forget_caches()
            raise
        for record in self._emitted:
            output.send(record.topic, record.value, record.key)
        self._emitted = []
        return refusals

    def before_commit(self, positions: Mapping[PartitionRef, int]) -> None:
        self.before_staging()
        self.write_caches()
        self.state.stage(self._bound(), positions)

    def committed(self) -> None:
        self.state.committed()
        self.counts.update(self._batch_counts)
        self._batch_counts = Counter()

    def aborted(self) -> None:
        self.state.aborted()
        self._batch_counts = Counter()
        self.forget_caches()

    def close(self) -> None:
        self.state.close()

    # For the service.

    def process(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        raise NotImplementedError

    def table(self, partition: int) -> PartitionStore:
        return self.state.table(partition)

    def emit(self, topic: str, value: bytes, key: str) -> None:
        self._emitted.append(Emitted(topic, value, key))

    def count(self, name: str, n: int = 1) -> None:
        if n:
            self._batch_counts[name] += n

    def write_caches(self) -> None:
        """Put what the service keeps in memory over its tables into them."""

    def forget_caches(self) -> None:
        """Drop what the service keeps in memory over its tables (rebuilt from them)."""

    def before_staging(self) -> None:
        """Last changes before the batch is staged (purging expired entries, say)."""

    # For the views.

    @property
    def partitions(self) -> list[int]:
        return self.state.partitions

    @property
    def restores(self) -> dict[int, Progress]:
        return dict(self.state.restores)

    def _bound(self) -> Output:
        if self._output is None:
            raise StateError(f"{self.name}: no output bound (the consume loop binds it)")
        return self._output
