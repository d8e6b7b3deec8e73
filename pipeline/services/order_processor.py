"""The order processor: the lifecycle state machine per order, alerts on what breaks it.

Each event is judged by `pipeline.events.judge`; an illegal transition, an unknown order, a
duplicate or an out-of-order event becomes an Avro record on the alerts topic (keyed by
order id). A batch's alerts are flushed before `handle` returns, so the runner commits only
after they are stored. State lives in memory: after a restart or a rebalance, orders in
flight that this instance never saw are reported once as unknown, then adopted.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from pipeline.config import Settings
from pipeline.delivery import CheckedProducer
from pipeline.errors import PipelineError, RegistryError
from pipeline.events import OrderState, Verdict, judge
from pipeline.serde import SCHEMAS_DIR, AvroEncoder, load_schema_file, registry_client
from pipeline.services.base import Event, Refusal
from pipeline.topics import ensure_topics

ALERT_SCHEMA = SCHEMAS_DIR / "order_alert.v1.avsc"
ALERT_NAMESPACE = uuid.UUID("5b0c6f2e-8a51-4c1e-9d1a-3f0f3b1de7a1")


class AlertError(PipelineError):
    pass


class LifecycleTracker:
    """The known state of each order, bounded: the least recently seen orders are forgotten."""

    def __init__(self, max_orders: int = 1_000_000) -> None:
        self.max_orders = max_orders
        self._orders: OrderedDict[str, OrderState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._orders)

    def status_of(self, order_id: str) -> str | None:
        state = self._orders.get(order_id)
        return None if state is None else state.status

    def apply(self, order_id: str, event_id: str, status: str, timestamp_ms: int) -> Verdict:
        verdict = judge(self._orders.get(order_id), event_id, status, timestamp_ms)
        self._orders[order_id] = verdict.state
        self._orders.move_to_end(order_id)
        if len(self._orders) > self.max_orders:
            self._orders.popitem(last=False)
        return verdict


def epoch_ms(value: Any) -> int:
    """fastavro hands timestamp-millis over as an aware datetime; tolerate plain ints."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)


class OrderProcessor:
    name = "order-processor"

    def __init__(self, settings: Settings, *, alert_schema: Path = ALERT_SCHEMA) -> None:
        self.settings = settings
        self.tracker = LifecycleTracker()
        self.counts: Counter[str] = Counter()
        self._alert_schema = alert_schema
        self._alerts = CheckedProducer(settings, settings.alerts_topic, AlertError)
        self._encoder: AvroEncoder | None = None

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        refusals: list[Refusal] = []
        for event in batch:
            try:
                order_id = str(event.value["order_id"])
                event_id = str(event.value["event_id"])
                status = str(event.value["status"])
                timestamp_ms = epoch_ms(event.value["timestamp"])
            except (KeyError, TypeError, ValueError) as exc:
                refusals.append(Refusal(event, f"not an order event: missing or bad {exc}"))
                continue
            previous = self.tracker.status_of(order_id)
            verdict = self.tracker.apply(order_id, event_id, status, timestamp_ms)
            self.counts["events"] += 1
            self.counts[verdict.alert.value if verdict.alert else "legal"] += 1
            if verdict.alert is not None:
                self._send_alert(event, verdict, previous, order_id, event_id, timestamp_ms)
        self._alerts.flush()
        return refusals

    def summary_line(self) -> str:
        alerts = sum(n for kind, n in self.counts.items() if kind not in ("events", "legal"))
        kinds = ", ".join(f"{k.lower()} {n}" for k, n in sorted(self.counts.items()) if k.isupper())
        return (
            f"{self.counts['events']} events, {self.counts['legal']} legal, {alerts} alerts"
            + (f" ({kinds})" if kinds else "")
            + f", {len(self.tracker)} orders tracked"
        )

    def close(self) -> None:
        self._alerts.close()

    def _send_alert(
        self,
        event: Event,
        verdict: Verdict,
        previous: str | None,
        order_id: str,
        event_id: str,
        timestamp_ms: int,
    ) -> None:
        encoder = self._started()
        kind = verdict.alert.value if verdict.alert else ""
        where = f"{event.topic}:{event.partition}:{event.offset}:{kind}"
        record = {
            # Derived from the message, so a re-delivered event raises the same alert id.
            "alert_id": str(uuid.uuid5(ALERT_NAMESPACE, where)),
            "kind": kind,
            "detail": verdict.detail,
            "order_id": order_id,
            "event_id": event_id,
            "status": str(event.value["status"]),
            "previous_status": previous,
            "event_timestamp": timestamp_ms,
            "topic": event.topic,
            "partition": event.partition,
            "offset": event.offset,
            "detected_at": int(time.time() * 1000),
        }
        self._alerts.send(encoder.encode(record), order_id)

    def _started(self) -> AvroEncoder:
        """The alert encoder and topic, set up on the first alert (no I/O before)."""
        if self._encoder is None:
            self._encoder = self._alert_encoder()
            ensure_topics(self.settings, {self.settings.alerts_topic: self.settings.partitions})
        return self._encoder

    def _alert_encoder(self) -> AvroEncoder:
        # The alert schema is this service's own output, so registering it here is fine
        # (unlike order events, whose schema only `schema register` may add).
        schema_str = load_schema_file(self._alert_schema)
        subject = f"{self.settings.alerts_topic}-value"
        try:
            schema_id = registry_client(self.settings).register_schema(
                subject, Schema(schema_str, "AVRO")
            )
        except SchemaRegistryError as exc:
            raise RegistryError(f"cannot register the alert schema in {subject!r}: {exc}") from exc
        except Exception as exc:
            raise RegistryError(f"cannot reach the schema registry: {exc}") from exc
        return AvroEncoder(schema_id, schema_str)
