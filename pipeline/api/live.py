"""The live stream: Server-Sent Events fed by the one sampler, aggregates only.

Each sample becomes one `tick` event (health, rates per topic, lag per service, store rows)
for every subscriber, followed by `alert` and `dead-letter` events for what arrived since
the previous tick (at most `PER_TICK` of each, newest first: a flood of thousands of
dead letters costs the page a count, not thousands of rows). A subscriber that cannot keep
up loses its oldest queued events, never blocks the others.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from pipeline.api.feeds import Feeds
from pipeline.api.sampler import Sample

PER_TICK = 20
QUEUE_SIZE = 64
KEEPALIVE_S = 15.0

Extra = Callable[[], dict[str, Any]]


def sse(event: str, data: Any) -> bytes:
    return (
        f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()
    )


class Hub:
    """Fan-out to subscribers; `publish` is called on the event loop's thread."""

    def __init__(self, feeds: Feeds, extra: Extra = dict) -> None:
        self.feeds = feeds
        self.extra = extra  # more aggregates for each tick (the store's windows)
        self._subscribers: set[asyncio.Queue[bytes]] = set()
        self._seen = {"alert": 0, "dead-letter": 0}
        self.published = 0

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def tick(self, sample: Sample) -> bytes:
        """The `tick` event of a sample (no side effect: a new page gets one at once)."""
        tick = sample.to_dict()
        tick["alerts_by_kind"] = self.feeds.alerts.counts()
        tick["dead_letters_by_kind"] = self.feeds.dead_letters.counts()
        tick.update(self.extra())
        return sse("tick", tick)

    def _arrivals(self) -> list[bytes]:
        """Alerts and dead letters that arrived since the last call, oldest first."""
        messages: list[bytes] = []
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
