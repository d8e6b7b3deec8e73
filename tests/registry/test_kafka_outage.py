"""The registry through a Kafka outage, on a broker of this module's own (SIGKILLed and
started again): it says it is not ready while Kafka is away, answers writes with a 5xx in
bounded time instead of hanging, and writes again within seconds of Kafka's return, with no
restart. A write whose fate was unknown is settled by reading `_schemas`: a client that
retries gets the id that was stored, never a second version of the same schema.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pipeline.devstack import stack
from pipeline.devstack.layout import DevStackSettings
from pipeline.registry.server import RegistryServer
from tests.killable_broker import kill_broker
from tests.registry.helpers import call, field, own_server, record, register

pytestmark = pytest.mark.faults
A = record("OutageA", field("id", "string"))
B = record("OutageB", field("id", "string"))
C = record("OutageC", field("id", "string"))


@pytest.fixture
def registry(own_broker: DevStackSettings) -> Iterator[RegistryServer]:
    with own_server(own_broker.bootstrap) as server:
        yield server


def until(check: Callable[[], Any], timeout_s: float, interval_s: float = 0.5) -> Any:
    """The first truthy `check()`, asked until `timeout_s` passes (bounded); else None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(interval_s)
    return None


def registered(url: str, subject: str, schema: str) -> dict[str, Any] | None:
    """The registration's answer, or None for an error or no answer within 15 s."""
    try:
        status, body = call(url, "POST", f"/subjects/{subject}/versions", {"schema": schema})
    except TimeoutError:
        return None
    return dict(body) if status == 200 else None


def test_writes_work_again_within_seconds_of_kafka_returning(
    registry: RegistryServer, own_broker: DevStackSettings
) -> None:
    url = registry.url
    assert register(url, "outage-a", A) == {"id": 1, "version": 1}
    kill_broker(own_broker)

    began = time.monotonic()
    status, body = call(url, "POST", "/subjects/outage-b/versions", {"schema": B})
    assert status >= 500 and body["error_code"] in (50001, 50002), body
    assert time.monotonic() - began < 15  # an answer, not a hang
    assert call(url, "GET", "/schemas/ids/1")[0] == 200  # reads go on from memory

    stack.start_kafka(own_broker)  # same data, same port
    back = time.monotonic()
    # The client retries its registration; whether the attempt during the outage was
    # stored or not, it gets one id and one version, read from `_schemas`.
    retried = until(lambda: registered(url, "outage-b", B), timeout_s=60)
    assert retried == {"id": 2, "version": 1}, "no registration succeeded within 60 s"
    assert time.monotonic() - back < 30
    assert call(url, "GET", "/subjects/outage-b/versions") == (200, [1])
    # And the registry is not wedged: the next writes go through at once.
    for subject, schema, expected in (("outage-c", C, 3), ("outage-d", B, 2)):
        began = time.monotonic()
        assert register(url, subject, schema)["id"] == expected
        assert time.monotonic() - began < 15  # wedged, it never answered; loaded: seconds


def test_readiness_says_kafka_is_away_and_recovers_by_itself(
    registry: RegistryServer, own_broker: DevStackSettings
) -> None:
    url = registry.url
    status, body = call(url, "GET", "/ready")
    assert status == 200 and body["ready"] is True, body
    assert body["writer"] == body["instance"]  # this instance is the one that writes

    kill_broker(own_broker)
    down = until(lambda: call(url, "GET", "/ready")[0] == 503, timeout_s=20)
    assert down, "readiness still said ready 20 s after the broker died"
    status, body = call(url, "GET", "/ready")
    assert status == 503 and body["error_code"] == 50301
    assert own_broker.bootstrap in body["message"], body  # names what it cannot reach

    stack.start_kafka(own_broker)
    assert until(lambda: call(url, "GET", "/ready")[0] == 200, timeout_s=30)
    assert register(url, "outage-ready", A)["id"] >= 1
