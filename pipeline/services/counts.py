"""What analytics counts in a window and in its totals, and how two counts merge (pure).

`Counts` holds events by status and by source, orders placed, delivered and cancelled,
fulfilment times (PLACED → DELIVERED) per source as histograms, and `late`: events that
came after their window had closed (counted, never dropped). It travels as JSON in the
state tables and as the `Counts` record of the `order_stats` Avro schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pipeline.services import histogram


@dataclass
class Counts:
    events: int = 0
    late: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    placed: int = 0
    delivered: int = 0
    cancelled: int = 0
    fulfilment: dict[str, histogram.Histogram] = field(default_factory=dict)  # by source

    def count_event(self, status: str, source: str) -> None:
        self.events += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1
        self.by_source[source] = self.by_source.get(source, 0) + 1

    def count_fulfilment(self, source: str, duration_ms: int) -> None:
        histogram.add(self.fulfilment.setdefault(source, {}), duration_ms)

    def add(self, other: Counts) -> None:
        self.events += other.events
        self.late += other.late
        for mine, theirs in ((self.by_status, other.by_status), (self.by_source, other.by_source)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        self.placed += other.placed
        self.delivered += other.delivered
        self.cancelled += other.cancelled
        for source, buckets in other.fulfilment.items():
            self.fulfilment[source] = histogram.merge([self.fulfilment.get(source, {}), buckets])

    def percentiles(self) -> dict[str, dict[str, int | None]]:
        """Fulfilment count, p50 and p95 (ms) per source."""
        return {
            source: {
                "count": histogram.count(buckets),
                "p50_ms": histogram.quantile(buckets, 0.50),
                "p95_ms": histogram.quantile(buckets, 0.95),
            }
            for source, buckets in sorted(self.fulfilment.items())
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "late": self.late,
            "by_status": dict(self.by_status),
            "by_source": dict(self.by_source),
            "placed": self.placed,
            "delivered": self.delivered,
            "cancelled": self.cancelled,
            "fulfilment": {
                source: {str(b): n for b, n in buckets.items()}
                for source, buckets in self.fulfilment.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Counts:
        return cls(
            events=int(data["events"]),
            late=int(data["late"]),
            by_status=dict(data["by_status"]),
            by_source=dict(data["by_source"]),
            placed=int(data["placed"]),
            delivered=int(data["delivered"]),
            cancelled=int(data["cancelled"]),
            fulfilment={
                source: {int(b): int(n) for b, n in buckets.items()}
                for source, buckets in data["fulfilment"].items()
            },
        )

    def to_record(self) -> dict[str, Any]:
        """The `Counts` record of the order_stats schema."""
        record = self.to_json()
        record["fulfilment"] = {
            source: {**figures, "histogram": record["fulfilment"][source]}
            for source, figures in self.percentiles().items()
        }
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Counts:
        data = dict(record)
        data["fulfilment"] = {s: f["histogram"] for s, f in record["fulfilment"].items()}
        return cls.from_json(data)


def total(counts: Iterable[Counts]) -> Counts:
    merged = Counts()
    for one in counts:
        merged.add(one)
    return merged
