"""Analytics over one partition's events on event time: tumbling windows, totals (pure).

Windows are `Windowing.size_ms` long (one minute by default) and aligned on the epoch. The
partition's clock is the highest event time seen on it (never the wall clock), so a replay
closes the same windows with the same figures. A window closes once the clock passes its
end by `grace_ms`; an event whose window has closed is late: it is counted in the `late`
figure of the window open at the clock, and in the totals, never dropped. Each order is
remembered (`o:<id>`: when it was placed, whether it finished) to count it placed,
delivered or cancelled once and to time its fulfilment; finished orders are forgotten
after a retention of event time, as in the order processor.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, NamedTuple

from pipeline.services.counts import Counts
from pipeline.services.lifecycle import FINISHED, Retention
from pipeline.services.state.table import MemoryTable, Table

CLOCK, TOTALS, OPEN = "~clock", "~totals", "~open"
WINDOW, ORDER = "w:", "o:"
MINUTE_MS = 60_000


@dataclass(frozen=True)
class Windowing:
    size_ms: int = MINUTE_MS
    grace_ms: int = 10_000
    rate_window_s: int = 10  # the sliding window of the events/s figure, on event time

    def start_of(self, timestamp_ms: int) -> int:
        return timestamp_ms - timestamp_ms % self.size_ms


class Observation(NamedTuple):
    """What windowing needs of an event."""

    order_id: str
    status: str
    source: str
    timestamp_ms: int


@dataclass(frozen=True)
class ClosedWindow:
    partition: int
    start_ms: int
    end_ms: int
    counts: Counts
    totals: Counts  # the partition's running totals when the window closed
    stream_time_ms: int


class PartitionWindows:
    """The windows, totals and orders of one partition, kept in its table."""

    def __init__(
        self,
        partition: int,
        table: Table,
        windowing: Windowing | None = None,
        retention: Retention | None = None,
    ) -> None:
        self.partition = partition
        self.table = table
        self.windowing = windowing or Windowing()
        self.retention = retention or Retention()
        self.clock: int = _value(table, CLOCK, 0)
        self.totals = _counts(_value(table, TOTALS, None))
        self.open: dict[int, Counts] = {
            start: _counts(_value(table, f"{WINDOW}{start}", None))
            for start in _value(table, OPEN, [])
        }
        # Events per second of event time: memory only, refilled within `rate_window_s`.
        self._seconds: deque[list[int]] = deque()

    def add(self, event: Observation) -> list[ClosedWindow]:
        """Count one event; return the windows it closed, oldest first."""
        if event.timestamp_ms > self.clock:
            self.clock = event.timestamp_ms
            self.table.put(CLOCK, self.clock)
        self._count_second(event.timestamp_ms)
        start = self.windowing.start_of(event.timestamp_ms)
        late = start + self.windowing.size_ms + self.windowing.grace_ms <= self.clock
        if late:  # its window has closed: counted where the clock is, as late
            start = self.windowing.start_of(self.clock)
        window = self._window(start)
        for counts in (self.totals, window):
            counts.count_event(event.status, event.source)
        self._follow_order(event, [self.totals] if late else [self.totals, window])
        if late:
            self.totals.late += 1
            window.late += 1
        return self._close_due()

    def write(self) -> None:
        """Put the totals and open windows (kept in memory while events come) into the table."""
        self.table.put(TOTALS, self.totals.to_json())
        for start, counts in self.open.items():
            self.table.put(f"{WINDOW}{start}", counts.to_json())
        self.table.put(OPEN, sorted(self.open))

    def rate(self) -> float:
        """Events per second of event time over the last `rate_window_s` seconds."""
        span = self.windowing.rate_window_s
        horizon = self.clock // 1000 - span
        in_window = sum(n for second, n in self._seconds if second > horizon)
        observed = self.clock // 1000 - self._seconds[0][0] + 1 if self._seconds else 1
        return in_window / max(1, min(span, observed))

    def purge(self) -> int:
        """Delete the orders whose retention has run out; returns how many."""
        gone = [key for key in self.table.expired(self.clock) if key.startswith(ORDER)]
        for key in gone:
            self.table.delete(key)
        return len(gone)

    def _window(self, start: int) -> Counts:
        window = self.open.get(start)
        if window is None:
            window = self.open[start] = Counts()
        return window

    def _follow_order(self, event: Observation, counted: list[Counts]) -> None:
        key = ORDER + event.order_id
        entry = self.table.get(key)
        alive = entry is not None and (entry.expires_at is None or entry.expires_at > self.clock)
        placed_at, finished = entry.value if entry is not None and alive else (None, None)
        if event.status == "PLACED" and placed_at is None and finished is None:
            placed_at = event.timestamp_ms
            for counts in counted:
                counts.placed += 1
        elif event.status in FINISHED and finished is None:
            finished = event.status
            for counts in counted:
                if finished == "CANCELLED":
                    counts.cancelled += 1
                    continue
                counts.delivered += 1
                if placed_at is not None and event.timestamp_ms >= placed_at:
                    counts.count_fulfilment(event.source, event.timestamp_ms - placed_at)
        keep = self.retention.finished_ms if finished else self.retention.open_ms
        self.table.put(key, [placed_at, finished], self.clock + keep)

    def _close_due(self) -> list[ClosedWindow]:
        due = self.clock - self.windowing.size_ms - self.windowing.grace_ms
        closing = sorted(start for start in self.open if start <= due)
        closed = []
        for start in closing:
            closed.append(
                ClosedWindow(
                    self.partition,
                    start,
                    start + self.windowing.size_ms,
                    self.open.pop(start),
                    Counts.from_json(self.totals.to_json()),
                    self.clock,
                )
            )
            self.table.delete(f"{WINDOW}{start}")
        return closed

    def _count_second(self, timestamp_ms: int) -> None:
        second = timestamp_ms // 1000
        if self._seconds and self._seconds[-1][0] == second:
            self._seconds[-1][1] += 1
        elif not self._seconds or second > self._seconds[-1][0]:
            self._seconds.append([second, 1])
        # An event older than the last second counted adds nothing to the current rate.
        while self._seconds and self._seconds[0][0] <= self.clock // 1000 - 60:
            self._seconds.popleft()


def _counts(value: Counts | dict[str, Any] | None) -> Counts:
    if value is None:
        return Counts()
    return value if isinstance(value, Counts) else Counts.from_json(value)


def _value(table: Table, key: str, default: Any) -> Any:
    entry = table.get(key)
    return default if entry is None else entry.value


def replay(
    partition: int,
    events: list[Observation],
    windowing: Windowing | None = None,
    retention: Retention | None = None,
) -> tuple[list[ClosedWindow], PartitionWindows]:
    """The windows one partition's events close from a fresh state, and the state after."""
    windows = PartitionWindows(partition, MemoryTable(), windowing, retention)
    closed: list[ClosedWindow] = []
    for event in events:
        closed.extend(windows.add(event))
    windows.write()
    return closed, windows
