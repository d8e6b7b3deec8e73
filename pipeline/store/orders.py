"""The `orders` table: each order's current status and the time of each status it reached.

An upsert written so that the outcome does not depend on arrival order: the status only moves
forward along the lifecycle (an older, duplicate or replayed event never moves it back;
CANCELLED, terminal, outranks every other status), and each `<status>_at` keeps the earliest
event time seen for that status. A status the pipeline does not know (a later schema's new
enum symbol) is left to the `events` table, which keeps every event as it came.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pipeline.store.rows import RowPlan, iso_timestamp
from pipeline.store.tables import ORDERS, STATUS_AT

_RANK = {status: rank for rank, status in enumerate(STATUS_AT)}
_FIRST_TIME = 3  # a row's first `<status>_at`, after order_id, user_id and status
_NO_TIMES = (None,) * len(STATUS_AT)


def _rank_sql(expr: str) -> str:
    whens = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in _RANK.items())
    return f"CASE {expr} {whens} ELSE -1 END"


def _earliest(column: str) -> str:
    # NULL < x is NULL, so an event without this status keeps what is there.
    return (
        f"{column} = CASE WHEN {ORDERS}.{column} IS NULL OR excluded.{column} < {ORDERS}.{column}"
        f" THEN excluded.{column} ELSE {ORDERS}.{column} END"
    )


COLUMNS = ["order_id", "user_id", "status", *STATUS_AT.values(), "updated_at"]


def _updates() -> str:
    updates = [
        f"user_id = coalesce(excluded.user_id, {ORDERS}.user_id)",
        f"status = CASE WHEN {_rank_sql('excluded.status')} > {_rank_sql(f'{ORDERS}.status')}"
        f" THEN excluded.status ELSE {ORDERS}.status END",
        *(_earliest(column) for column in STATUS_AT.values()),
        "updated_at = excluded.updated_at",
    ]
    return f"ON CONFLICT(order_id) DO UPDATE SET {', '.join(updates)}"


# SQLite: one row per execution (executemany).
UPSERT_SQL = (
    f"INSERT INTO {ORDERS} ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in COLUMNS)}) {_updates()}"
)
# PostgreSQL: a batch's orders, aggregated (see `aggregate`: one statement cannot touch a row
# twice) and COPYed into a staging table, in one statement.
ORDERS_STAGING = "audit_orders_staging"
PG_UPSERT_SQL = (
    f"INSERT INTO {ORDERS} ({', '.join(COLUMNS)}) "
    f"SELECT {', '.join(COLUMNS)} FROM {ORDERS_STAGING} ORDER BY order_id {_updates()}"
)


def order_row(
    plan: RowPlan,
    fields: Sequence[Any],
    stored_at: Any,
    time_of: Callable[[Any], Any] | None = None,
) -> list[Any] | None:
    """Parameters for UPSERT_SQL from an event's converted field values, if it has an order.

    `time_of` turns the event's timestamp into the store's form (SQLite: ISO text)."""
    if plan.order_at is None:
        return None
    order_at, status_at, user_at, time_at = plan.order_at
    order_id, status = fields[order_at], fields[status_at]
    rank = _RANK.get(status) if isinstance(status, str) else None
    if order_id is None or rank is None:
        return None
    at = None if time_at is None else fields[time_at]
    if time_of is not None:
        at = time_of(at)
    elif not isinstance(at, str):  # a schema whose `timestamp` is a plain long (epoch ms)
        at = iso_timestamp(at)
    row = [order_id, None if user_at is None else fields[user_at], status, *_NO_TIMES, stored_at]
    row[_FIRST_TIME + rank] = at  # the time of the status it reached, the others None
    return row


def aggregate(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """One row per order from order_row()s, merged as the upsert merges them one at a time:
    the status furthest along the lifecycle, the earliest time of each status, the last
    user id given; sorted by order id (so concurrent writers lock orders in one order)."""
    merged: dict[Any, list[Any]] = {}
    last = len(STATUS_AT) + 3  # index of updated_at
    for row in rows:
        known = merged.get(row[0])
        if known is None:
            merged[row[0]] = list(row)
            continue
        if row[1] is not None:
            known[1] = row[1]
        if _RANK[row[2]] > _RANK[known[2]]:
            known[2] = row[2]
        for i in range(3, last):
            if row[i] is not None and (known[i] is None or row[i] < known[i]):
                known[i] = row[i]
        known[last] = row[last]
    return [merged[key] for key in sorted(merged)]
