"""What every audit store is: the interface the storage service writes through, and what
the SQLite and PostgreSQL stores share beyond the evolution rules (`admission`).

`open_store` picks the store from its target: a `postgresql://` URL, or a SQLite file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pipeline.model import Event, PartitionRef, Refusal, WriterSchema
from pipeline.store.positions import PositionBook

NO_KEY = "the event has no event_id: the store keys every event by it"


@dataclass(frozen=True, slots=True)
class WriteResult:
    stored: int  # new rows in `events`
    duplicates: int  # events already stored (replays, re-deliveries)
    refusals: tuple[Refusal, ...]


class Store(Protocol):
    """An audit store open for writing."""

    where: str  # for people: a file's path, or a server's host:port/database

    def write(self, events: Sequence[Event], book: PositionBook | None = None) -> WriteResult:
        """Store a batch in one transaction, with the positions `book` plans for it."""
        ...

    def positions(self, partitions: Sequence[PartitionRef]) -> dict[PartitionRef, int]:
        """The stored next offset of each of `partitions` the store has a position for."""
        ...

    def save_positions(self, moved: Mapping[PartitionRef, int]) -> None:
        """Store positions on their own (a position never moves back)."""
        ...

    def close(self) -> None: ...


def open_store(target: str | Path, *, registry_id: str = "", create_folder: bool = True) -> Store:
    """The PostgreSQL store for a postgresql:// URL, else the SQLite store at that path."""
    from pipeline.store.pg_connect import is_postgres_url

    if isinstance(target, str) and is_postgres_url(target):
        from pipeline.store.pg_store import PostgresStore

        return PostgresStore.open(target, registry_id=registry_id)
    from pipeline.store.audit import AuditStore

    return AuditStore.open(Path(target), registry_id=registry_id, create_folder=create_folder)


def refusal_text(schema: WriterSchema, reason: str) -> str:
    named = f" ({schema.subject} v{schema.version})" if schema.subject else ""
    return f"the audit store refuses schema id {schema.schema_id}{named}: {reason}"


def schema_row(schema: WriterSchema, accepted: bool, reason: str, now: Any) -> dict[str, Any]:
    """A `schema_versions` row (without the registry's id)."""
    return {
        "schema_id": schema.schema_id,
        "subject": schema.subject,
        "version": schema.version,
        "accepted": accepted,
        "reason": reason,
        "definition": json.dumps(schema.definition),
        "first_seen_at": now,
    }
