"""The live stream: Server-Sent Events fed by the one sampler, aggregates only.

Each sample becomes one `tick` event (health, rates per topic, lag per service, store rows,
analytics' totals) for every subscriber, followed by `window` events for analytics' windows
that closed (or gained a partition's figures) since the previous tick, and `alert` and
`dead-letter` events for what arrived (at most `PER_TICK` of each, newest first: a flood
of thousands of dead letters costs the page a count, not thousands of rows). A subscriber
that cannot keep up loses its oldest queued events, never blocks the others.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from pipeline.api.feeds import Feeds
from pipeline.api.sample import Sample
from pipeline.api.windows import AnalyticsWindows

PER_TICK = 20
QUEUE_SIZE = 64
KEEPALIVE_S = 15.0


def sse(event: str, data: Any) -> bytes:
    return (
        f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()
    )


class Hub:
    """Fan-out to subscribers; `publish` is called on the event loop's thread."""

    def __init__(self, feeds: Feeds, analytics: AnalyticsWindows | None = None) -> None:
        self.feeds = feeds
        self.analytics = analytics or AnalyticsWindows("")
        self._subscribers: set[asyncio.Queue[bytes]] = set()
        self._seen = {"alert": 0, "dead-letter": 0, "window": 0}
        self.published = 0

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def tick(self, sample: Sample) -> bytes:
        """The `tick` event of a sample (no side effect: a new page gets one at once)."""
        tick = sample.to_dict()
        tick["alerts_by_kind"] = self.feeds.alerts.counts()
        tick["dead_letters_by_kind"] = self.feeds.dead_letters.counts()
        tick["analytics"] = self.analytics.summary()
        return sse("tick", tick)

    def _arrivals(self) -> list[bytes]:
        """Windows changed, alerts and dead letters arrived since the last call, oldest first."""
        mark = self.analytics.seq  # first: a window changing meanwhile is sent next time too
        windows = self.analytics.changed(self._seen["window"])[-PER_TICK:]
        self._seen["window"] = mark
        messages = [sse("window", window) for window in windows]
        for name, feed in (("alert", self.feeds.alerts), ("dead-letter", self.feeds.dead_letters)):
            fresh = feed.newest(PER_TICK, after=self._seen[name])
            self._seen[name] = feed.seq
            messages.extend(sse(name, item) for item in reversed(fresh))
        return messages

    def publish(self, sample: Sample) -> None:
        if not self._subscribers:
            self._seen = {
                "alert": self.feeds.alerts.seq,
                "dead-letter": self.feeds.dead_letters.seq,
                "window": self.analytics.seq,
            }
            return
        messages = [self.tick(sample), *self._arrivals()]
        self.published += 1
        for queue in self._subscribers:
            for message in messages:
                if queue.full():
                    queue.get_nowait()  # a slow page loses its oldest event
                queue.put_nowait(message)

    async def stream(self, first: list[bytes]) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield b"retry: 2000\n\n"
            for message in first:
                yield message
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
        finally:
            self._subscribers.discard(queue)
