"""Per-minute windows from the audit store: counts by status and source, fulfilment time.

Read incrementally: each refresh reads only the rows stored since the last one (the
`events` table grows by rowid), so keeping the dashboard's windows current costs the
new rows, not the table. Minutes are event time (the events' own `timestamp`), so a
window is the same whenever its events were stored. Fulfilment is PLACED → DELIVERED of
each order delivered in the minute, its PLACED time taken from the `orders` table.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.store.readonly import open_read_only, run_query
from pipeline.store.reports import event_columns

MINUTES_KEPT = 15
BATCH = 20_000
BATCHES_PER_REFRESH = 5
# A first refresh on a large store starts this many rows from its end (older minutes would
# be dropped anyway).
BACKLOG_ROWS = 200_000
SAMPLES_PER_WINDOW = 5_000
NEEDED = {"timestamp", "status", "source", "order_id"}


@dataclass
class Window:
    by_status: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)
    fulfilment: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def to_dict(self, minute: str) -> dict[str, Any]:
        every = [ms for values in self.fulfilment.values() for ms in values]
        per_source = {source: percentiles(values) for source, values in self.fulfilment.items()}
        return {
            "minute": minute,
            "events": sum(self.by_status.values()),
            "by_status": dict(self.by_status),
            "by_source": dict(self.by_source),
            "fulfilment_ms": {"all": percentiles(every), **per_source},
        }


def percentiles(values: list[int]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None}
    ordered = sorted(values)

    def at(q: float) -> int:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"n": len(ordered), "p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


class StoreWindows:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._windows: dict[str, Window] = {}
        self._last_rowid: int | None = None
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read the rows stored since the last refresh (bounded per call)."""
        try:
            db = open_read_only(self.path)
        except PipelineError:
            return
        try:
            if not set(event_columns(db)) >= NEEDED:
                return
            for _ in range(BATCHES_PER_REFRESH):
                if self._read_batch(db) < BATCH:
                    break
        except PipelineError:
            return
        finally:
            db.close()

    def _read_batch(self, db: Any) -> int:
        if self._last_rowid is None:
            top = run_query(db, "SELECT coalesce(max(rowid), 0) FROM events")[1][0][0]
            self._last_rowid = max(0, int(top) - BACKLOG_ROWS)
        _, rows = run_query(
            db,
            'SELECT rowid, substr("timestamp", 1, 16), status, source, order_id, "timestamp" '
            "FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?",
            [self._last_rowid, BATCH],
        )
        if not rows:
            return 0
        delivered = [(r[1], r[3], r[4], r[5]) for r in rows if r[2] == "DELIVERED"]
        placed = _placed_times(db, [d[2] for d in delivered])
        with self._lock:
            for _, minute, status, source, _, _ in rows:
                window = self._windows.setdefault(str(minute), Window())
                window.by_status[str(status)] += 1
                window.by_source[str(source)] += 1
            for minute, source, order_id, at in delivered:
                took = _ms_between(placed.get(order_id), at)
                samples = self._windows[str(minute)].fulfilment[str(source)]
                if took is not None and len(samples) < SAMPLES_PER_WINDOW:
                    samples.append(took)
            for old in sorted(self._windows)[:-MINUTES_KEPT]:
                del self._windows[old]
        self._last_rowid = int(rows[-1][0])
        return len(rows)

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            minutes = sorted(self._windows)[-10:]
            return {"windows": [self._windows[m].to_dict(m) for m in minutes]}


def _placed_times(db: Any, order_ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(order_ids), 500):
        chunk = order_ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        _, rows = run_query(
            db, f"SELECT order_id, placed_at FROM orders WHERE order_id IN ({marks})", chunk
        )
        found.update({str(r[0]): str(r[1]) for r in rows if r[1] is not None})
    return found


def _ms_between(start: str | None, end: Any) -> int | None:
    if start is None or end is None:
        return None
    try:
        began = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        ended = dt.datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        return None
    took = int((ended - began).total_seconds() * 1000)
    return took if took >= 0 else None
