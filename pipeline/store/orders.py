"""The `orders` table: each order's current status and the time of each status it reached.

One upsert per event, written so that the outcome does not depend on arrival order: the
status only moves forward along the lifecycle (an older, duplicate or replayed event never
moves it back), and each `<status>_at` keeps the earliest event time seen for that status.
Statuses outside the lifecycle (a later schema's new enum symbol) are left to the `events`
table, which keeps every event as it came.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.events import LIFECYCLE
from pipeline.store.rows import RowPlan, iso_timestamp
from pipeline.store.tables import ORDERS, STATUS_AT

_RANK = {status.value: rank for rank, status in enumerate(LIFECYCLE)}


def _rank_sql(expr: str) -> str:
    whens = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in _RANK.items())
    return f"CASE {expr} {whens} ELSE -1 END"


def _earliest(column: str) -> str:
    # NULL < x is NULL, so an event without this status keeps what is there.
    return (
        f"{column} = CASE WHEN {ORDERS}.{column} IS NULL OR excluded.{column} < {ORDERS}.{column}"
        f" THEN excluded.{column} ELSE {ORDERS}.{column} END"
    )


def _upsert_sql() -> str:
    at_columns = list(STATUS_AT.values())
    columns = ["order_id", "user_id", "status", *at_columns, "updated_at"]
    updates = [
        f"user_id = coalesce(excluded.user_id, {ORDERS}.user_id)",
        f"status = CASE WHEN {_rank_sql('excluded.status')} > {_rank_sql(f'{ORDERS}.status')}"
        f" THEN excluded.status ELSE {ORDERS}.status END",
        *(_earliest(column) for column in at_columns),
        "updated_at = excluded.updated_at",
    ]
    return (
        f"INSERT INTO {ORDERS} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)}) "
        f"ON CONFLICT(order_id) DO UPDATE SET {', '.join(updates)}"
    )


UPSERT_SQL = _upsert_sql()


def order_row(plan: RowPlan, fields: Sequence[Any], stored_at: str) -> list[Any] | None:
    """Parameters for UPSERT_SQL from an event's converted field values, if it has an order."""
    where = plan.order_index
    if "order_id" not in where or "status" not in where:
        return None
    order_id, status = fields[where["order_id"]], fields[where["status"]]
    if order_id is None or status not in _RANK:
        return None
    user_id = fields[where["user_id"]] if "user_id" in where else None
    at = fields[where["timestamp"]] if "timestamp" in where else None
    if not isinstance(at, str):  # a schema whose `timestamp` is a plain long (epoch ms)
        at = iso_timestamp(at)
    times = [at if status == known else None for known in STATUS_AT]
    return [order_id, user_id, status, *times, stored_at]
