"""`produce` with any registered record schema: generated events reshaped to it, or JSON
lines a user wrote, each encoded with that schema (looked up in the registry, never added).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.events import generate_events
from pipeline.kafka.admin import ensure_topics
from pipeline.producer import ProduceOptions, ProduceSummary, Progress, cancel_rate_for, send_events
from pipeline.registry_client import value_subject
from pipeline.schema_files import load_record_schema, load_schema_file
from pipeline.schema_lab.shaping import Refused, Shaper, describe_plan, records_from_lines
from pipeline.serde import AvroEncoder


class ShapingEncoder:
    """Reshapes each generated event to the schema, then encodes it."""

    def __init__(self, encoder: AvroEncoder, shaper: Shaper) -> None:
        self._encoder = encoder
        self._shaper = shaper
        self.schema_id = encoder.schema_id

    def encode(self, record: dict[str, Any]) -> bytes:
        return self._encoder.encode(self._shaper(record))


@dataclass
class Fed:
    summary: ProduceSummary
    filled: list[str] = field(default_factory=list)  # how the fields were filled
    refused: list[Refused] = field(default_factory=list)  # JSON lines that did not fit


def produce_generated(
    settings: Settings, options: ProduceOptions, progress: Progress | None = None
) -> Fed:
    # A rate of cancellations the schema cannot say is refused before anything else.
    cancel_rate = cancel_rate_for(load_schema_file(options.schema_path), options)
    schema, encoder = _prepare(settings, options)
    shaper = Shaper(schema)
    events = generate_events(
        seed=options.seed,
        orders=options.orders,
        start_ms=options.start_ms,
        anomaly_rate=options.anomaly_rate,
        cancel_rate=cancel_rate,
    )
    summary = send_events(
        settings, ShapingEncoder(encoder, shaper), islice(events, options.count), options, progress
    )
    plan = describe_plan(shaper.plan or [], options.schema_path.name)
    return Fed(summary, plan if shaper.plan else [])


def produce_lines(
    settings: Settings,
    options: ProduceOptions,
    lines: Iterator[str],
    progress: Progress | None = None,
) -> Fed:
    schema, encoder = _prepare(settings, options)
    refused: list[Refused] = []
    records = records_from_lines(lines, schema, refused)
    summary = send_events(settings, encoder, islice(records, options.count), options, progress)
    return Fed(summary, refused=refused)


def _prepare(settings: Settings, options: ProduceOptions) -> tuple[dict[str, Any], AvroEncoder]:
    """The schema (a record), its registered id, and the topic: before anything is sent."""
    schema = load_record_schema(options.schema_path)
    text = load_schema_file(options.schema_path)  # as registered: the lookup compares it
    with registry_client.connected(settings) as client:
        encoder = AvroEncoder.for_subject(client, value_subject(settings.topic), text)
    ensure_topics(settings, {settings.topic: settings.partitions})
    return schema, encoder
