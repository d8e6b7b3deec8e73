"""The order processor: the lifecycle state machine per order, alerts on what breaks it.

Each event is judged by `pipeline.events.judge`; an illegal transition, an unknown order, a
duplicate or an out-of-order event becomes an Avro record on the alerts topic (keyed by
order id). A batch's alerts are flushed before `handle` returns, so the runner commits only
after they are stored. A batch that raises leaves the tracker as it was and sends no alert
(the runner then hands it over event by event); an event whose status this processor does
not know (a later schema's) is refused, not judged. State lives in memory: after a restart
or a rebalance, orders in flight that this instance never saw are reported once as unknown,
then adopted.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from confluent_kafka.schema_registry import Schema

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.events import STATUSES, OrderState, Verdict, judge
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.checked_producer import CheckedProducer
from pipeline.model import Event, Refusal
from pipeline.schema_files import ORDER_ALERT, load_schema_file
from pipeline.serde import AvroEncoder

ALERT_SCHEMA = ORDER_ALERT
ALERT_NAMESPACE = uuid.UUID("5b0c6f2e-8a51-4c1e-9d1a-3f0f3b1de7a1")
KNOWN_STATUSES = frozenset(status.value for status in STATUSES)


class AlertError(PipelineError):
    pass


class LifecycleTracker:
    """The known state of each order, bounded: the least recently seen orders are forgotten."""

    def __init__(self, max_orders: int = 1_000_000) -> None:
        self.max_orders = max_orders
        self._orders: OrderedDict[str, OrderState] = OrderedDict()
        # Within `transaction()`: each touched order's state before it (None: unknown).
        self._before: dict[str, OrderState | None] | None = None

    def __len__(self) -> int:
        return len(self._orders)

    def status_of(self, order_id: str) -> str | None:
        state = self._orders.get(order_id)
        return None if state is None else state.status

    def apply(self, order_id: str, event_id: str, status: str, timestamp_ms: int) -> Verdict:
        verdict = judge(self._orders.get(order_id), event_id, status, timestamp_ms)
        self._remember(order_id)
        self._orders[order_id] = verdict.state
        self._orders.move_to_end(order_id)
        if len(self._orders) > self.max_orders:
            forgotten = next(iter(self._orders))
            self._remember(forgotten)
            del self._orders[forgotten]
        return verdict

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All of the block's changes, or none if it raises."""
        self._before = {}
        try:
            yield
        except BaseException:
            for order_id, state in self._before.items():
                if state is None:
                    self._orders.pop(order_id, None)
                else:
                    self._orders[order_id] = state
            raise
        finally:
            self._before = None

    def _remember(self, order_id: str) -> None:
        if self._before is not None and order_id not in self._before:
            self._before[order_id] = self._orders.get(order_id)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(value: Any) -> int:
    """fastavro hands timestamp-millis over as an aware datetime; tolerate plain ints.

    Exact: `int(value.timestamp() * 1000)` makes 1.004 s into 1003 ms (binary floats), and
    two steps a millisecond apart would then look simultaneous."""
    if isinstance(value, datetime):
        return (value - _EPOCH) // timedelta(milliseconds=1)
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
        # Set up the alert output before any state changes: if the registry cannot be reached
        # the batch is read again later, and must then find the tracker as it was.
        encoder = self._started()
        refusals: list[Refusal] = []
        counts: Counter[str] = Counter()
        alerts: list[tuple[bytes, str]] = []  # sent once the whole batch is judged
        with self.tracker.transaction():
            for event in batch:
                try:
                    step = Step.of(event)
                except (KeyError, TypeError, ValueError) as exc:
                    refusals.append(Refusal(event, f"not an order event: missing or bad {exc}"))
                    continue
                if step.status not in KNOWN_STATUSES:
                    known = ", ".join(s.value for s in STATUSES)
                    reason = f"unknown status {step.status!r} (this order processor knows {known})"
                    refusals.append(Refusal(event, reason))
                    continue
                previous = self.tracker.status_of(step.order_id)
                verdict = self.tracker.apply(*step)
                counts["events"] += 1
                counts[verdict.alert.value if verdict.alert else "legal"] += 1
                if verdict.alert is not None:
                    record = alert(event, step, verdict, previous)
                    alerts.append((encoder.encode(record), step.order_id))
            for value, key in alerts:
                self._alerts.send(value, key)
            self._alerts.flush()
        self.counts.update(counts)
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
        # A refusal stops the service (retrying will not help); an unreachable registry
        # raises RegistryUnavailable, and the runner reads the batch again later.
        schema_str = load_schema_file(self._alert_schema)
        subject = registry_client.value_subject(self.settings.alerts_topic)
        with registry_client.connected(self.settings) as client:
            schema_id = registry_client.call(
                lambda: client.register_schema(subject, Schema(schema_str, "AVRO")),
                f"registering the alert schema in {subject!r}",
            )
        return AvroEncoder(schema_id, schema_str)


class Step(NamedTuple):
    """What the lifecycle rules need of an event, in `LifecycleTracker.apply`'s order."""

    order_id: str
    event_id: str
    status: str
    timestamp_ms: int

    @classmethod
    def of(cls, event: Event) -> Step:
        value = event.value
        return cls(
            str(value["order_id"]),
            str(value["event_id"]),
            str(value["status"]),
            epoch_ms(value["timestamp"]),
        )


def alert(event: Event, step: Step, verdict: Verdict, previous: str | None) -> dict[str, Any]:
    """The order-alerts record for an event the rules flagged."""
    kind = verdict.alert.value if verdict.alert else ""
    where = f"{event.topic}:{event.partition}:{event.offset}:{kind}"
    return {
        # Derived from the message, so a re-delivered event raises the same alert id.
        "alert_id": str(uuid.uuid5(ALERT_NAMESPACE, where)),
        "kind": kind,
        "detail": verdict.detail,
        "order_id": step.order_id,
        "event_id": step.event_id,
        "status": step.status,
        "previous_status": previous,
        "event_timestamp": step.timestamp_ms,
        "topic": event.topic,
        "partition": event.partition,
        "offset": event.offset,
        "detected_at": int(time.time() * 1000),
    }
