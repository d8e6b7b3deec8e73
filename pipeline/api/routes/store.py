"""Reading the audit store: orders (filtered, paged), one order's timeline, statistics."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from pipeline.api.app import state
from pipeline.api.errors import ApiError
from pipeline.api.models import AnyStatus, Source, errors
from pipeline.api.routes.orders import OrderId
from pipeline.api.store_queries import (
    OrderFilter,
    list_orders,
    reading,
    store_stats,
    timeline,
)
from pipeline.errors import StoreError
from pipeline.store.reports import current_order

router = APIRouter(tags=["store"])


@router.get(
    "/orders",
    responses=errors(400, 401, 422, 503),
    summary="Orders from the audit store, newest first, with a cursor to the next page",
)
def orders(
    request: Request,
    status: AnyStatus | None = None,
    source: Source | None = None,
    user_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    since: Annotated[dt.datetime | None, Query(description="placed at or after")] = None,
    until: Annotated[dt.datetime | None, Query(description="placed before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    where = OrderFilter(status, source, user_id, since, until)
    with reading(state(request).settings) as db:
        try:
            page, following = list_orders(db, where, limit, cursor)
        except ValueError as exc:
            raise ApiError(400, f"cursor: {exc}") from exc
    return {"orders": page, "next_cursor": following}


@router.get(
    "/orders/{order_id}",
    responses=errors(401, 404, 422, 503),
    summary="One order: its current row and its timeline, each event with its schema version",
)
def order(order_id: OrderId, request: Request) -> dict[str, Any]:
    app = state(request)
    with reading(app.settings) as db:
        events = timeline(db, order_id)
        try:
            row = current_order(db, order_id)
        except StoreError:  # no `orders` table yet
            row = None
    known = app.writer.known.get(order_id)
    if events is None and known is None:
        raise ApiError(404, f"unknown order {order_id}: the store holds no event of it")
    return {
        "order_id": order_id,
        "order": row,
        "timeline": events or [],
        # What this API last produced for it (the store may not have caught up yet).
        "last_produced": None if known is None else {"status": known.status},
    }


@router.get(
    "/store/stats",
    responses=errors(401, 503),
    summary="Rows, and events by status, source, schema version and minute",
)
def stats(request: Request) -> dict[str, Any]:
    with reading(state(request).settings) as db:
        return store_stats(db)
