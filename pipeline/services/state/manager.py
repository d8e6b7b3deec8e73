"""The state of a service instance: its folder, its partitions' tables, their changelog.

`open(group)` claims the instance's state folder and makes sure the changelog topic exists;
`assigned` restores each new partition before the runner hands over its events and
returns the input offset the restored state reflects (the runner resumes there);
`revoked` drops a partition's table (its file already holds every committed change).

A batch: the service changes tables; `stage(out, positions)` sends each change to the
changelog through the batch's output, then (after `out.barrier()`: under at-least-once,
once the outputs are acknowledged) the input position each partition has reached; once
the output committed, `committed()` writes the local files with the changelog offsets the
records got; `aborted()` forgets the batch's changes instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from confluent_kafka import KafkaError, Message

from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka.admin import Admin
from pipeline.kafka.changelog import (
    ChangelogReader,
    changelog_spec,
    changelog_topic,
    expiry_headers,
)
from pipeline.model import PartitionRef
from pipeline.services.state.folder import StateFolder
from pipeline.services.state.restore import (
    DEFAULT_DELETE_RETENTION_MS,
    ChangelogState,
    OnProgress,
    Progress,
    restore,
)
from pipeline.services.state.store import Change, PartitionStore, encode
from pipeline.services.state.table import Entry

log = logging.getLogger(__name__)
POSITION = "~position"
Headers = list[tuple[str, str | bytes | None]]


class StateError(PipelineError):
    pass


class Output(Protocol):
    """Where a batch's records go: one transaction (exactly-once) or acknowledged sends."""

    def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | str | None,
        *,
        partition: int | None = None,
        headers: Headers | None = None,
        on_delivery: Callable[[KafkaError | None, Message], None] | None = None,
    ) -> None: ...

    def barrier(self) -> None:
        """What was sent before is stored before anything sent after."""
        ...


class StateManager:
    def __init__(
        self, settings: Settings, state_dir: Path, on_progress: OnProgress | None = None
    ) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.on_progress = on_progress
        self.changelog = ""
        self.folder: StateFolder | None = None
        self.restores: dict[int, Progress] = {}
        self._stores: dict[int, PartitionStore] = {}
        self._staged: dict[int, list[Change]] = {}
        self._changelog_next: dict[int, int] = {}

    def open(self, group: str) -> str:
        """Claim this instance's folder, make sure the changelog exists; the instance id."""
        if self.folder is None:
            self.folder = StateFolder.claim(self.state_dir, group, self.settings.topic)
            self.changelog = changelog_topic(group, self.settings.topic)
            admin = Admin.from_settings(self.settings)
            partitions = admin.partitions(self.settings.topic) or self.settings.partitions
            admin.ensure([changelog_spec(self.changelog, partitions)])
            held = admin.partitions(self.changelog) or 0
            if held < partitions:
                raise StateError(
                    f"{self.changelog} has {held} partitions for the {partitions} of "
                    f"{self.settings.topic}; delete it (its state is rebuilt) or add partitions"
                )
        return self.folder.instance_id

    @property
    def partitions(self) -> list[int]:
        return sorted(self._stores)

    def table(self, partition: int) -> PartitionStore:
        try:
            return self._stores[partition]
        except KeyError:
            raise StateError(f"partition {partition} is not assigned here") from None

    def assigned(self, refs: Sequence[PartitionRef]) -> dict[PartitionRef, int]:
        """Restore the partitions' state; the input offset each one reflects."""
        new = {ref.partition: ref for ref in refs if ref.topic == self.settings.topic}
        new = {p: ref for p, ref in new.items() if p not in self._stores}
        if not new:
            return {}
        folder = self._folder()
        stores = {p: PartitionStore.open(folder.partition_file(self.changelog, p)) for p in new}
        reader = ChangelogReader(self.settings, self.changelog)
        state = self._changelog_state(reader, list(new))
        self.restores.update(restore(reader, stores, state, self.on_progress))
        self._stores.update(stores)
        return {ref: offset for p, ref in new.items() if (offset := self._position(p, ref)) >= 0}

    def revoked(self, refs: Sequence[PartitionRef]) -> None:
        for ref in refs:
            if ref.topic != self.settings.topic:
                continue
            store = self._stores.pop(ref.partition, None)
            self._staged.pop(ref.partition, None)  # its restore stays on record (the views)
            if store is not None:
                store.close()  # uncommitted changes (if any) are forgotten with it

    def stage(self, out: Output, positions: Mapping[PartitionRef, int]) -> None:
        """Send the batch's changes, then the positions reached, to the changelog."""
        self._staged, self._changelog_next = {}, {}
        for partition, store in self._stores.items():
            changes = store.changes()
            if changes:
                self._staged[partition] = changes
                for change in changes:
                    self._send(out, partition, change)
        out.barrier()
        for ref, offset in positions.items():
            if ref.partition in self._stores:
                record = {"offset": offset, "topic_id": ref.topic_id}
                change = Change(POSITION, encode(record), None)
                self._staged.setdefault(ref.partition, []).append(change)
                self._send(out, ref.partition, change)

    def committed(self) -> None:
        """The staged records committed: write them to the local files."""
        for partition, changes in self._staged.items():
            store = self._stores.get(partition)
            next_offset = self._changelog_next.get(partition)
            if store is not None and next_offset is not None:
                store.commit(changes, next_offset)
        self._staged = {}

    def savepoint(self) -> dict[int, dict[str, Entry | None]]:
        return {p: store.savepoint() for p, store in self._stores.items()}

    def rollback(self, savepoint: dict[int, dict[str, Entry | None]]) -> None:
        """Back to `savepoint` (a failed `handle` leaves nothing behind)."""
        for partition, store in self._stores.items():
            store.rollback(savepoint.get(partition, {}))

    def aborted(self) -> None:
        """The batch is to be redone: forget its changes."""
        for store in self._stores.values():
            store.discard()
        self._staged = {}

    def close(self) -> None:
        for store in self._stores.values():
            store.close()
        self._stores.clear()
        if self.folder is not None:
            self.folder.release()
            self.folder = None

    def _send(self, out: Output, partition: int, change: Change) -> None:
        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is None:
                after = (message.offset() or 0) + 1
                self._changelog_next[partition] = max(self._changelog_next.get(partition, 0), after)

        out.send(
            self.changelog,
            change.value,
            change.key.encode(),
            partition=partition,
            headers=expiry_headers(change.expires_at),
            on_delivery=delivered,
        )

    def _position(self, partition: int, ref: PartitionRef) -> int:
        entry = self._stores[partition].get(POSITION)
        if entry is None:
            return -1
        stored_id = str(entry.value.get("topic_id") or "")
        if stored_id and ref.topic_id and stored_id != ref.topic_id:
            # The input topic was deleted and made again: this state is the old topic's.
            log.warning("%s[%d]: state of an earlier topic, forgotten", ref.topic, partition)
            self._stores[partition].forget_all()
            return -1
        return int(entry.value["offset"])

    def _changelog_state(self, reader: ChangelogReader, partitions: list[int]) -> ChangelogState:
        config = Admin.from_settings(self.settings).config(self.changelog)
        retention = int(config.get("delete.retention.ms") or DEFAULT_DELETE_RETENTION_MS)
        # A transaction a previous owner left open ends within the transaction timeout.
        ends = reader.settled_ends(partitions, timeout_s=30.0)
        return ChangelogState(reader.topic_id(), reader.low(partitions), ends, retention)

    def _folder(self) -> StateFolder:
        if self.folder is None:
            raise StateError("the state folder is not open: call open(group) first")
        return self.folder
