"""The PostgreSQL audit store's tables: the SQLite store's, in PostgreSQL's native types.

Same tables, same meaning (see `tables`): events keyed by event_id with each schema field a
column, orders, schema_versions per registry, event_columns, positions; and `audit_store`,
holding the layout's version. Times are `timestamptz`, JSON kinds `jsonb`, decimals
`numeric` (see `kinds.PG_TYPE`). Setting up and every change of `events`' columns run under
one transaction-scoped advisory lock, so several storage instances never race at it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from pipeline.errors import StoreError
from pipeline.model import PartitionRef
from pipeline.store.admission import KEY, Column
from pipeline.store.kinds import PG_TYPE, Kind
from pipeline.store.tables import COLUMNS, EVENTS, ORDERS, POSITIONS, SCHEMAS, STATUS_AT

LAYOUT_VERSION = 1
META = "audit_store"
# pg_advisory_xact_lock's key: the store's evolution in this schema (hashtext of a name).
LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.audit_store'))"

_TABLES = [
    f"""CREATE TABLE IF NOT EXISTS {META} (key text PRIMARY KEY, value text NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS {EVENTS} (
        {KEY} text PRIMARY KEY,
        kafka_topic text NOT NULL,
        kafka_topic_id text NOT NULL DEFAULT '',
        kafka_partition integer NOT NULL,
        kafka_offset bigint NOT NULL,
        schema_registry_id text NOT NULL DEFAULT '',
        schema_id integer NOT NULL,
        schema_version integer,
        stored_at timestamptz NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS {ORDERS} (
        order_id text PRIMARY KEY, user_id text, status text,
        {", ".join(f"{column} timestamptz" for column in STATUS_AT.values())},
        updated_at timestamptz)""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMAS} (
        schema_registry_id text NOT NULL,
        schema_id integer NOT NULL,
        subject text,
        version integer,
        accepted boolean NOT NULL,
        reason text,
        definition text,
        first_seen_at timestamptz,
        PRIMARY KEY (schema_registry_id, schema_id))""",
    f"""CREATE TABLE IF NOT EXISTS {COLUMNS} (
        name text PRIMARY KEY,
        kind text NOT NULL,
        sql_type text NOT NULL,
        schema_registry_id text,
        schema_id integer,
        added_at timestamptz)""",
    f"""CREATE TABLE IF NOT EXISTS {POSITIONS} (
        kafka_topic_id text NOT NULL,
        kafka_partition integer NOT NULL,
        kafka_topic text NOT NULL,
        next_offset bigint NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (kafka_topic_id, kafka_partition))""",
]


def set_up(conn: psycopg.Connection) -> None:
    """Create what is missing (under the lock, in one transaction); refuse a later layout."""
    with conn.transaction():
        conn.execute(LOCK_SQL)
        for statement in _TABLES:
            conn.execute(statement)
        # A status the lifecycle gained since the store was made gets its column.
        for column in STATUS_AT.values():
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} timestamptz").format(
                    sql.Identifier(ORDERS), sql.Identifier(column)
                )
            )
        conn.execute(
            f"INSERT INTO {COLUMNS} (name, kind, sql_type) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            [KEY, Kind.TEXT.value, PG_TYPE[Kind.TEXT]],
        )
        row = conn.execute(f"SELECT value FROM {META} WHERE key = 'layout'").fetchone()
        if row is None:
            conn.execute(f"INSERT INTO {META} VALUES ('layout', %s)", [str(LAYOUT_VERSION)])
        elif int(row[0]) > LAYOUT_VERSION:
            raise StoreError(
                f"its layout version is {row[0]}, written by a later release; this one "
                f"knows up to {LAYOUT_VERSION}: upgrade the pipeline"
            )


def columns(conn: psycopg.Connection) -> dict[str, Column]:
    rows = conn.execute(f"SELECT name, kind FROM {COLUMNS}").fetchall()
    return {str(name).lower(): Column(str(name), Kind(kind)) for name, kind in rows}


def any_accepted(conn: psycopg.Connection) -> bool:
    return conn.execute(f"SELECT 1 FROM {SCHEMAS} WHERE accepted LIMIT 1").fetchone() is not None


def recorded(conn: psycopg.Connection, registry_id: str, schema_id: int) -> tuple[bool, str] | None:
    row = conn.execute(
        f"SELECT accepted, reason FROM {SCHEMAS} WHERE schema_registry_id = %s AND schema_id = %s",
        [registry_id, schema_id],
    ).fetchone()
    return None if row is None else (bool(row[0]), str(row[1]))


def record_schema(conn: psycopg.Connection, values: dict[str, Any]) -> None:
    names = sql.SQL(", ").join(sql.Identifier(name) for name in values)
    marks = sql.SQL(", ").join(sql.Placeholder() for _ in values)
    conn.execute(
        sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING").format(
            sql.Identifier(SCHEMAS), names, marks
        ),
        list(values.values()),
    )


def add_columns(
    conn: psycopg.Connection, new: Iterable[Column], added_by: tuple[str, int], now: Any
) -> None:
    """ALTER TABLE for each new column, recorded in event_columns (same transaction)."""
    for column in new:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                sql.Identifier(EVENTS), sql.Identifier(column.name), sql.SQL(PG_TYPE[column.kind])
            )
        )
        conn.execute(
            f"INSERT INTO {COLUMNS} (name, kind, sql_type, schema_registry_id, schema_id, "
            "added_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [column.name, column.kind.value, PG_TYPE[column.kind], *added_by, now],
        )
        if column.name.lower() == "order_id":  # an order's timeline (`query order`)
            conn.execute(
                sql.SQL("CREATE INDEX IF NOT EXISTS events_order_id ON {} ({})").format(
                    sql.Identifier(EVENTS), sql.Identifier(column.name)
                )
            )


def positions(
    conn: psycopg.Connection, partitions: Sequence[PartitionRef]
) -> dict[PartitionRef, int]:
    wanted = {(ref.topic_id, ref.partition): ref for ref in partitions if ref.topic_id}
    if not wanted:
        return {}
    rows = conn.execute(
        f"SELECT kafka_topic_id, kafka_partition, next_offset FROM {POSITIONS} "
        "WHERE kafka_topic_id = ANY(%s)",
        [sorted({topic_id for topic_id, _ in wanted})],
    ).fetchall()
    found = {}
    for topic_id, partition, offset in rows:
        ref = wanted.get((topic_id, partition))
        if ref is not None:
            found[ref] = int(offset)
    return found


# One statement for a batch's positions, in key order (concurrent writers lock alike); a
# position never moves back (a late writer that lost the partition must not undo the next).
SAVE_POSITIONS_SQL = f"""INSERT INTO {POSITIONS}
    (kafka_topic_id, kafka_partition, kafka_topic, next_offset, updated_at)
    SELECT * FROM unnest(%s::text[], %s::integer[], %s::text[], %s::bigint[], %s::timestamptz[])
    ORDER BY 1, 2
    ON CONFLICT (kafka_topic_id, kafka_partition) DO UPDATE SET
        next_offset = GREATEST({POSITIONS}.next_offset, excluded.next_offset),
        kafka_topic = excluded.kafka_topic, updated_at = excluded.updated_at"""


def save_positions(
    conn: psycopg.Connection, moved: Mapping[PartitionRef, int], now: dt.datetime
) -> None:
    if not moved:
        return
    refs = sorted(moved)
    conn.execute(
        SAVE_POSITIONS_SQL,
        [
            [ref.topic_id for ref in refs],
            [ref.partition for ref in refs],
            [ref.topic for ref in refs],
            [moved[ref] for ref in refs],
            [now for _ in refs],
        ],
    )
