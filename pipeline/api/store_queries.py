"""What the API asks the audit store, on a read-only connection opened per request.

The store is whichever is configured: PostgreSQL at `Settings.store_url` (a URL whose role
only reads), else the SQLite file at `Settings.db_path`; both are read through the store
package's read-only functions (`readonly.open_reader`, `run_query`, `reports`), which
take the same SQL on either and give values back in the same forms.

Orders are listed newest first by id (UUIDv7 ids, which the generator and the API assign,
sort by creation time; the primary key makes that order free), with keyset pagination: the
cursor is the last id of the page, so a page costs the same at any depth and never shifts
while the storage service adds rows.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.errors import StoreError
from pipeline.orders import OrderRecord
from pipeline.store.pg_connect import where
from pipeline.store.readonly import open_reader, run_query
from pipeline.store.reports import Reader, event_columns, order_timeline, stats


def store_target(settings: Settings) -> str | Path:
    return settings.store_url or settings.db_path


def store_address(settings: Settings) -> str:
    """Where the store is, for messages: host:port/database (never a password), or the file."""
    return where(settings.store_url) if settings.store_url else str(settings.db_path)


@contextmanager
def reading(settings: Settings) -> Iterator[Reader]:
    db = open_reader(store_target(settings))
    try:
        yield db
    finally:
        db.close()


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None
    source: str | None = None
    user_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def encode_cursor(order_id: str) -> str:
    return base64.urlsafe_b64encode(order_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("the cursor is not one this API handed out") from exc
    if not text or len(text) > 64:
        raise ValueError("the cursor is not one this API handed out")
    return text


def iso(value: dt.datetime) -> str:
    """The store's time text (UTC, milliseconds, Z), so comparisons are chronological."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    utc = value.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def list_orders(
    db: Reader, where: OrderFilter, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of orders and the cursor of the next page (None on the last)."""
    present = set(event_columns(db))
    if "order_id" not in present:
        return [], None
    clauses, params = _clauses(where, present)
    if cursor is not None:
        clauses.append("o.order_id < ?")
        params.append(decode_cursor(cursor))
    source = "(SELECT e.source FROM events e WHERE e.order_id = o.order_id LIMIT 1)"
    source_sql = f"{source} AS source" if "source" in present else "NULL AS source"
    sql = (
        f"SELECT o.*, {source_sql} FROM orders o"
        + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
        + " ORDER BY o.order_id DESC LIMIT ?"
    )
    names, rows = run_query(db, sql, [*params, limit + 1])
    found = [dict(zip(names, row, strict=True)) for row in rows]
    more = len(found) > limit
    page = found[:limit]
    return page, encode_cursor(page[-1]["order_id"]) if more and page else None


def _clauses(where: OrderFilter, present: set[str]) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if where.status:
        clauses.append("o.status = ?")
        params.append(where.status)
    if where.user_id:
        clauses.append("o.user_id = ?")
        params.append(where.user_id)
    if where.since:
        clauses.append("o.placed_at >= ?")
        params.append(iso(where.since))
    if where.until:
        clauses.append("o.placed_at < ?")
        params.append(iso(where.until))
    if where.source:
        if "source" not in present:
            clauses.append("1 = 0")
        else:
            clauses.append(
                "EXISTS (SELECT 1 FROM events e WHERE e.order_id = o.order_id AND e.source = ?)"
            )
            params.append(where.source)
    return clauses, params


def timeline(db: Reader, order_id: str) -> list[dict[str, Any]] | None:
    """Every stored event of the order in event time, or None if it has none."""
    try:
        return order_timeline(db, order_id).as_dicts()
    except StoreError as exc:
        if "no events stored" in str(exc) or "holds no events" in str(exc):
            return None
        raise


def known_order(db: Reader, order_id: str) -> OrderRecord | None:
    """The order as its stored events tell it: the status it reached, the fields to repeat.

    Read from the events rather than the `orders` table, so a status outside the table's
    ranking (CANCELLED) still counts: a cancelled order is cancelled whatever came after.
    """
    events = timeline(db, order_id)
    if not events:
        return None
    statuses = [str(e.get("status")) for e in events]
    rank = ("PLACED", "CONFIRMED", "SHIPPED", "DELIVERED")
    status = (
        "CANCELLED"
        if "CANCELLED" in statuses
        else max(statuses, key=lambda s: rank.index(s) if s in rank else -1)
    )
    last = events[-1]
    amount = last.get("amount")
    return OrderRecord(
        order_id,
        status,
        str(last.get("user_id") or ""),
        str(last.get("source") or "API"),
        float(amount) if isinstance(amount, int | float) else None,
        str(last.get("currency") or "EUR"),
        _epoch_ms(last.get("timestamp")),
    )


def stored_event(db: Reader, event_id: str) -> dict[str, Any] | None:
    """One stored event by id (an idempotent retry looks for its own event here)."""
    if "event_id" not in set(event_columns(db)):
        return None
    names, rows = run_query(db, "SELECT * FROM events WHERE event_id = ?", [event_id])
    return dict(zip(names, rows[0], strict=True)) if rows else None


def store_stats(db: Reader) -> dict[str, Any]:
    tables = {table.title: table.as_dicts() for table in stats(db)}
    counts = {}
    for table in ("events", "orders"):
        counts[table] = run_query(db, f"SELECT count(*) FROM {table}")[1][0][0]
    return {"rows": counts, "tables": tables}


def _epoch_ms(text: Any) -> int:
    if isinstance(text, int):
        return text
    try:
        return int(dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0
