"""The storage service: every event into the SQLite audit store, one transaction per batch.

The runner commits a batch's offsets only after `handle()` returns, that is after the
store's transaction committed, and the store ignores an event it already holds, so a batch
redone after a crash or a rebalance adds nothing twice. Events of a writer schema the store
cannot take come back as refusals, which the runner sends to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.config import Settings
from pipeline.model import Event, Refusal
from pipeline.store import AuditStore


class StorageService:
    name = "storage"

    def __init__(self, settings: Settings) -> None:
        self.db_path = settings.db_path
        self.stored = 0
        self.duplicates = 0
        self.refused = 0
        self._store: AuditStore | None = None  # opened on the first batch

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        if not batch:
            return ()
        if self._store is None:
            self._store = AuditStore.open(self.db_path)
        # A StoreError (disk full, file locked too long) propagates: the runner stops without
        # committing, and the batch is redelivered to whoever runs next.
        result = self._store.write(batch)
        self.stored += result.stored
        self.duplicates += result.duplicates
        self.refused += len(result.refusals)
        return result.refusals

    def summary_line(self) -> str:
        return (
            f"{self.stored} stored, {self.duplicates} already stored (skipped), "
            f"{self.refused} refused, in {self.db_path}"
        )

    def close(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            finally:
                self._store = None
