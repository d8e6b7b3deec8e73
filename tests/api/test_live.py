"""The live stream's fan-out (pure: no server): every page gets every tick and arrival."""

from __future__ import annotations

import asyncio
import json
import time

from pipeline.api.feeds import Feeds
from pipeline.api.health import PartHealth
from pipeline.api.live import Hub
from pipeline.api.sample import Sample
from pipeline.api.windows import AnalyticsWindows
from pipeline.config import Settings
from pipeline.services.windows import ClosedWindow


def sample() -> Sample:
    return Sample(time.time(), {"broker": PartHealth("broker", True, "127.0.0.1:9092")})


def events(raw: list[bytes]) -> list[tuple[str, dict[str, object]]]:
    found = []
    for message in raw:
        lines = message.decode().splitlines()
        if lines and lines[0].startswith("event: "):
            found.append((lines[0][7:], json.loads(lines[1][6:])))
    return found


def test_a_page_connecting_takes_no_arrival_from_the_others() -> None:
    async def scenario() -> list[tuple[str, dict[str, object]]]:
        hub = Hub(Feeds(Settings(), 10))
        first = hub.stream([])
        await anext(first)  # subscribed
        hub.feeds.alerts.add({"kind": "DUPLICATE", "order_id": "o-1"})
        hub.tick(sample())  # a second page connects and gets the current tick
        hub.publish(sample())
        return events([await anext(first), await anext(first)])

    received = asyncio.run(scenario())
    assert [name for name, _ in received] == ["tick", "alert"]
    assert received[1][1]["order_id"] == "o-1"


def test_a_flood_costs_a_page_at_most_a_few_rows_per_tick() -> None:
    async def scenario() -> list[tuple[str, dict[str, object]]]:
        hub = Hub(Feeds(Settings(), 500))
        page = hub.stream([])
        await anext(page)
        for i in range(300):
            hub.feeds.dead_letters.add({"kind": "corrupt-avro", "offset": i})
        hub.publish(sample())
        return events([await anext(page) for _ in range(21)])

    received = asyncio.run(scenario())
    tick = received[0][1]
    assert tick["dead_letters_by_kind"] == {"corrupt-avro": 300}
    letters = [body["offset"] for name, body in received[1:] if name == "dead-letter"]
    assert letters == list(range(280, 300))  # the newest twenty, oldest first


def test_windows_are_pushed_as_they_close_and_each_tick_carries_the_totals() -> None:
    from tests.api.test_windows import closed_windows

    closed = sorted(closed_windows(), key=lambda w: w.stream_time_ms)

    async def scenario() -> list[tuple[str, dict[str, object]]]:
        analytics = AnalyticsWindows("t.stats")
        hub = Hub(Feeds(Settings(), 10), analytics)
        for window in closed[:-3]:
            analytics.add(window)  # closed before the page connected: not pushed
        hub.publish(sample())  # a tick with no page open
        page = hub.stream([])
        await anext(page)
        hub.publish(sample())
        for window in closed[-3:]:
            analytics.add(window)
        hub.publish(sample())
        return events(
            [await anext(page) for _ in range(2 + len({w.start_ms for w in closed[-3:]}))]
        )

    received = asyncio.run(scenario())
    assert [name for name, _ in received[:2]] == ["tick", "tick"]
    pushed = [body for name, body in received[2:] if name == "window"]
    assert [w["window_start"] for w in pushed] == sorted({w.start_ms for w in closed[-3:]})
    assert received[1][1]["analytics"] == summary_of(closed)


def summary_of(closed: list[ClosedWindow]) -> dict[str, object]:
    every = AnalyticsWindows("t.stats")
    for window in closed:
        every.add(window)
    return json.loads(json.dumps(every.summary()))
