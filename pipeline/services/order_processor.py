"""The order processor: each order's lifecycle, judged against state that survives restarts.

Each event is judged by the lifecycle rules (`lifecycle.py`) against its partition's
state, restored from the changelog before the partition's events are handled, so a restart,
a rebalance or a redelivered batch raises no false alert. An illegal transition, an unknown
order, a duplicate or an out-of-order event becomes an Avro record on the alerts topic,
keyed by order id, with an id derived from the event's identity (its event id and the
alert's kind) so that a batch done again gives the same ids. Under exactly-once the alerts,
the state changes and the consumed offsets commit together.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import Schema

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.events import STATUSES
from pipeline.kafka.admin import ensure_topics
from pipeline.model import Event, Refusal
from pipeline.schema_files import ORDER_ALERT, load_schema_file
from pipeline.serde import AvroEncoder
from pipeline.services.lifecycle import Judgement, PartitionLifecycle, Retention, Step
from pipeline.services.stateful import StatefulService

ALERT_SCHEMA = ORDER_ALERT
ALERT_NAMESPACE = uuid.UUID("5b0c6f2e-8a51-4c1e-9d1a-3f0f3b1de7a1")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
KNOWN_STATUSES = frozenset(status.value for status in STATUSES)


def epoch_ms(value: Any) -> int:
    """fastavro hands timestamp-millis over as an aware datetime; tolerate plain ints.

    Exact: `int(value.timestamp() * 1000)` makes 1.004 s into 1003 ms (binary floats), and
    two steps a millisecond apart would then look simultaneous."""
    if isinstance(value, datetime):
        return (value - _EPOCH) // timedelta(milliseconds=1)
    return int(value)


def step_of(event: Event) -> Step:
    value = event.value
    return Step(
        str(value["order_id"]),
        str(value["event_id"]),
        str(value["status"]),
        epoch_ms(value["timestamp"]),
    )


class OrderProcessor(StatefulService):
    name = "order-processor"

    def __init__(
        self,
        settings: Settings,
        *,
        retention: Retention | None = None,
        state_dir: Path | None = None,
        alert_schema: Path = ALERT_SCHEMA,
    ) -> None:
        super().__init__(settings, state_dir)
        self.retention = retention or Retention()
        self._alert_schema = alert_schema
        self._encoder: AvroEncoder | None = None
        self._lifecycles: dict[int, PartitionLifecycle] = {}

    def process(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        # Set up the alert output before any state changes: if the registry cannot be
        # reached the batch is read again later.
        encoder = self._started()
        refusals: list[Refusal] = []
        for event in batch:
            try:
                step = step_of(event)
            except (KeyError, TypeError, ValueError) as exc:
                refusals.append(Refusal(event, f"not an order event: missing or bad {exc}"))
                continue
            if step.status not in KNOWN_STATUSES:
                known = ", ".join(sorted(KNOWN_STATUSES))
                reason = f"unknown status {step.status!r} (this order processor knows {known})"
                refusals.append(Refusal(event, reason))
                continue
            judged = self._lifecycle(event.partition).judge(step)
            kind = judged.verdict.alert
            self.count("events")
            self.count(kind.value if kind else "legal")
            if kind is not None:
                record = alert(event, step, judged)
                self.emit(self.settings.alerts_topic, encoder.encode(record), step.order_id)
        return refusals

    def before_staging(self) -> None:
        for lifecycle in self._lifecycles.values():
            self.count("forgotten", lifecycle.purge())

    def forget_caches(self) -> None:
        self._lifecycles.clear()

    def summary_line(self) -> str:
        counts = self.counts
        alerts = sum(n for kind, n in counts.items() if kind.isupper())
        kinds = ", ".join(f"{k.lower()} {n}" for k, n in sorted(counts.items()) if k.isupper())
        return (
            f"{counts['events']} events, {counts['legal']} legal, {alerts} alerts"
            + (f" ({kinds})" if kinds else "")
            + f", {counts['forgotten']} finished orders forgotten"
        )

    def _lifecycle(self, partition: int) -> PartitionLifecycle:
        lifecycle = self._lifecycles.get(partition)
        if lifecycle is None:
            lifecycle = PartitionLifecycle(self.table(partition), self.retention)
            self._lifecycles[partition] = lifecycle
        return lifecycle

    def _started(self) -> AvroEncoder:
        """The alert encoder and topic, set up on the first batch (no I/O before)."""
        if self._encoder is None:
            encoder = self._alert_encoder()
            ensure_topics(self.settings, {self.settings.alerts_topic: self.settings.partitions})
            self._encoder = encoder
        return self._encoder

    def _alert_encoder(self) -> AvroEncoder:
        # The alert schema is this service's own output, so registering it here is fine
        # (unlike order events, whose schema only `schema register` may add).
        schema_str = load_schema_file(self._alert_schema)
        subject = registry_client.value_subject(self.settings.alerts_topic)
        with registry_client.connected(self.settings) as client:
            schema_id = registry_client.call(
                lambda: client.register_schema(subject, Schema(schema_str, "AVRO")),
                f"registering the alert schema in {subject!r}",
            )
        return AvroEncoder(schema_id, schema_str)


def alert_id(event_id: str, kind: str) -> str:
    """From the event's identity only: the same event judged again gives the same id."""
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{event_id}:{kind}"))


def alert(event: Event, step: Step, judged: Judgement) -> dict[str, Any]:
    """The order-alerts record for an event the rules flagged."""
    verdict = judged.verdict
    kind = verdict.alert.value if verdict.alert else ""
    return {
        "alert_id": alert_id(step.event_id, kind),
        "kind": kind,
        "detail": verdict.detail,
        "order_id": step.order_id,
        "event_id": step.event_id,
        "status": step.status,
        "previous_status": judged.previous,
        "event_timestamp": step.timestamp_ms,
        "topic": event.topic,
        "partition": event.partition,
        "offset": event.offset,
        "detected_at": int(time.time() * 1000),
    }
