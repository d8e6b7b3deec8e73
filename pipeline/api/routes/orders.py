"""Orders over HTTP: place one, move one on. 202 once the broker acknowledged the event.

An `Idempotency-Key` makes a retry safe: an answer given for the key in this process is
given again (nothing is produced); otherwise the ids derived from the key are looked for in
the store (a retry after a crash finds its event there); otherwise the event is produced
with those ids, which the store would keep once anyway.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from concurrent.futures import Future
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from pipeline.api.app import AppState, state
from pipeline.api.errors import ApiError, unavailable
from pipeline.api.models import Accepted, NewOrder, StatusChange, errors
from pipeline.api.store_queries import known_order, reading, stored_event
from pipeline.errors import PipelineError
from pipeline.orders import DELIVERY_TIMEOUT_S, OrderRecord, Produced, derived_ids

router = APIRouter(tags=["orders"])
REPLIES_KEPT = 10_000
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Retry with the same key: the same ids, nothing produced twice.",
    ),
]
OrderId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-fA-F-]+$")]


@router.post(
    "/orders",
    status_code=202,
    response_model=Accepted,
    responses=errors(400, 401, 408, 413, 422, 503),
    summary="Place an order (a PLACED event, acknowledged by the broker)",
)
async def place_order(
    order: NewOrder, request: Request, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    app = state(request)
    fingerprint = _fingerprint("place", order.model_dump())
    replay = _replayed(app, idempotency_key, fingerprint)
    if replay is not None:
        return replay
    _broker_up(app)
    if idempotency_key is not None:
        stored = await _stored_reply(app, *derived_ids(idempotency_key, "placed"))
        if stored is not None:
            return _remember(app, idempotency_key, fingerprint, stored)

    def send() -> Future[Produced]:
        return app.writer.place(**order.model_dump(), idempotency_key=idempotency_key)

    produced = await _delivered(app, send, "placed")
    return _remember(app, idempotency_key, fingerprint, _accepted(produced))


@router.post(
    "/orders/{order_id}/status",
    status_code=202,
    response_model=Accepted,
    responses=errors(400, 401, 404, 408, 409, 413, 422, 503),
    summary="Move an order on: CONFIRMED, SHIPPED, DELIVERED or CANCELLED",
)
async def move_order(
    order_id: OrderId,
    change: StatusChange,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    app = state(request)
    fingerprint = _fingerprint(f"move:{order_id}", change.model_dump())
    replay = _replayed(app, idempotency_key, fingerprint)
    if replay is not None:
        return replay
    _broker_up(app)
    async with app.order_locks.hold(order_id):
        return await _move(app, order_id, change.status, idempotency_key, fingerprint)


async def _move(
    app: AppState, order_id: str, status: str, key: str | None, fingerprint: str
) -> JSONResponse:
    if key is not None:
        event_id = derived_ids(key, f"{order_id}:{status}")[1]
        stored = await _stored_reply(app, order_id, event_id)
        if stored is not None:
            return _remember(app, key, fingerprint, stored)
    current = app.writer.known.get(order_id) or await run_in_threadpool(_from_store, app, order_id)
    if current is None:
        app.metrics.orders["unknown"] += 1
        raise ApiError(404, f"unknown order {order_id}: neither this API nor the store knows it")

    def send() -> Future[Produced]:
        return app.writer.move(current, status, idempotency_key=key)

    produced = await _delivered(app, send, "moved")
    return _remember(app, key, fingerprint, _accepted(produced))


def _from_store(app: AppState, order_id: str) -> OrderRecord | None:
    with reading(app.settings) as db:
        return known_order(db, order_id)


async def _delivered(app: AppState, send: Callable[[], Future[Produced]], outcome: str) -> Produced:
    """Run `send` (off the event loop when it must ask the registry), await the broker."""
    try:
        future = send() if app.writer.schema_is_fresh() else await run_in_threadpool(send)
        produced = await asyncio.wait_for(asyncio.wrap_future(future), DELIVERY_TIMEOUT_S + 2)
    except TimeoutError:
        app.metrics.orders["unavailable"] += 1
        raise unavailable(
            f"Kafka at {app.settings.bootstrap_servers} did not acknowledge the event "
            f"within {DELIVERY_TIMEOUT_S + 2:g} s"
        ) from None
    except PipelineError as exc:
        app.metrics.orders["refused" if "refused" in type(exc).__name__.lower() else "failed"] += 1
        raise
    app.metrics.orders[outcome] += 1
    return produced


def _broker_up(app: AppState) -> None:
    """503 at once when the sampler already knows the broker is down."""
    broker = app.sampler.latest.health["broker"]
    if not broker.up and broker.checked_at:
        app.metrics.orders["unavailable"] += 1
        raise unavailable(f"Kafka is down: {broker.reason}")


def _accepted(produced: Produced) -> dict[str, Any]:
    return Accepted(
        order_id=produced.order.order_id,
        event_id=produced.event_id,
        status=produced.order.status,  # type: ignore[arg-type]
        schema_id=produced.schema_id,
        schema_version=produced.schema_version,
        partition=produced.partition,
        offset=produced.offset,
        replayed=False,
    ).model_dump()


async def _stored_reply(app: AppState, order_id: str, event_id: str) -> dict[str, Any] | None:
    """The answer for an event the store already holds (a retry after a crash), if any."""

    def look() -> dict[str, Any] | None:
        try:
            with reading(app.settings) as db:
                return stored_event(db, event_id)
        except PipelineError:
            return None  # no store yet: nothing can have been stored

    row = await run_in_threadpool(look)
    if row is None:
        return None
    return Accepted(
        order_id=order_id,
        event_id=event_id,
        status=row.get("status", "PLACED"),
        schema_id=row.get("schema_id"),
        schema_version=row.get("schema_version"),
        partition=row.get("kafka_partition"),
        offset=row.get("kafka_offset"),
        replayed=True,
    ).model_dump()


def _fingerprint(operation: str, body: dict[str, Any]) -> str:
    text = json.dumps([operation, body], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _replayed(app: AppState, key: str | None, fingerprint: str) -> JSONResponse | None:
    if key is None or key not in app.replies:
        return None
    known, reply = app.replies[key]
    if known != fingerprint:
        raise ApiError(422, "this Idempotency-Key was used for a different request: use a new key")
    return _json({**reply, "replayed": True})


def _remember(app: AppState, key: str | None, fingerprint: str, reply: dict[str, Any]) -> Any:
    if key is not None:
        app.replies[key] = (fingerprint, reply)
        while len(app.replies) > REPLIES_KEPT:
            app.replies.pop(next(iter(app.replies)))
    return _json(reply)


def _json(reply: dict[str, Any]) -> JSONResponse:
    return JSONResponse(
        reply, status_code=202, headers={"Location": f"/orders/{reply['order_id']}"}
    )
