"""The SQLite audit store's tables, its connection settings, and the metadata the evolution reads.

    events           one row per event, keyed by its event_id: its fields as columns (grown
                     as schemas evolve), its Kafka topic (name and id), partition and offset,
                     its schema registry's id, schema id and version, time stored
    orders           current status per order and the (event) time of each status
    schema_versions  every writer schema seen, per registry: accepted or refused, and why
    event_columns    each schema-field column of `events`: its storage kind, which schema
                     added it and when (the table's "reader schema")
    positions        per topic id and partition, the next offset to read: written in the
                     transaction of the rows it covers (see `pipeline.store.positions`)

Times are ISO-8601 UTC text (see `kinds`), so the file reads well in sqlite3 or Datasette.
The layout's version is the file's `PRAGMA user_version` (see `versions`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlite_utils import Database
from sqlite_utils.db import Table

from pipeline.events import STATUSES
from pipeline.model import PartitionRef
from pipeline.store.admission import KEY, Column
from pipeline.store.kinds import SQL_TYPE, Kind

EVENTS, ORDERS, SCHEMAS, COLUMNS = "events", "orders", "schema_versions", "event_columns"
POSITIONS = "positions"
# Every status an order can reach, in rank order: the lifecycle, then CANCELLED (terminal, so
# it outranks them all: a cancelled order stays cancelled whatever comes late).
STATUS_AT: dict[str, str] = {status.value: f"{status.value.lower()}_at" for status in STATUSES}

SCHEMAS_SQL = f"""CREATE TABLE IF NOT EXISTS {SCHEMAS} (
    schema_registry_id TEXT NOT NULL,
    schema_id INTEGER NOT NULL,
    subject TEXT,
    version INTEGER,
    accepted INTEGER,
    reason TEXT,
    definition TEXT,
    first_seen_at TEXT,
    PRIMARY KEY (schema_registry_id, schema_id)
)"""
POSITIONS_SQL = f"""CREATE TABLE IF NOT EXISTS {POSITIONS} (
    kafka_topic_id TEXT NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_topic TEXT NOT NULL,
    next_offset INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kafka_topic_id, kafka_partition)
)"""
# A position never moves back: a batch read again (after a seek) must not undo a later one.
SAVE_POSITION_SQL = (
    f"INSERT INTO {POSITIONS} (kafka_topic_id, kafka_partition, kafka_topic, next_offset, "
    "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (kafka_topic_id, kafka_partition) "
    "DO UPDATE SET next_offset = max(next_offset, excluded.next_offset), "
    "kafka_topic = excluded.kafka_topic, updated_at = excluded.updated_at"
)


def create_tables(db: Database) -> None:
    """The tables of the current layout, in an empty file."""
    meta: dict[str, Any] = {
        "kafka_topic": str,
        "kafka_topic_id": str,
        "kafka_partition": int,
        "kafka_offset": int,
        "schema_registry_id": str,
    }
    # No unique index on the Kafka coordinates: an event is known by its event_id alone.
    _table(db, EVENTS).create(
        {KEY: str, **meta, "schema_id": int, "schema_version": int, "stored_at": str},
        pk=KEY,
        not_null=[*meta, "schema_id", "stored_at"],
        defaults={"kafka_topic_id": "", "schema_registry_id": ""},
    )
    status_at: dict[str, Any] = dict.fromkeys(STATUS_AT.values(), str)
    _table(db, ORDERS).create(
        {"order_id": str, "user_id": str, "status": str, **status_at, "updated_at": str},
        pk="order_id",
    )
    db.execute(SCHEMAS_SQL)
    _table(db, COLUMNS).create(
        {
            "name": str,
            "kind": str,
            "sql_type": str,
            "schema_registry_id": str,
            "schema_id": int,
            "added_at": str,
        },
        pk="name",
    )
    db.execute(POSITIONS_SQL)
    # The key column exists before any schema: it is how replays are recognised.
    db.execute(
        f"INSERT OR IGNORE INTO {COLUMNS} (name, kind, sql_type) VALUES (?, ?, ?)",
        [KEY, Kind.TEXT.value, SQL_TYPE[Kind.TEXT]],
    )


def columns(db: Database) -> dict[str, Column]:
    """The schema-field columns of `events`, keyed by lower-cased name (SQLite's own rule)."""
    rows = db.execute(f"SELECT name, kind FROM {COLUMNS}").fetchall()
    return {name.lower(): Column(name, Kind(kind)) for name, kind in rows}


def any_accepted(db: Database) -> bool:
    return db.execute(f"SELECT 1 FROM {SCHEMAS} WHERE accepted LIMIT 1").fetchone() is not None


def recorded(db: Database, registry_id: str, schema_id: int) -> tuple[bool, str] | None:
    """(accepted, reason) recorded for a registry's schema id, by this or another instance."""
    row = db.execute(
        f"SELECT accepted, reason FROM {SCHEMAS} WHERE schema_registry_id = ? AND schema_id = ?",
        [registry_id, schema_id],
    ).fetchone()
    return None if row is None else (bool(row[0]), str(row[1]))


def record_schema(db: Database, values: Mapping[str, Any]) -> None:
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    db.execute(f"INSERT OR IGNORE INTO {SCHEMAS} ({names}) VALUES ({marks})", list(values.values()))


def add_columns(db: Database, new: Iterable[Column], added_by: tuple[str, int], now: str) -> None:
    """ALTER TABLE for each new column, recorded in `event_columns` (same transaction);
    `added_by` is the (registry id, schema id) of the schema that brought it.

    `order_id` gets an index, for an order's timeline (`query order`): with time-ordered
    (UUIDv7) ids it costs about 6 % of the write rate (storage benchmark), where random
    ids made it a third."""
    events = _table(db, EVENTS)
    for column in new:
        events.add_column(column.name, SQL_TYPE[column.kind])
        db.execute(
            f"INSERT INTO {COLUMNS} (name, kind, sql_type, schema_registry_id, schema_id, "
            "added_at) VALUES (?, ?, ?, ?, ?, ?)",
            [column.name, column.kind.value, SQL_TYPE[column.kind], *added_by, now],
        )
        if column.name.lower() == "order_id":
            events.create_index([column.name], if_not_exists=True)


def positions(db: Database, partitions: Sequence[PartitionRef]) -> dict[PartitionRef, int]:
    """The stored next offset of each of `partitions` the store has one for."""
    wanted = {(ref.topic_id, ref.partition): ref for ref in partitions if ref.topic_id}
    found: dict[PartitionRef, int] = {}
    for topic_id in {topic_id for topic_id, _ in wanted}:
        rows = db.execute(
            f"SELECT kafka_partition, next_offset FROM {POSITIONS} WHERE kafka_topic_id = ?",
            [topic_id],
        ).fetchall()
        for partition, next_offset in rows:
            ref = wanted.get((topic_id, partition))
            if ref is not None:
                found[ref] = int(next_offset)
    return found


def save_positions(conn: sqlite3.Connection, moved: Mapping[PartitionRef, int], now: str) -> None:
    conn.executemany(
        SAVE_POSITION_SQL,
        [(ref.topic_id, ref.partition, ref.topic, offset, now) for ref, offset in moved.items()],
    )


def _table(db: Database, name: str) -> Table:
    table = db.table(name)
    assert isinstance(table, Table)
    return table
