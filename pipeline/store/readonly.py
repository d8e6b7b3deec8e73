"""Reading the audit store while the storage service writes to it (WAL makes that safe).

`open_read_only` opens the file so that no statement can write: SQLite's read-only mode
(`mode=ro`), `PRAGMA query_only`, and an authorizer that refuses, before anything runs,
what those two let through: ATTACH (it creates the file it names, and `VACUUM INTO` attaches
its target), pragmas that change settings, extension loading. `run_query` bounds a
statement in rows and time (a recursive CTE can run and grow forever) and turns SQLite's
errors into one-line `StoreError`s.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from pipeline.errors import StoreError
from pipeline.store.pg_connect import is_postgres_url
from pipeline.store.pg_readonly import PostgresReader, open_pg_read_only

_WRITE_REFUSED = ("readonly database", "query_only", "read-only")
TIMEOUT_S = 10.0
# Reading pragmas whose argument names what to describe, rather than a new setting.
_DESCRIBING = {
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "quick_check",
    "integrity_check",
}
# Pragmas that only read (with an argument, they name a table or an index to describe).
_READING_PRAGMAS = _DESCRIBING | {
    "collation_list",
    "function_list",
    "pragma_list",
    "compile_options",
    "database_list",
    "page_count",
    "page_size",
    "freelist_count",
    "journal_mode",
    "user_version",
    "schema_version",
    "encoding",
}
_WRITES = {
    getattr(sqlite3, name)
    for name in dir(sqlite3)
    if name.startswith(("SQLITE_CREATE_", "SQLITE_DROP_", "SQLITE_ALTER"))
} | {sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE}


@dataclass
class _Guard:
    """SQLite's authorizer: says no, and remembers why, so the error can say it."""

    refusal: str | None = None
    deadline: float = field(default=float("inf"))

    def authorize(self, action: int, arg1: Any, arg2: Any, _db: Any, _trigger: Any) -> int:
        reason = _refusal(action, arg1, arg2)
        if reason is None:
            return sqlite3.SQLITE_OK
        self.refusal = reason
        return sqlite3.SQLITE_DENY

    def over_time(self) -> int:
        return 1 if time.monotonic() > self.deadline else 0


_WOULD_WRITE = "the audit store is opened read-only: this statement would write to it"


def _refusal(action: int, arg1: Any, arg2: Any) -> str | None:
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        if not arg1:  # plain VACUUM attaches a temporary database to rebuild this one
            return _WOULD_WRITE
        return "ATTACH, DETACH and VACUUM INTO are refused: they create or open other files"
    if action == sqlite3.SQLITE_PRAGMA:
        name = str(arg1).lower()
        if name in _READING_PRAGMAS and (arg2 is None or name in _DESCRIBING):
            return None
        setting = f"={arg2}" if arg2 is not None else ""
        return (
            f"{_WOULD_WRITE} (PRAGMA {arg1}{setting}: only pragmas that read are allowed, "
            "such as table_info, index_list, journal_mode)"
        )
    if action == sqlite3.SQLITE_FUNCTION and str(arg2).lower() == "load_extension":
        return "load_extension is refused"
    if action in _WRITES:
        return _WOULD_WRITE
    return None


class ReadOnlyDatabase(Database):
    """A `Database` whose connection carries the guard (authorizer and time limit)."""

    guard: _Guard


@dataclass(frozen=True)
class QueryResult:
    names: list[str]
    rows: list[tuple[Any, ...]]
    more: bool  # rows were left out: the statement had more than the limit


def open_read_only(path: Path) -> ReadOnlyDatabase:
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
        db = ReadOnlyDatabase(conn)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the audit store {path}: {exc}") from exc
    db.guard = _Guard()
    conn.set_authorizer(db.guard.authorize)
    # Called every 10,000 virtual machine steps: cheap, and stops a runaway statement.
    conn.set_progress_handler(db.guard.over_time, 10_000)
    return db


def open_reader(target: str | Path) -> Database | PostgresReader:
    """A read-only connection to the store at `target`: a postgresql:// URL or a file."""
    if isinstance(target, str) and is_postgres_url(target):
        return open_pg_read_only(target)
    return open_read_only(Path(target))


def run_query(
    db: Database | PostgresReader, sql: str, params: Sequence[Any] = ()
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of one statement, or a StoreError saying why it failed."""
    result = run_limited(db, sql, params, limit=None)
    return result.names, result.rows


def run_limited(
    db: Database | PostgresReader,
    sql: str,
    params: Sequence[Any] = (),
    *,
    limit: int | None,
    timeout_s: float = TIMEOUT_S,
) -> QueryResult:
    """At most `limit` rows of one statement, within `timeout_s`; StoreError otherwise."""
    if not sql.strip():
        raise StoreError('no SQL statement given: pass one, e.g. "SELECT count(*) FROM events"')
    if isinstance(db, PostgresReader):
        query = sql.replace("?", "%s") if params else sql  # the reports' placeholders
        answer = db.run(query, params, limit=limit, timeout_s=timeout_s)
        return QueryResult(answer.names, answer.rows, answer.more)
    guard = db.guard if isinstance(db, ReadOnlyDatabase) else _Guard()
    guard.refusal, guard.deadline = None, time.monotonic() + timeout_s
    try:
        cursor = db.conn.execute(sql, tuple(params))
        if cursor.description is None:
            raise StoreError(
                "the statement returns no rows: run one SELECT (or a pragma that reads)"
            )
        names = [column[0] for column in cursor.description]
        rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit + 1)
    except sqlite3.Error as exc:
        raise _store_error(exc, guard, timeout_s) from exc
    except (ValueError, OverflowError) as exc:  # e.g. more than one statement in `sql`
        raise StoreError(f"SQL error: {exc}") from exc
    finally:
        guard.deadline = float("inf")
    more = limit is not None and len(rows) > limit
    return QueryResult(names, rows[:limit] if more else rows, more)


def _store_error(exc: sqlite3.Error, guard: _Guard, timeout_s: float) -> StoreError:
    message = str(exc)
    if guard.refusal is not None:
        return StoreError(guard.refusal)
    if message == "interrupted":
        return StoreError(
            f"the statement ran longer than {timeout_s:g} s and was stopped (--timeout)"
        )
    if any(marker in message for marker in _WRITE_REFUSED):
        return StoreError(_WOULD_WRITE)
    return StoreError(f"SQL error: {message}")
