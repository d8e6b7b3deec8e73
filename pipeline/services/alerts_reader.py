"""Reading the order processor's alerts back, read committed (what `demo` and tests show)."""

from __future__ import annotations

from typing import Any

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.serde import AvroDecoder
from pipeline.services.stats_reader import read_committed


def read_alerts(settings: Settings) -> list[dict[str, Any]]:
    topic = settings.alerts_topic
    values = read_committed(settings, topic)
    if not values:
        return []
    decoder = AvroDecoder(registry_client.connect(settings), registry_client.value_subject(topic))
    return [decoder.decode(value)[1] for value in values]
