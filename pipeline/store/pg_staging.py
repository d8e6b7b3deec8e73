"""A batch's rows on their way into PostgreSQL: COPY into a temporary table, then one INSERT.

COPY is PostgreSQL's bulk path: rows stream in without a statement each. They land in a
temporary staging table (this session's own, emptied at every commit), and one
`INSERT ... SELECT ... ORDER BY event_id ON CONFLICT (event_id) DO NOTHING` moves them into
`events`: a known event is skipped, and concurrent writers take row locks in one order, so
they wait for each other but never deadlock. The staging table copies `events`' columns, and
is made again when a batch needs a column it lacks (another instance may have added it).

A value PostgreSQL cannot take (a NUL character in a text, bytes that are not UTF-8 for a
text column) fails the whole COPY: then that run is staged again row by row, each under a
savepoint, and only the rows that fail are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from pipeline.model import Event, Refusal
from pipeline.store.admission import KEY
from pipeline.store.orders import COLUMNS as ORDER_COLUMNS
from pipeline.store.orders import ORDERS_STAGING, PG_UPSERT_SQL
from pipeline.store.tables import EVENTS, ORDERS

STAGING = "audit_staging"


def event_columns(conn: psycopg.Connection) -> list[str]:
    """The columns `events` has now (another instance may have added some)."""
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        [EVENTS],
    ).fetchall()
    return [str(name) for (name,) in rows]


Row = tuple[Event, Sequence[Any]]


class Staging:
    """The staging table of one connection."""

    def __init__(self) -> None:
        self.columns: tuple[str, ...] = ()  # as of the last commit
        self._pending: tuple[str, ...] | None = None
        self._orders_staged = self._orders_pending = False

    def reset(self) -> None:
        """The connection is new: its temporary tables are gone."""
        self.columns, self._pending = (), None
        self._orders_staged = self._orders_pending = False

    def current(self) -> tuple[str, ...]:
        """The staging table's columns in this transaction."""
        return self._pending if self._pending is not None else self.columns

    def committed(self) -> None:
        if self._pending is not None:
            self.columns, self._pending = self._pending, None
        self._orders_staged = self._orders_staged or self._orders_pending

    def prepare(self, conn: psycopg.Connection, needed: set[str]) -> None:
        """Make the staging table again if it lacks a needed column (in the transaction)."""
        if needed <= set(self.current()):
            return
        conn.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGING}")
        conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            ).format(sql.Identifier(STAGING), sql.Identifier(EVENTS))
        )
        self._pending = tuple(event_columns(conn))

    def copy(
        self, conn: psycopg.Connection, columns: Sequence[str], rows: list[Row]
    ) -> tuple[list[Row], list[Refusal]]:
        """Stage a run of rows of one column list: (rows staged, rows refused)."""
        statement = _copy_sql(columns)
        try:
            with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
                for _, row in rows:
                    copy.write_row(row)
            return rows, []
        except psycopg.Error as exc:
            if not _about_a_value(exc):
                raise
        kept: list[Row] = []
        refused: list[Refusal] = []
        for event, row in rows:
            try:
                with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
                    copy.write_row(row)
                kept.append((event, row))
            except psycopg.Error as exc:
                if not _about_a_value(exc):
                    raise
                text = str(exc).strip().splitlines()[0]
                refused.append(Refusal(event, f"a value of this event cannot be stored: {text}"))
        return kept, refused

    def upsert_orders(self, conn: psycopg.Connection, rows: list[list[Any]]) -> None:
        """COPY the batch's orders (one row per order) into their staging table, then one
        upsert into `orders`."""
        if not self._orders_staged:
            conn.execute(
                sql.SQL(
                    "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {}) ON COMMIT DELETE ROWS"
                ).format(sql.Identifier(ORDERS_STAGING), sql.Identifier(ORDERS))
            )
            self._orders_pending = True
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(ORDERS_STAGING),
            sql.SQL(", ").join(sql.Identifier(c) for c in ORDER_COLUMNS),
        )
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        conn.execute(PG_UPSERT_SQL)

    def insert_into_events(self, conn: psycopg.Connection, columns: Sequence[str]) -> int:
        """Move the staged rows into `events`; the number of rows that were new."""
        names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        statement = sql.SQL(
            "INSERT INTO {events} ({names}) SELECT {names} FROM {staging} ORDER BY {key} "
            "ON CONFLICT ({key}) DO NOTHING"
        ).format(
            events=sql.Identifier(EVENTS),
            names=names,
            staging=sql.Identifier(STAGING),
            key=sql.Identifier(KEY),
        )
        return conn.execute(statement).rowcount


def _about_a_value(exc: psycopg.Error) -> bool:
    """A value the server refused (SQLSTATE class 22), or one the driver cannot send (no
    SQLSTATE: nothing reached the server); not a failure of the store itself."""
    if isinstance(exc, psycopg.DataError):
        return True
    return isinstance(exc, psycopg.ProgrammingError) and exc.sqlstate is None


def _copy_sql(columns: Sequence[str]) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(STAGING), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
