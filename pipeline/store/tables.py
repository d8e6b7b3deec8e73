"""The audit store's tables, its connection settings, and the metadata the evolution reads.

    events           one row per event: its fields as columns (grown as schemas evolve),
                     its Kafka topic/partition/offset, schema id and version, time stored
    orders           current status per order and the (event) time of each status
    schema_versions  every writer schema seen: accepted or refused, and why
    event_columns    each schema-field column of `events`: its storage kind, which schema
                     added it and when (the table's "reader schema")

Times are ISO-8601 UTC text (see `kinds`), so the file reads well in sqlite3 or Datasette.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.db import Table

from pipeline.events import LIFECYCLE
from pipeline.store.admission import KEY, Column
from pipeline.store.kinds import SQL_TYPE, Kind

EVENTS, ORDERS, SCHEMAS, COLUMNS = "events", "orders", "schema_versions", "event_columns"
STATUS_AT: dict[str, str] = {status.value: f"{status.value.lower()}_at" for status in LIFECYCLE}
# A second writer (another storage instance) waits this long for the write lock.
BUSY_TIMEOUT_S = 30.0
CACHE_KIB = 16 * 1024
CHECKPOINT_PAGES = 2_000


def connect(path: Path) -> Database:
    """Open (creating if needed) the store for writing: WAL, and its tables."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S))
    _retry_while_locked(lambda: _set_up(db))
    return db


def _set_up(db: Database) -> None:
    # WAL lets readers (query commands, Datasette) run while the service writes.
    db.enable_wal()
    # Durable enough: under WAL, NORMAL fsyncs at checkpoints, not at every commit. A committed
    # batch survives the process crashing or being killed; only a power cut or OS crash can
    # roll back the last few batches (whose offsets may already be committed). FULL would
    # add an fsync to every batch for that case, which a laptop audit store does not need.
    db.execute("PRAGMA synchronous=NORMAL")
    # 16 MiB of page cache: with time-ordered keys the hot index pages are few, and a larger
    # cache (64 MiB) bought no speed in the storage benchmark, only resident memory.
    db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    # Checkpoint every ~8 MB of WAL rather than 4 MB: an index page dirtied by many batches
    # is copied into the database less often. Not more: the checkpoint runs inside a batch's
    # commit, and at 80 MB its 60-100 ms stall set the p99 latency at 5,000 events/s
    # (~75 ms vs ~30 ms at 8 MB, same end-to-end rate; `python cli.py bench`).
    db.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
    create_tables(db)


def _retry_while_locked(action: Callable[[], None]) -> None:
    """Run `action`, again while another instance holds the lock (bounded by the timeout).

    Two services opening a new store at once race to switch it to WAL and create its
    tables; SQLite answers the loser "database is locked" at once rather than waiting (a
    journal-mode switch or a read-to-write upgrade could deadlock). The next try finds the
    work done.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def create_tables(db: Database) -> None:
    meta = {"kafka_topic": str, "kafka_partition": int, "kafka_offset": int}
    events = _table(db, EVENTS)
    events.create(
        {KEY: str, **meta, "schema_id": int, "schema_version": int, "stored_at": str},
        pk=KEY,
        not_null=[*meta, "schema_id", "stored_at"],
        if_not_exists=True,
    )
    events.create_index(list(meta), unique=True, if_not_exists=True)
    status_at: dict[str, Any] = dict.fromkeys(STATUS_AT.values(), str)
    _table(db, ORDERS).create(
        {"order_id": str, "user_id": str, "status": str, **status_at, "updated_at": str},
        pk="order_id",
        if_not_exists=True,
    )
    _table(db, SCHEMAS).create(
        {
            "schema_id": int,
            "subject": str,
            "version": int,
            "accepted": int,
            "reason": str,
            "definition": str,
            "first_seen_at": str,
        },
        pk="schema_id",
        if_not_exists=True,
    )
    _table(db, COLUMNS).create(
        {"name": str, "kind": str, "sql_type": str, "schema_id": int, "added_at": str},
        pk="name",
        if_not_exists=True,
    )
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


def recorded(db: Database, schema_id: int) -> tuple[bool, str] | None:
    """(accepted, reason) recorded for a schema id, by this or another instance."""
    row = db.execute(
        f"SELECT accepted, reason FROM {SCHEMAS} WHERE schema_id = ?", [schema_id]
    ).fetchone()
    return None if row is None else (bool(row[0]), str(row[1]))


def record_schema(db: Database, values: Mapping[str, Any]) -> None:
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    db.execute(f"INSERT OR IGNORE INTO {SCHEMAS} ({names}) VALUES ({marks})", list(values.values()))


def add_columns(db: Database, new: Iterable[Column], schema_id: int, now: str) -> None:
    """ALTER TABLE for each new column, recorded in `event_columns` (same transaction).

    `order_id` gets an index, for an order's timeline (`query order`): with time-ordered
    (UUIDv7) ids it costs about 6 % of the write rate (storage benchmark), where random
    ids made it a third."""
    events = _table(db, EVENTS)
    for column in new:
        events.add_column(column.name, SQL_TYPE[column.kind])
        db.execute(
            f"INSERT INTO {COLUMNS} (name, kind, sql_type, schema_id, added_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [column.name, column.kind.value, SQL_TYPE[column.kind], schema_id, now],
        )
        if column.name.lower() == "order_id":
            events.create_index([column.name], if_not_exists=True)


def _table(db: Database, name: str) -> Table:
    table = db.table(name)
    assert isinstance(table, Table)
    return table
