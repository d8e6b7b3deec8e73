"""Order events as the consume loop hands them to a service, made without Kafka.

The store benchmark writes these straight into the audit store: generated lifecycle events
in the shape the decoder gives them (UUIDs, aware datetimes), with Kafka coordinates and
the v1 writer schema, in batches of the runner's size.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from itertools import islice

from pipeline.events import generate_events
from pipeline.model import Event, WriterSchema
from pipeline.registry_client import value_subject
from pipeline.schema_files import ORDER_EVENT_V1

BATCH = 500  # the runner's default batch size
TOPIC = "order-events"
PARTITIONS = 6


def v1_writer() -> WriterSchema:
    text = ORDER_EVENT_V1.read_text(encoding="utf-8")
    return WriterSchema(1, value_subject(TOPIC), 1, json.loads(text))


def decoded_batches(count: int, size: int) -> Iterator[list[Event]]:
    """Lifecycle events shaped as the decoder hands them over (UUIDs, aware datetimes)."""
    schema = v1_writer()
    values = islice(generate_events(seed=7, orders=1000), count)
    offset = 0
    while batch := list(islice(values, size)):
        events = []
        for value in batch:
            decoded = {
                **value,
                "event_id": uuid.UUID(value["event_id"]),
                "order_id": uuid.UUID(value["order_id"]),
                "timestamp": dt.datetime.fromtimestamp(value["timestamp"] / 1000, dt.UTC),
            }
            ms = value["timestamp"]
            events.append(
                Event(TOPIC, offset % PARTITIONS, offset, None, b"", (), ms, decoded, schema)
            )
            offset += 1
        yield events
