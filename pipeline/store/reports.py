"""Read-only questions users ask the audit store: an order's timeline, and overall stats.

Each answer is a `Table` (column names and rows) so the CLI can print it as a table,
JSON or CSV. Queries run on a read-only connection (`readonly.open_read_only`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from pipeline.errors import StoreError
from pipeline.store.admission import KEY
from pipeline.store.readonly import TIMEOUT_S, run_limited, run_query
from pipeline.store.tables import EVENTS, ORDERS, SCHEMAS, columns

TIMELINE_COLUMNS = ("timestamp", "status", "event_type", "source", "user_id")
MINUTES_SHOWN = 10


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    key: str = ""  # a name without spaces, for JSON keys and `--table` (by_status, ...)
    more: bool = False  # rows were left out at the row limit

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def sql(db: Database, statement: str, *, limit: int | None, timeout_s: float = TIMEOUT_S) -> Table:
    """One read-only statement: at most `limit` rows, stopped after `timeout_s`."""
    result = run_limited(db, statement, limit=limit, timeout_s=timeout_s)
    return Table("query", tuple(result.names), tuple(result.rows), "query", result.more)


def order_timeline(db: Database, order_id: str) -> Table:
    """Every stored event of one order, in event time, with its schema version."""
    present = event_columns(db)
    if "order_id" not in present:
        raise StoreError("the audit store holds no events yet")
    wanted = [c for c in TIMELINE_COLUMNS if c in present]
    # Columns added by later schemas (e.g. amount) show up too: that is the evolution story.
    extra = [c for c in present if c not in (*TIMELINE_COLUMNS, "order_id", KEY)]
    picked = [*wanted, *extra, "schema_id", "schema_version", "kafka_partition", "kafka_offset"]
    names, rows = run_query(
        db,
        f"SELECT {', '.join(_quote(c) for c in picked)} FROM {EVENTS} "
        'WHERE order_id = ? ORDER BY "timestamp", kafka_partition, kafka_offset',
        [order_id],
    )
    if not rows:
        raise StoreError(f"no events stored for order {order_id}")
    return Table(f"order {order_id}", tuple(names), tuple(rows))


def current_order(db: Database, order_id: str) -> dict[str, Any] | None:
    names, rows = run_query(db, f"SELECT * FROM {ORDERS} WHERE order_id = ?", [order_id])
    return dict(zip(names, rows[0], strict=True)) if rows else None


STATS_TABLES = ("by_status", "by_source", "by_schema_version", "per_minute")


def stats(db: Database) -> list[Table]:
    """Counts by status, source and schema version, and events per minute (latest first)."""
    present = event_columns(db)
    tables = [_count_by(db, column) for column in ("status", "source") if column in present]
    tables.append(_by_schema_version(db))
    if "timestamp" in present:
        tables.append(_per_minute(db))
    return tables


def _count_by(db: Database, column: str) -> Table:
    names, rows = run_query(
        db, f"SELECT {column}, count(*) AS events FROM {EVENTS} GROUP BY 1 ORDER BY 2 DESC"
    )
    return Table(f"events by {column}", tuple(names), tuple(rows), f"by_{column}")


def _by_schema_version(db: Database) -> Table:
    names, rows = run_query(
        db,
        f"SELECT e.schema_version, e.schema_id, count(*) AS events, s.subject "
        f"FROM {EVENTS} e LEFT JOIN {SCHEMAS} s USING (schema_id) GROUP BY 1, 2 ORDER BY 1, 2",
    )
    return Table("events by schema version", tuple(names), tuple(rows), "by_schema_version")


def _per_minute(db: Database) -> Table:
    # ISO-8601 text: the first 16 characters are the minute (2026-01-01T10:42).
    names, rows = run_query(
        db,
        f'SELECT substr("timestamp", 1, 16) AS minute, count(*) AS events FROM {EVENTS} '
        f"GROUP BY 1 ORDER BY 1 DESC LIMIT {MINUTES_SHOWN}",
    )
    return Table(
        f"events per minute (event time, latest {MINUTES_SHOWN})",
        tuple(names),
        tuple(rows),
        "per_minute",
    )


def event_columns(db: Database) -> list[str]:
    """The columns that hold schema fields, in the order the schemas added them."""
    try:
        return [column.name for column in columns(db).values()]
    except sqlite3.Error as exc:
        raise StoreError(f"this file is not an audit store: {exc}") from exc


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
