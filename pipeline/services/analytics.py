"""Analytics: live counts by status and source, events/s over a sliding window, orders in flight.

An order leaves the in-flight set when it is DELIVERED or CANCELLED (schema v3), the two
statuses nothing legally follows.

`Aggregator` is the pure part (give it a clock and events, read snapshots); `Analytics` is
the service that feeds it from the consume loop (the CLI draws its snapshots). Nothing
here is durable: a restarted analytics counts from its committed offsets.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.events import STATUSES, Source, Status
from pipeline.model import Event, Refusal


@dataclass(frozen=True)
class Snapshot:
    total: int
    by_status: dict[str, int]
    by_source: dict[str, int]
    events_per_s: float
    window_s: float
    in_flight: int
    delivered: int
    cancelled: int = 0
    taken_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_status": self.by_status,
            "by_source": self.by_source,
            "events_per_s": round(self.events_per_s, 1),
            "window_s": self.window_s,
            "orders_in_flight": self.in_flight,
            "orders_delivered": self.delivered,
            "orders_cancelled": self.cancelled,
            "taken_at": round(self.taken_at, 3),
        }


MAX_ORDERS = 1_000_000
_ENDS = frozenset({Status.DELIVERED.value, Status.CANCELLED.value})


def _remember(orders: OrderedDict[Hashable, None], order_id: Hashable) -> None:
    orders[order_id] = None
    orders.move_to_end(order_id)
    if len(orders) > MAX_ORDERS:
        orders.popitem(last=False)


class Aggregator:
    """Running aggregates; the rate counts events per whole second of `clock` time."""

    def __init__(self, window_s: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.window_s = window_s
        self._clock = clock
        self._started: float | None = None
        self._total = 0
        self._by_status: Counter[str] = Counter()
        self._by_source: Counter[str] = Counter()
        self._buckets: deque[list[int]] = deque()  # [second, count], oldest first
        # Orders seen but not delivered, and orders delivered (so that a late or re-delivered
        # earlier step does not bring one back); both forget their oldest beyond MAX_ORDERS.
        self._in_flight: OrderedDict[Hashable, None] = OrderedDict()
        self._done: OrderedDict[Hashable, None] = OrderedDict()
        self._delivered = 0
        self._cancelled = 0

    def add(self, status: str, source: str, order_id: Hashable) -> None:
        now = self._clock()
        if self._started is None:
            self._started = now
        self._total += 1
        self._by_status[status] += 1
        self._by_source[source] += 1
        second = int(now)
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += 1
        else:
            self._buckets.append([second, 1])
        if status in _ENDS:
            self._in_flight.pop(order_id, None)
            if order_id not in self._done:  # a repeated end does not count twice
                _remember(self._done, order_id)
                self._delivered += status == Status.DELIVERED
                self._cancelled += status == Status.CANCELLED
        elif order_id not in self._done:
            _remember(self._in_flight, order_id)

    def snapshot(self) -> Snapshot:
        now = self._clock()
        horizon = now - self.window_s
        while self._buckets and self._buckets[0][0] + 1 <= horizon:
            self._buckets.popleft()
        in_window = sum(count for _, count in self._buckets)
        # Until a whole window has passed, divide by the time actually observed.
        observed = self.window_s if self._started is None else now - self._started
        span = max(1.0, min(self.window_s, observed))
        return Snapshot(
            total=self._total,
            by_status={s.value: self._by_status[s.value] for s in STATUSES}
            | {k: v for k, v in self._by_status.items() if k not in Status.__members__},
            by_source={s.value: self._by_source[s.value] for s in Source}
            | {k: v for k, v in self._by_source.items() if k not in Source.__members__},
            events_per_s=in_window / span,
            window_s=self.window_s,
            in_flight=len(self._in_flight),
            delivered=self._delivered,
            cancelled=self._cancelled,
        )


class Analytics:
    name = "analytics"

    def __init__(self, window_s: float = 10.0) -> None:
        self.aggregator = Aggregator(window_s)

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        # Everything read first, then counted: a batch that raises counted nothing (the
        # runner then hands it over event by event, see `isolation.py`).
        rows = [_row(event.value) for event in batch]
        add = self.aggregator.add
        for status, source, order_id in rows:
            add(status, source, order_id)
        return ()

    def summary_line(self) -> str:
        snap = self.aggregator.snapshot()
        return (
            f"{snap.total} events, {snap.events_per_s:,.0f}/s, "
            f"{snap.in_flight} orders in flight, {snap.delivered} delivered"
            + (f", {snap.cancelled} cancelled" if snap.cancelled else "")
        )

    def close(self) -> None:
        """Nothing to release: the aggregates live in memory only."""


def _row(value: dict[str, Any]) -> tuple[str, str, Hashable]:
    order_id = value.get("order_id")
    hash(order_id)  # an id that cannot be a key fails here, before anything is counted
    return str(value.get("status")), str(value.get("source")), order_id
