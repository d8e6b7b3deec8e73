"""Reading the audit store while the storage service writes to it (WAL makes that safe).

`open_read_only` opens the file so that no statement can write: SQLite's read-only mode
(`mode=ro`) plus `PRAGMA query_only`, so even a statement that slips past one is refused
by the other. `run_query` turns SQLite's errors into one-line `StoreError`s.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from pipeline.errors import StoreError
from pipeline.store.pg_connect import is_postgres_url
from pipeline.store.pg_readonly import PostgresReader, open_pg_read_only

_WRITE_REFUSED = ("readonly database", "query_only", "read-only")


def open_read_only(path: Path) -> Database:
    """A read-only connection to an existing store; StoreError if there is none."""
    if not path.is_file():
        raise StoreError(
            f"no audit store at {path}: the storage service creates it "
            "(python cli.py consume storage)"
        )
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=5.0)
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the audit store {path}: {exc}") from exc
    return Database(conn)


def open_reader(target: str | Path) -> Database | PostgresReader:
    """A read-only connection to the store at `target`: a postgresql:// URL or a file."""
    if isinstance(target, str) and is_postgres_url(target):
        return open_pg_read_only(target)
    return open_read_only(Path(target))


def run_query(
    db: Database | PostgresReader, sql: str, params: Sequence[Any] = ()
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of one statement, or a StoreError saying why it failed."""
    if isinstance(db, PostgresReader):
        answer = db.run(sql.replace("?", "%s") if params else sql, params)
        return answer.names, answer.rows
    try:
        cursor = db.conn.execute(sql, tuple(params))
        names = [column[0] for column in cursor.description or ()]
        return names, cursor.fetchall()
    except sqlite3.Error as exc:
        message = str(exc)
        if any(marker in message for marker in _WRITE_REFUSED):
            raise StoreError(
                "the audit store is opened read-only: this statement would write to it"
            ) from exc
        raise StoreError(f"SQL error: {message}") from exc
    except (ValueError, OverflowError) as exc:  # e.g. more than one statement in `sql`
        raise StoreError(f"SQL error: {exc}") from exc
