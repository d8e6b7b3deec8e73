"""The order processor's rules over one partition's state, on event time (pure).

Each order's state lives in the partition's table under `o:<order_id>`; the partition's
clock (`~clock`) is the highest event time seen on it, never the wall clock, so replaying
the same partition gives the same alerts whatever the batches, restarts or rebalances.
A finished order (DELIVERED, CANCELLED) is kept for `Retention.finished_ms` of event time
after its last event (so a late duplicate is still recognised), an unfinished one for
`Retention.open_ms`; after that it counts as gone at once, and `purge()` deletes it (a
tombstone in the changelog), so the state stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from pipeline.events import OrderState, Verdict, judge
from pipeline.services.state.table import MemoryTable, Table

CLOCK = "~clock"
ORDER = "o:"
FINISHED = frozenset({"DELIVERED", "CANCELLED"})
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Retention:
    finished_ms: int = HOUR_MS  # event time a finished order is remembered after its last event
    open_ms: int = 7 * 24 * HOUR_MS  # event time an order with no news is remembered


class Step(NamedTuple):
    """What the lifecycle rules need of an event."""

    order_id: str
    event_id: str
    status: str
    timestamp_ms: int


class Judgement(NamedTuple):
    verdict: Verdict
    previous: str | None  # the order's status before the event; None if it was unknown


class PartitionLifecycle:
    """The lifecycle rules applied to one partition's events, in order."""

    def __init__(self, table: Table, retention: Retention | None = None) -> None:
        self.table = table
        self.retention = retention or Retention()
        clock = table.get(CLOCK)
        self.clock: int = clock.value if clock is not None else 0

    def judge(self, step: Step) -> Judgement:
        if step.timestamp_ms > self.clock:
            self.clock = step.timestamp_ms
            self.table.put(CLOCK, self.clock)
        key = ORDER + step.order_id
        state = self._known(key)
        verdict = judge(state, step.event_id, step.status, step.timestamp_ms)
        if verdict.state is not state:
            self.table.put(key, _encode(verdict.state), self._expiry(verdict.state))
        return Judgement(verdict, None if state is None else state.status)

    def purge(self) -> int:
        """Delete the orders whose time is up; returns how many."""
        gone = [key for key in self.table.expired(self.clock) if key.startswith(ORDER)]
        for key in gone:
            self.table.delete(key)
        return len(gone)

    def _known(self, key: str) -> OrderState | None:
        entry = self.table.get(key)
        if entry is None or (entry.expires_at is not None and entry.expires_at <= self.clock):
            return None  # never seen, or forgotten: both are unknown from now on
        return _decode(entry.value)

    def _expiry(self, state: OrderState) -> int:
        # Counted from the partition's clock, so an event arriving late does not shorten it.
        keep = self.retention.finished_ms if state.status in FINISHED else self.retention.open_ms
        return self.clock + keep


def _encode(state: OrderState) -> list[Any]:
    return [state.status, state.timestamp_ms, sorted(state.event_ids)]


def _decode(value: list[Any]) -> OrderState:
    status, timestamp_ms, event_ids = value
    return OrderState(str(status), int(timestamp_ms), frozenset(event_ids))


def replay(
    steps: Iterable[Step], retention: Retention | None = None, purge_every: int = 0
) -> Iterator[Judgement]:
    """The judgements one partition's events get from a fresh state, in order.

    `purge_every` > 0 purges after that many events, as batches would: the judgements
    must not depend on it (the tests check that they do not).
    """
    lifecycle = PartitionLifecycle(MemoryTable(), retention)
    for number, step in enumerate(steps, start=1):
        yield lifecycle.judge(step)
        if purge_every and number % purge_every == 0:
            lifecycle.purge()
