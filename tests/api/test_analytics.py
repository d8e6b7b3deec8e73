"""Analytics' windows and totals through the API, from the real stats topic.

Analytics runs on the real broker while the API reads its stats topic: the windows and
totals the API serves must be those a pure replay of analytics' rules over the input gives
(merged across partitions, as `python cli.py stats` merges them), and the live stream must
push each window as it closes.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx

from pipeline.api.server import running_api
from pipeline.api.settings import ApiSettings
from pipeline.config import Settings
from pipeline.producer import ProduceOptions, produce
from pipeline.services.analytics import Analytics
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.stats import merge
from pipeline.services.windows import Windowing
from tests.api.conftest import eventually
from tests.order_helpers import register_v1
from tests.services.stateful_helpers import expected_windows, input_events

# The generator's clock moves ~20 ms per event: a 2 s window holds ~100 events.
WINDOWING = Windowing(size_ms=2_000, grace_ms=300)
EVENTS = 1_200


def run_analytics(settings: Settings) -> None:
    options = RunOptions(
        max_events=EVENTS,
        handle_signals=False,
        idle_timeout_s=30,
        group_id=f"{settings.topic}-an",
        batch_size=50,
    )
    Runner(settings, Analytics(settings, windowing=WINDOWING), options).run()


class Finished:
    """Set when analytics is done; the stream is read a few seconds longer."""

    def __init__(self) -> None:
        self.at: float | None = None

    def long_ago(self) -> bool:
        return self.at is not None and time.monotonic() > self.at + 3


def stream_events(http: httpx.Client, finished: Finished, timeout_s: float = 120) -> list[Any]:
    """(event, data) of the live stream, until a tick a while after analytics finished."""
    received: list[Any] = []
    deadline = time.monotonic() + timeout_s
    with http.stream("GET", "/events/stream") as stream:
        event = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                received.append((event, json.loads(line[6:])))
                if event == "tick" and finished.long_ago():
                    break
            if time.monotonic() > deadline:
                break
    return received


def test_windows_and_totals_are_analytics_own_and_pushed_as_they_close(
    settings: Settings,
) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=EVENTS, orders=30, seed=11, start_ms=0))
    api = ApiSettings(port=0, sample_interval_s=0.5)
    with running_api(settings, api) as url, httpx.Client(base_url=url, timeout=30) as http:
        finished = Finished()
        streamed: list[Any] = []
        reader = threading.Thread(target=lambda: streamed.extend(stream_events(http, finished)))
        reader.start()
        time.sleep(1.0)  # the page is open before analytics closes its first window
        run_analytics(settings)
        finished.at = time.monotonic()
        expected = json.loads(
            json.dumps(merge(expected_windows(input_events(settings), WINDOWING)[0]).to_dict())
        )
        assert len(expected["windows"]) > 8

        def served() -> dict[str, Any] | None:
            found = http.get("/analytics/windows", params={"limit": 120}).json()
            return found if found["windows"] == expected["windows"] else None

        body = eventually(served, what="the API serves every closed window")
        assert body["topic"] == settings.stats_topic
        assert body["window_ms"] == 2_000
        assert body["partitions"] == expected["partitions"]
        totals = http.get("/analytics/totals").json()
        assert totals["totals"] == expected["totals"]
        assert totals["totals"]["events"] < EVENTS  # as of each partition's last closed window
        reader.join(timeout=60)

    pushed: dict[int, Any] = {}
    for event, data in streamed:
        if event == "window":
            pushed[data["window_start"]] = data  # each window as last pushed
    assert list(pushed.values()) == expected["windows"]
    ticks = [data for event, data in streamed if event == "tick"]
    assert ticks[-1]["analytics"]["totals"] == expected["totals"]


def test_the_page_limit_is_bounded(settings: Settings) -> None:
    with (
        running_api(settings, ApiSettings(port=0)) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        empty = http.get("/analytics/windows").json()
        assert empty["windows"] == [] and empty["topic"] == settings.stats_topic
        assert http.get("/analytics/windows", params={"limit": 0}).status_code == 422
        assert http.get("/analytics/windows", params={"limit": 10_000}).status_code == 422
        assert http.get("/analytics/totals").json()["totals"]["events"] == 0
