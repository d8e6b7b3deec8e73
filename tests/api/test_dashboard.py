"""The dashboard in a real browser (Playwright driving Debian's Chromium) on a live pipeline.

Traffic flows at 500 events/s through the three services while the page is open: the
charts must move, analytics' one-minute windows must reach the open page as they close, an
order placed through the API must be found by the search, a poison message must show in
the dead-letter feed. Needs /usr/bin/chromium (`apt-get install -y
chromium`); without it these tests fail saying so.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.api.server import running_api
from pipeline.api.settings import ApiSettings
from pipeline.config import Settings
from pipeline.devstack import stack
from pipeline.devstack import testing as devstack_testing
from tests.api.browser import browser_page, chromium_missing
from tests.api.conftest import V2, register
from tests.api.live_stack import LiveStack, live_stack
from tests.order_helpers import produce_raw

# A one-minute window closes 10 s (grace) after its end on event time: at most 70 s apart.
WINDOW_WAIT_MS = 100_000


@pytest.fixture(scope="module")
def live(
    kafka_bootstrap: str, registry_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    with live_stack(kafka_bootstrap, registry_url, tmp_path_factory.mktemp("live")) as found:
        yield found


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    missing = chromium_missing()
    if missing:
        pytest.fail(missing)
    with browser_page(tmp_path / "profile") as opened:
        yield opened


# First in the module: the page opens while the live stack's backdated traffic is still
# catching up, so analytics' first windows close (and reach the page by the stream) while
# it watches. Later in a run it waits for the next minute's window instead (bounded).
def test_analytics_windows_reach_the_open_page_as_they_close(live: LiveStack, page: Any) -> None:
    page.goto(live.url)
    page.wait_for_selector("#windows-status[data-loaded='true']", timeout=30_000)
    before = _window_starts(page)
    newest = max(before, default=0)
    page.wait_for_function(
        "(newest) => [...document.querySelectorAll('#windows-status .bar-row')]"
        ".some((row) => Number(row.dataset.start) > newest)",
        arg=newest,
        timeout=WINDOW_WAIT_MS,
    )
    assert "of 1 min (event time)" in page.inner_text("#windows-note")
    assert _window_starts(page, "#windows-source") == _window_starts(page)
    with httpx.Client(base_url=live.url, timeout=30) as http:
        agreed = _eventually_agreed(page, http)
    assert agreed, "no closed window on the page matches /analytics/windows"
    for chart, label in (("#chart-fulfilment", "p95"), ("#chart-orders", "delivered")):
        page.wait_for_selector(f"{chart} canvas")
        assert label in page.inner_text(f"{chart} .u-legend")


def _window_starts(page: Any, bars: str = "#windows-status") -> list[int]:
    starts = page.eval_on_selector_all(f"{bars} .bar-row", "rows => rows.map(r => r.dataset.start)")
    return sorted(int(s) for s in starts)


def _eventually_agreed(page: Any, http: httpx.Client) -> int:
    """How many windows the page draws with the same partitions and events as the API
    answers (asked a few times: a partition's record may land between the two reads)."""
    for _ in range(10):
        served = {w["window_start"]: w for w in http.get("/analytics/windows").json()["windows"]}
        rows = page.eval_on_selector_all(
            "#windows-status .bar-row",
            "rows => rows.map(r => [r.dataset.start, r.dataset.partitions, r.dataset.events])",
        )
        same = [
            start
            for start, partitions, events in rows
            if (w := served.get(int(start)))
            and ",".join(map(str, w["partitions"])) == partitions
            and w["events"] == int(events)
            and int(events) > 0
        ]
        if same and len(same) == len(rows):
            return len(same)
        page.wait_for_timeout(1000)
    return 0


def test_the_page_loads_with_every_part_up(live: LiveStack, page: Any) -> None:
    page.goto(live.url)
    assert page.title() == "Order pipeline"
    for part in ("api", "broker", "registry", "store"):
        page.wait_for_selector(f"#part-{part}[data-state='up']", timeout=30_000)
    page.wait_for_selector("#schemas tr[data-subject]")
    assert live.settings.topic + "-value" in page.inner_text("#schemas")


def test_the_charts_move_while_events_flow(live: LiveStack, page: Any) -> None:
    page.goto(live.url)
    page.wait_for_selector("#chart-rates canvas")
    points = "() => document.querySelector('#rates-now').textContent"
    page.wait_for_function(
        f"() => /{live.settings.topic} [1-9][0-9.]*k?\\/s/.test(({points})())", timeout=30_000
    )
    first = page.inner_text("#updated")
    page.wait_for_function(
        "(first) => document.querySelector('#updated').textContent !== first", arg=first
    )
    page.wait_for_selector("#windows-status .bar-row", timeout=30_000)
    lag = page.inner_text("#lag-now")
    assert all(group in lag for group in live.groups.values()), lag
    assert "store: events" in page.inner_text("#totals")


def test_a_placed_order_is_found_by_the_search(live: LiveStack, page: Any) -> None:
    user = f"user-{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=live.url, timeout=30) as http:
        placed = http.post("/orders", json={"user_id": user, "amount": 3.5}).json()
    page.goto(live.url)
    page.fill("#search-text", user)
    found = f"#orders li[data-order='{placed['order_id']}']"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not page.locator(found).count():
        page.click("#search button")  # the store may not have it yet: ask again
        page.wait_for_timeout(500)
    page.click(found)
    page.wait_for_selector("#timeline-table tr[data-status='PLACED']")


def test_a_poison_message_shows_in_the_dead_letter_feed(live: LiveStack, page: Any) -> None:
    page.goto(live.url)
    page.wait_for_selector("#part-api[data-state='up']")
    marker = f"poison-{uuid.uuid4().hex[:8]}"
    produce_raw(live.settings, live.settings.topic, [(b"careless", marker.encode())])
    page.wait_for_selector(f"#dead-letters li:has-text('{marker}')", timeout=30_000)
    entry = page.locator(f"#dead-letters li:has-text('{marker}')").first
    assert entry.get_attribute("data-kind") == "not-wire-format"
    assert "not Confluent wire format" in entry.inner_text()


@pytest.mark.faults
def test_a_stopped_broker_shows_as_down_and_recovers(
    registry_url: str, tmp_path: Path, page: Any
) -> None:
    own = devstack_testing.test_stack_settings(tmp_path / "kafka")
    stack.start_kafka(own)
    try:
        topic = f"down-{uuid.uuid4().hex[:8]}"
        settings = Settings(
            bootstrap_servers=own.bootstrap,
            registry_url=registry_url,
            topic=topic,
            db_path=tmp_path / "audit.db",
        )
        register(settings, V2)
        with running_api(settings, ApiSettings(port=0, sample_interval_s=0.5)) as url:
            page.goto(url)
            page.wait_for_selector("#part-broker[data-state='up']")
            stack.down(own)
            page.wait_for_selector("#part-broker[data-state='down']", timeout=30_000)
            assert own.bootstrap in page.inner_text("#down-reasons")
            stack.start_kafka(own)
            page.wait_for_selector("#part-broker[data-state='up']", timeout=60_000)
            assert "broker down" not in page.inner_text("#down-reasons")
    finally:
        stack.down(own)
