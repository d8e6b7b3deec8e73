"""Opening the SQLite audit store: connection settings, the layout's version, upgrades.

The file's `PRAGMA user_version` is the version of its layout. A new file gets the current
layout; a file written by an earlier release is upgraded when it is opened, in one
transaction (a failed upgrade leaves the file as it was); a file of a later release, a file
that is not SQLite, or a SQLite file holding something else is refused with one line.

    1  the first release (user_version 0): events unique on (topic, partition, offset),
       schema_versions keyed by schema id alone
    2  events known by event_id alone, with the topic's id and the registry's id;
       schema_versions keyed by (registry id, schema id); the `positions` table
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from sqlite_utils import Database

from pipeline.errors import StoreError
from pipeline.store import tables
from pipeline.store.tables import COLUMNS, EVENTS, SCHEMAS

CURRENT = 2
# A second writer (another storage instance) waits this long for the write lock.
BUSY_TIMEOUT_S = 30.0
CACHE_KIB = 16 * 1024
# 16 KiB pages for a new file (an existing one keeps its own): a batch's rows fill fewer
# pages and each B-tree insert walks fewer levels; 1.0 us less CPU an event in SQLite
# (7.6 -> 6.6 us, 200,000 events in batches of 2,000, measured against 4 KiB).
PAGE_BYTES = 16 * 1024
CHECKPOINT_BYTES = 8 * 1024 * 1024


def connect(path: Path, *, create_folder: bool = True) -> Database:
    """Open (creating if needed) the store for writing: WAL, the current layout.

    `create_folder` false: a missing folder is refused (a mistyped `--db`), not created."""
    if not path.parent.is_dir():
        if not create_folder:
            raise StoreError(f"no folder {path.parent} (create it, or name another file)")
        path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise StoreError("it is a folder, not a file")
    db = Database(sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S))
    try:
        # Before anything is changed: a file that is not ours is refused untouched.
        _retry_while_locked(lambda: _check_version(db))
        _retry_while_locked(lambda: _set_up(db))
        _retry_while_locked(lambda: upgrade(db))
        _retry_while_locked(lambda: add_status_columns(db))
    except BaseException:
        db.close()
        raise
    return db


def _set_up(db: Database) -> None:
    # Before WAL, which fixes it: only a file with nothing in it yet takes a page size.
    db.execute(f"PRAGMA page_size={PAGE_BYTES}")
    # WAL lets readers (query commands, Datasette) run while the service writes.
    db.enable_wal()
    # Under WAL, NORMAL fsyncs at checkpoints, not at every commit: a committed batch
    # survives the process being killed; a power cut or OS crash can roll back the last few
    # batches. Nothing is lost by that: each partition's position is stored in the same
    # transaction as its rows, so the rolled-back batches are read again from Kafka (see
    # `positions`). FULL would add an fsync per batch for no gain in what is kept.
    db.execute("PRAGMA synchronous=NORMAL")
    # 16 MiB of page cache: with time-ordered keys the hot index pages are few, and a larger
    # cache (64 MiB) bought no speed in the storage benchmark, only resident memory.
    db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    # Checkpoint every ~8 MB of WAL rather than 4 MB: an index page dirtied by many batches
    # is copied into the database less often. Not more: the checkpoint runs inside a batch's
    # commit, and at 80 MB its 60-100 ms stall set the p99 latency at 5,000 events/s
    # (~75 ms vs ~30 ms at 8 MB, same end-to-end rate; `python cli.py bench`). Counted in
    # pages of the file's own size.
    (page_bytes,) = db.execute("PRAGMA page_size").fetchone()
    db.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_BYTES // int(page_bytes)}")


def version_of(db: Database) -> int:
    """The layout's version; 0 for an empty file, 1 for the first release's tables."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version:
        return int(version)
    names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not names:
        return 0
    if {EVENTS, COLUMNS} <= names:
        return 1
    raise StoreError(
        "it is a SQLite database but not an audit store "
        f"(it holds {', '.join(sorted(names)[:5])}); name another file"
    )


def upgrade(db: Database) -> None:
    """Bring the file to the current layout, in one IMMEDIATE transaction (so two services
    opening it at once do it once: the second finds it done)."""
    if _read_version(db) == CURRENT:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        version = _read_version(db)
        if version == 0:
            tables.create_tables(db)
        elif version == 1:
            _from_1_to_2(db)
        db.execute(f"PRAGMA user_version = {CURRENT}")
        db.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise


def add_status_columns(db: Database) -> None:
    """A status the lifecycle gained since the store was made (CANCELLED) gets its column."""
    have = {row[1] for row in db.execute(f"PRAGMA table_info({tables.ORDERS})").fetchall()}
    missing = [column for column in tables.STATUS_AT.values() if column not in have]
    if not missing:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        have = {row[1] for row in db.execute(f"PRAGMA table_info({tables.ORDERS})").fetchall()}
        for column in missing:
            if column not in have:
                db.execute(f"ALTER TABLE {tables.ORDERS} ADD COLUMN {column} TEXT")
        db.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise


def _check_version(db: Database) -> None:
    _read_version(db)


def _read_version(db: Database) -> int:
    version = version_of(db)
    if version > CURRENT:
        raise StoreError(
            f"its layout version is {version}, written by a later release; this one knows "
            f"up to {CURRENT}: upgrade the pipeline"
        )
    return version


def _from_1_to_2(db: Database) -> None:
    # The unique index on (topic, partition, offset) swallowed new events at offsets an
    # earlier topic of the same name had used (after a reset): gone, event_id is the key.
    unique = f"SELECT name FROM pragma_index_list('{EVENTS}') WHERE \"unique\""
    for (name,) in db.execute(unique).fetchall():
        info = db.execute(f"SELECT name FROM pragma_index_info('{name}')").fetchall()
        indexed = [row[0] for row in info]
        if indexed == ["kafka_topic", "kafka_partition", "kafka_offset"]:
            db.execute(f'DROP INDEX "{name}"')
    # Rows of the first release keep '' for what it did not record.
    db.execute(f"ALTER TABLE {EVENTS} ADD COLUMN kafka_topic_id TEXT NOT NULL DEFAULT ''")
    db.execute(f"ALTER TABLE {EVENTS} ADD COLUMN schema_registry_id TEXT NOT NULL DEFAULT ''")
    db.execute(f"ALTER TABLE {COLUMNS} ADD COLUMN schema_registry_id TEXT")
    db.execute(f"UPDATE {COLUMNS} SET schema_registry_id = '' WHERE schema_id IS NOT NULL")
    # SQLite cannot change a primary key in place: a new table, the rows copied over.
    db.execute(f"ALTER TABLE {SCHEMAS} RENAME TO {SCHEMAS}_release1")
    db.execute(tables.SCHEMAS_SQL)
    db.execute(
        f"INSERT INTO {SCHEMAS} SELECT '', schema_id, subject, version, accepted, reason, "
        f"definition, first_seen_at FROM {SCHEMAS}_release1"
    )
    db.execute(f"DROP TABLE {SCHEMAS}_release1")
    db.execute(tables.POSITIONS_SQL)


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
