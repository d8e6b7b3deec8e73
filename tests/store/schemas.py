"""Writer schemas and events for the store's tests, written here rather than read from
`schemas/`, so each test states exactly the evolution it exercises."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import Any

from pipeline.model import Event, WriterSchema

SUBJECT = "order-events-value"
T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)

V1: dict[str, Any] = {
    "type": "record",
    "name": "OrderEvent",
    "namespace": "test.orders",
    "fields": [
        {"name": "event_id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "event_type", "type": "string"},
        {"name": "order_id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "user_id", "type": "string"},
        {
            "name": "status",
            "type": {
                "type": "enum",
                "name": "OrderStatus",
                "symbols": ["PLACED", "CONFIRMED", "SHIPPED", "DELIVERED"],
            },
        },
        {"name": "timestamp", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {
            "name": "source",
            "type": {"type": "enum", "name": "OrderSource", "symbols": ["WEB", "MOBILE", "API"]},
        },
    ],
}


def evolve(
    base: dict[str, Any],
    *,
    add: list[dict[str, Any]] | None = None,
    drop: tuple[str, ...] = (),
    retype: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A copy of `base` with fields added, dropped or given a new type."""
    schema = copy.deepcopy(base)
    fields = [f for f in schema["fields"] if f["name"] not in drop]
    for field in fields:
        if retype and field["name"] in retype:
            field["type"] = retype[field["name"]]
    schema["fields"] = fields + list(add or [])
    return schema


V2 = evolve(
    V1,
    add=[
        {"name": "amount", "type": ["null", "double"], "default": None},
        {"name": "currency", "type": "string", "default": "EUR"},
    ],
)
V3_NO_SOURCE = evolve(V1, drop=("source",))
USER_ID_AS_INT = evolve(V1, retype={"user_id": "int"})
NEW_WITHOUT_DEFAULT = evolve(V1, add=[{"name": "priority", "type": "int"}])
WITH_QUANTITY_INT = evolve(V1, add=[{"name": "quantity", "type": "int", "default": 1}])
WITH_QUANTITY_LONG = evolve(V1, add=[{"name": "quantity", "type": "long", "default": 1}])


def writer(schema_id: int, definition: dict[str, Any], version: int | None = None) -> WriterSchema:
    return WriterSchema(schema_id, SUBJECT, version or schema_id, definition)


def order_value(
    status: str = "PLACED",
    *,
    order_id: str | None = None,
    at: dt.datetime = T0,
    **extra: Any,
) -> dict[str, Any]:
    """A value shaped like the decoder's output: uuid.UUID ids, an aware UTC datetime."""
    return {
        "event_id": uuid.uuid4(),
        "event_type": f"order_{status.lower()}",
        "order_id": uuid.UUID(order_id) if order_id else uuid.uuid4(),
        "user_id": "user-00042",
        "status": status,
        "timestamp": at,
        "source": "WEB",
        **extra,
    }


def event(schema: WriterSchema, value: dict[str, Any], offset: int, partition: int = 0) -> Event:
    return Event(
        topic="order-events",
        partition=partition,
        offset=offset,
        key=None,
        raw=b"\x00" + offset.to_bytes(8, "big"),
        headers=(),
        timestamp_ms=int(T0.timestamp() * 1000),
        value=value,
        schema=schema,
    )
