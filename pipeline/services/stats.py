"""Windows of several partitions as one picture (pure): what `stats` and the view show.

Each partition closes its own windows on its own event time, so a minute's figures arrive
as one record per partition. Merging adds their counts and histograms (percentiles are
computed from the merged histograms, never averaged); the totals are the sum, over the
partitions, of each partition's latest running totals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.services.counts import Counts
from pipeline.services.windows import ClosedWindow


@dataclass
class MergedWindow:
    start_ms: int
    end_ms: int
    counts: Counts = field(default_factory=Counts)
    partitions: set[int] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        counts = self.counts.to_record()
        for figures in counts["fulfilment"].values():
            del figures["histogram"]
        return {
            "window_start": self.start_ms,
            "window_end": self.end_ms,
            "partitions": sorted(self.partitions),
            **counts,
        }


@dataclass
class Picture:
    windows: list[MergedWindow]
    totals: Counts
    partitions: list[int]

    def to_dict(self) -> dict[str, Any]:
        totals = self.totals.to_record()
        for figures in totals["fulfilment"].values():
            del figures["histogram"]
        return {
            "partitions": self.partitions,
            "windows": [w.to_dict() for w in self.windows],
            "totals": totals,
        }


def merge(windows: Iterable[ClosedWindow]) -> Picture:
    by_start: dict[int, MergedWindow] = {}
    latest: dict[int, ClosedWindow] = {}
    for window in windows:
        merged = by_start.setdefault(window.start_ms, MergedWindow(window.start_ms, window.end_ms))
        merged.counts.add(window.counts)
        merged.partitions.add(window.partition)
        known = latest.get(window.partition)
        if known is None or window.stream_time_ms >= known.stream_time_ms:
            latest[window.partition] = window
    totals = Counts()
    for window in latest.values():
        totals.add(window.totals)
    return Picture([by_start[s] for s in sorted(by_start)], totals, sorted(latest))


def window_of(record: dict[str, Any]) -> ClosedWindow:
    """A closed window from its `order_stats` record (as fastavro decodes it)."""
    return ClosedWindow(
        partition=int(record["partition"]),
        start_ms=epoch_ms(record["window_start"]),
        end_ms=epoch_ms(record["window_end"]),
        counts=Counts.from_record(record["counts"]),
        totals=Counts.from_record(record["totals"]),
        stream_time_ms=epoch_ms(record["stream_time"]),
    )


def record_of(window: ClosedWindow, topic: str) -> dict[str, Any]:
    """The `order_stats` record of a closed window."""
    return {
        "topic": topic,
        "partition": window.partition,
        "window_start": window.start_ms,
        "window_end": window.end_ms,
        "counts": window.counts.to_record(),
        "totals": window.totals.to_record(),
        "stream_time": window.stream_time_ms,
    }


def epoch_ms(value: Any) -> int:
    """fastavro hands timestamp-millis over as an aware datetime; tolerate plain ints."""
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    return int(value)
