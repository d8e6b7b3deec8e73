"""Analytics' closed windows, merged across partitions as they arrive (pure; no I/O).

Analytics writes each input partition's windows once, as `order_stats` records, when the
partition's event time passes their end and grace. A minute's figures therefore come as
one record per partition, at different moments: each record updates its merged window
(`services.stats.merge`, the merge `python cli.py stats` uses: counts added, percentiles
from the merged histograms), and each change gets a sequence number, so the live stream
sends a page the windows that changed since its last tick. The totals are the sum of each
partition's latest running totals. A window done again (at-least-once) replaces its first
record instead of counting twice. Only the latest `kept` windows are held.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from pipeline.services.stats import MergedWindow, merge
from pipeline.services.windows import ClosedWindow

KEPT = 120  # windows held (two hours of one-minute windows)
SHOWN = 30  # windows a request gets unless it asks for more


@dataclass
class AnalyticsWindows:
    topic: str
    kept: int = KEPT
    records: int = 0  # order_stats records taken
    undecodable: int = 0  # records that were not order_stats (skipped, counted)
    seq: int = 0
    _by_start: dict[int, dict[int, ClosedWindow]] = field(default_factory=dict)
    _changed_at: dict[int, int] = field(default_factory=dict)  # window start → seq
    _latest: dict[int, ClosedWindow] = field(default_factory=dict)  # partition → window
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, window: ClosedWindow) -> None:
        with self._lock:
            self.records += 1
            known = self._latest.get(window.partition)
            if known is None or window.stream_time_ms >= known.stream_time_ms:
                self._latest[window.partition] = window
            starts = self._by_start
            if window.start_ms not in starts and len(starts) >= self.kept:
                if window.start_ms < min(starts):
                    return  # older than every window held: its totals still count
                del self._changed_at[min(starts)], starts[min(starts)]
            starts.setdefault(window.start_ms, {})[window.partition] = window
            self.seq += 1
            self._changed_at[window.start_ms] = self.seq

    def windows(self, limit: int = SHOWN) -> list[dict[str, Any]]:
        """The latest `limit` merged windows, oldest first."""
        with self._lock:
            starts = sorted(self._by_start)[-limit:] if limit > 0 else []
            return [self._merged(start).to_dict() for start in starts]

    def changed(self, after: int) -> list[dict[str, Any]]:
        """The merged windows that changed after sequence number `after`, oldest first."""
        with self._lock:
            starts = sorted(s for s, seq in self._changed_at.items() if seq > after)
            return [self._merged(start).to_dict() for start in starts]

    def summary(self) -> dict[str, Any]:
        """Totals, partitions and the window size: what every tick of the stream carries."""
        with self._lock:
            picture = merge(self._latest.values())
            sizes = [w.end_ms - w.start_ms for w in self._latest.values()]
            return {
                "topic": self.topic,
                "window_ms": max(sizes) if sizes else None,
                "partitions": picture.partitions,
                "records": self.records,
                "undecodable": self.undecodable,
                "last_closed": max((w.end_ms for w in self._latest.values()), default=None),
                "totals": picture.to_dict()["totals"],
            }

    def _merged(self, start: int) -> MergedWindow:
        return merge(self._by_start[start].values()).windows[0]
