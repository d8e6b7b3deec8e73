"""The storage service: every event into the audit store (SQLite, or PostgreSQL with
`store_url`), one transaction per batch.

Exactly-once in effect: the store keeps, in the transaction of each batch's rows, how far
each partition is done (`store.positions`), and hands those positions back when partitions
are assigned, so the runner reads on from there, whatever Kafka's committed offset says (a
power cut may roll back the store's last batches after Kafka committed them; a kill may fall
between the store's commit and Kafka's). The runner still commits offsets to Kafka after each
batch, so the group's lag shows in Kafka's tools. An event the store holds already (same
event_id: a replay, a resent event) is skipped and counted. Events of a writer schema the
store cannot take come back as refusals, which the runner sends to the dead-letter topic.

The store opens when the service starts, before the runner joins the group: a `--db` that is
not an audit store, or whose folder does not exist, stops it there with one line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from confluent_kafka import OFFSET_BEGINNING

from pipeline.config import DEFAULT_DB_PATH, Settings
from pipeline.kafka.admin import Admin
from pipeline.model import Event, PartitionRef, Refusal
from pipeline.store import Store, open_store, pg_connect
from pipeline.store.positions import PositionBook

log = logging.getLogger(__name__)


class StorageService:
    name = "storage"
    # uuids as text, times as epoch milliseconds: what the store keeps (base.py)
    plain_values = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stored = 0
        self.duplicates = 0
        self.refused = 0
        # SQLite at settings.db_path, or PostgreSQL at settings.store_url (shown without
        # its user or password)
        url = settings.store_url
        self.where = pg_connect.where(url) if url else str(settings.db_path)
        self._store: Store | None = None  # opened by start()
        self._book = PositionBook()

    def start(self) -> None:
        """Open the store (the runner calls this before it joins the group)."""
        if self._store is not None:
            return
        settings = self.settings
        self._store = open_store(
            settings.store_url or settings.db_path,
            registry_id=registry_identity(settings),
            create_folder=settings.db_path == DEFAULT_DB_PATH,
        )

    def assigned(self, partitions: Sequence[PartitionRef]) -> Mapping[PartitionRef, int]:
        """Where the store says each partition goes on (its position wins over Kafka's).

        A partition the store holds no position for is read from its beginning: the store
        has nothing of it (a power cut may have taken its first batches, whose offsets Kafka
        committed), and the events it already holds are skipped by their event_id."""
        self.start()
        assert self._store is not None
        stored = self._store.positions(partitions)
        self._book.start(stored)
        return {ref: stored.get(ref, OFFSET_BEGINNING) for ref in partitions if ref.topic_id}

    def committed(self, offsets: Mapping[PartitionRef, int]) -> None:
        """The runner committed these offsets, after the dead letters before them: the next
        batch's transaction carries the positions past what the store never saw."""
        self._book.committed(offsets)

    def revoked(self, partitions: Sequence[PartitionRef]) -> None:
        # Positions are stored with each batch already; what only the runner's commit
        # settled (undecodable last messages) is stored now, since no batch will carry it.
        # What is not settled (a refused event whose dead letter the next owner may have to
        # write) is read again by the next owner.
        self._save_advances(partitions)
        self._book.forget(partitions)

    def _save_advances(self, partitions: Sequence[PartitionRef] | None = None) -> None:
        moved = self._book.advances(partitions)
        if moved and self._store is not None:
            self._store.save_positions(moved)
            self._book.saved(moved)

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        if not batch:
            return ()
        self.start()
        assert self._store is not None
        # A StoreError (disk full, file locked too long) propagates: the runner stops without
        # committing, and the batch is redelivered to whoever runs next.
        result = self._store.write(batch, self._book)
        self.stored += result.stored
        self.duplicates += result.duplicates
        self.refused += len(result.refusals)
        return result.refusals

    def summary_line(self) -> str:
        return (
            f"{self.stored} stored, {self.duplicates} already stored (skipped), "
            f"{self.refused} refused, in {self.where}"
        )

    def close(self) -> None:
        if self._store is not None:
            try:
                self._save_advances()
            finally:
                self._close_store()

    def _close_store(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            finally:
                self._store = None


def registry_identity(settings: Settings) -> str:
    """What tells this registry's schema ids from another's: the id of the Kafka topic it
    keeps its state in (a reset stack, or the Docker stack beside the local one, has a new
    one). A registry whose topic is not on this cluster is known by its URL instead."""
    topic, admin = settings.registry_topic, Admin.from_settings(settings)
    if topic not in admin.names():  # an unreachable cluster raises TopicError here
        log.warning(
            "no topic %s on %s: the registry's schema ids are told apart by its URL",
            topic,
            admin.bootstrap,
        )
        return settings.registry_url.rstrip("/")
    return admin.topic_ids([topic])[topic]
