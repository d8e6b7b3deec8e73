"""Reading the PostgreSQL audit store for queries, so that nothing can write.

Four locks, each enough on its own against a careless or hostile statement:
- the role: a URL whose role could write (a superuser, or one with INSERT, UPDATE, DELETE or
  TRUNCATE on the store's tables) is refused; use a read-only role (`pg_read_all_data`,
  e.g. `pipeline_reader` of `dev up --postgres`);
- the transaction: every statement runs in a READ ONLY transaction, rolled back after;
- one statement: each is sent as a prepared statement, which PostgreSQL takes one command at
  a time (`COMMIT; DELETE ...` is refused whole, before anything runs);
- bounds: a statement timeout, and at most `limit` rows fetched.
Values come back in the SQLite store's forms (times as ISO-8601 text with a `Z`, JSON as
text), so `query` prints the same on either store.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

from pipeline.errors import StoreError
from pipeline.store import pg_connect
from pipeline.store.rows import iso_timestamp
from pipeline.store.tables import COLUMNS, EVENTS, ORDERS, POSITIONS, SCHEMAS

STATEMENT_TIMEOUT_MS = 10_000
_WRITES = "INSERT, UPDATE, DELETE, TRUNCATE"


@dataclass(frozen=True)
class Answer:
    names: list[str]
    rows: list[tuple[Any, ...]]
    more: bool  # rows were left out: the statement had more than the limit


class PostgresReader:
    """A read-only connection to a PostgreSQL audit store: `open_pg_read_only(url)`."""

    dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection, where: str, timeout_ms: int) -> None:
        self.conn = conn
        self.where = where
        self.timeout_ms = timeout_ms

    def run(
        self,
        sql: str,
        params: Sequence[Any] = (),
        limit: int | None = None,
        timeout_s: float | None = None,
    ) -> Answer:
        """One statement's column names and rows (at most `limit`), or a one-line error."""
        timeout_ms = self.timeout_ms if timeout_s is None else int(timeout_s * 1000)
        try:
            with self.conn.transaction(force_rollback=True), self.conn.cursor() as cur:
                cur.execute(f"SET LOCAL statement_timeout = {timeout_ms}")
                cur.execute(sql, list(params), prepare=True)
                names = [column.name for column in cur.description or ()]
                rows = cur.fetchall() if limit is None else cur.fetchmany(limit + 1)
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            raise StoreError(
                "the audit store is opened read-only: this statement would write to it"
            ) from exc
        except psycopg.errors.QueryCanceled as exc:
            raise StoreError(
                f"the statement ran longer than {timeout_ms / 1000:g} s and was stopped (--timeout)"
            ) from exc
        except psycopg.ProgrammingError as exc:
            if cur_description_missing(exc):
                raise StoreError("the statement returns no rows: run one SELECT") from exc
            raise StoreError(f"SQL error: {pg_connect.reason(exc)}") from exc
        except psycopg.Error as exc:
            raise StoreError(f"SQL error: {pg_connect.reason(exc)}") from exc
        more = limit is not None and len(rows) > limit
        kept = rows[:limit] if limit is not None else rows
        return Answer(names, [tuple(_plain(value) for value in row) for row in kept], more)

    def event_columns(self) -> list[str]:
        """The columns that hold schema fields, in the order the schemas added them."""
        answer = self.run(
            f"SELECT c.name FROM {COLUMNS} c JOIN information_schema.columns i "
            "ON i.column_name = c.name AND i.table_name = %s "
            "AND i.table_schema = current_schema() ORDER BY i.ordinal_position",
            [EVENTS],
        )
        return [str(name) for (name,) in answer.rows]

    def close(self) -> None:
        self.conn.close()


def open_pg_read_only(url: str, timeout_ms: int = STATEMENT_TIMEOUT_MS) -> PostgresReader:
    """Connect with a role that can only read; StoreError (one line) otherwise."""
    where = pg_connect.where(url)
    conn = pg_connect.connect(url, "order-pipeline query")
    try:
        _refuse_a_writer(conn, where)
        conn.read_only = True
        conn.execute(f"SET statement_timeout = {int(timeout_ms)}")
        conn.commit()
    except BaseException:
        conn.close()
        raise
    return PostgresReader(conn, where, timeout_ms)


def _refuse_a_writer(conn: psycopg.Connection, where: str) -> None:
    tables = [EVENTS, ORDERS, SCHEMAS, COLUMNS, POSITIONS]
    row = conn.execute(
        "SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), "
        "to_regclass(%s) IS NOT NULL, "
        "bool_or(to_regclass(t) IS NOT NULL AND has_table_privilege(t, %s)) "
        "FROM unnest(%s::text[]) AS t",
        [EVENTS, _WRITES, tables],
    ).fetchone()
    conn.rollback()
    assert row is not None
    role, superuser, has_store, can_write = row
    if superuser or can_write:
        raise StoreError(
            f"the role {role} can write to the audit store at {where}: query with a role "
            "that only reads (pg_read_all_data, e.g. pipeline_reader of `dev up --postgres`)"
        )
    if not has_store:
        raise StoreError(
            f"no audit store at {where}: the storage service creates it "
            "(python cli.py consume storage --store URL)"
        )


def cur_description_missing(exc: BaseException) -> bool:
    """psycopg's answer to fetching from a statement that returns no rows."""
    return "didn't produce records" in str(exc) or "no result available" in str(exc)


def _plain(value: Any) -> Any:
    """A value in the form the SQLite store gives it."""
    if isinstance(value, dt.datetime):
        return iso_timestamp(value if value.tzinfo is None else value.astimezone(dt.UTC))
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, memoryview):
        return bytes(value)
    return value
