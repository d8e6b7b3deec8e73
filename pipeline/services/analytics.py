"""Analytics on event time: tumbling windows per partition, closed windows written once.

Each partition's windows, totals and orders live in its state (`windows.py`), restored
before its events are handled, so a restart neither loses counts nor counts twice. A
window that closes (on the partition's event time, after its grace) becomes an
`order_stats` record on the stats topic, in the same transaction as the state change and
the consumed offsets under exactly-once. `picture()` is what the live view draws: the
windows still open and the totals of the partitions held here; `python cli.py stats`
merges every partition's closed windows from the stats topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from confluent_kafka.schema_registry import Schema

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.kafka.admin import ensure_topics
from pipeline.model import Event, PartitionRef, Refusal
from pipeline.schema_files import ORDER_STATS, load_schema_file
from pipeline.serde import AvroEncoder
from pipeline.services.counts import Counts
from pipeline.services.lifecycle import Retention
from pipeline.services.order_processor import epoch_ms
from pipeline.services.stateful import StatefulService
from pipeline.services.stats import Picture, merge, record_of
from pipeline.services.windows import ClosedWindow, Observation, PartitionWindows, Windowing


def observation_of(event: Event) -> Observation:
    value = event.value
    return Observation(
        str(value["order_id"]),
        str(value["status"]),
        str(value["source"]),
        epoch_ms(value["timestamp"]),
    )


class Analytics(StatefulService):
    name = "analytics"

    def __init__(
        self,
        settings: Settings,
        *,
        windowing: Windowing | None = None,
        retention: Retention | None = None,
        state_dir: Path | None = None,
    ) -> None:
        super().__init__(settings, state_dir)
        self.windowing = windowing or Windowing()
        self.retention = retention or Retention()
        self._encoder: AvroEncoder | None = None
        self._windows: dict[int, PartitionWindows] = {}
        self._last: Picture | None = None  # kept at close, for a summary after the run

    def process(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        encoder = self._started()  # before any state changes (see OrderProcessor)
        refusals: list[Refusal] = []
        topic = self.settings.stats_topic
        for event in batch:
            try:
                observed = observation_of(event)
            except (KeyError, TypeError, ValueError) as exc:
                refusals.append(Refusal(event, f"not an order event: missing or bad {exc}"))
                continue
            self.count("events")
            for window in self._partition(event.partition).add(observed):
                record = record_of(window, event.topic)
                self.emit(topic, encoder.encode(record), str(window.start_ms))
                self.count("windows closed")
        return refusals

    def write_caches(self) -> None:
        for windows in self._windows.values():
            windows.write()

    def forget_caches(self) -> None:
        self._windows.clear()

    def before_staging(self) -> None:
        for windows in self._windows.values():
            windows.purge()

    def revoked(self, partitions: Sequence[PartitionRef]) -> None:
        if self.partitions:
            self._last = self.picture()
        super().revoked(partitions)

    def picture(self) -> Picture:
        """The open windows and totals of the partitions held here, merged (with none
        held, as they were when the last ones were given up)."""
        if self._last is not None and not self.partitions:
            return self._last
        current: list[ClosedWindow] = []
        for partition in self.partitions:
            windows = self._partition(partition)
            for start, counts in sorted(windows.open.items()):
                current.append(
                    ClosedWindow(
                        partition,
                        start,
                        start + self.windowing.size_ms,
                        counts,
                        windows.totals,
                        windows.clock,
                    )
                )
            if not windows.open:  # no window open: its totals still count
                current.append(ClosedWindow(partition, 0, 0, Counts(), windows.totals, 0))
        picture = merge(current)
        picture.windows = [w for w in picture.windows if w.end_ms > 0]
        return picture

    def rate(self) -> float:
        """Events per second of event time, summed over the partitions held here."""
        return sum(self._partition(p).rate() for p in self.partitions)

    def summary_line(self) -> str:
        picture = self.picture()
        totals = picture.totals
        return (
            f"{totals.events} events in the totals of partitions {picture.partitions}, "
            f"{self.counts['windows closed']} windows written, {totals.late} late, "
            f"{totals.placed} placed, {totals.delivered} delivered, {totals.cancelled} cancelled"
        )

    def _partition(self, partition: int) -> PartitionWindows:
        windows = self._windows.get(partition)
        if windows is None:
            windows = PartitionWindows(
                partition, self.table(partition), self.windowing, self.retention
            )
            self._windows[partition] = windows
        return windows

    def _started(self) -> AvroEncoder:
        if self._encoder is None:
            schema_str = load_schema_file(ORDER_STATS)
            subject = registry_client.value_subject(self.settings.stats_topic)
            with registry_client.connected(self.settings) as client:
                schema_id = registry_client.call(
                    lambda: client.register_schema(subject, Schema(schema_str, "AVRO")),
                    f"registering the stats schema in {subject!r}",
                )
            ensure_topics(self.settings, {self.settings.stats_topic: 1})
            self._encoder = AvroEncoder(schema_id, schema_str)
        return self._encoder
