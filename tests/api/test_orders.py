"""Orders over HTTP against the real stack: placed, stored, moved on, refused, retried."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from pipeline.api.server import running_api
from pipeline.api.settings import ApiSettings
from pipeline.config import Settings
from tests.api.conftest import (
    V2,
    V3,
    ApiUnderTest,
    eventually,
    new_order,
    register,
    timeline_of,
)
from tests.order_helpers import read_all


def test_a_placed_order_is_stored_and_shows_in_its_timeline(
    pipeline_under_api: ApiUnderTest,
) -> None:
    http = pipeline_under_api.http
    placed = new_order(http, user_id="user-timeline", amount=99.9, currency="GBP")
    assert placed["status"] == "PLACED" and placed["replayed"] is False
    assert placed["schema_version"] == 1  # the only version registered under this subject
    events = eventually(lambda: timeline_of(http, placed["order_id"], 1), what="stored")
    assert events[0]["status"] == "PLACED"
    assert events[0]["amount"] == 99.9 and events[0]["currency"] == "GBP"

    for status in ("CONFIRMED", "SHIPPED"):
        moved = http.post(f"/orders/{placed['order_id']}/status", json={"status": status})
        assert moved.status_code == 202, moved.text
        assert moved.json()["status"] == status
    events = eventually(lambda: timeline_of(http, placed["order_id"], 3), what="moves stored")
    assert [e["status"] for e in events] == ["PLACED", "CONFIRMED", "SHIPPED"]
    assert all(e["user_id"] == "user-timeline" for e in events)

    listed = http.get("/orders", params={"user_id": "user-timeline"}).json()
    assert [o["order_id"] for o in listed["orders"]] == [placed["order_id"]]
    assert listed["orders"][0]["status"] == "SHIPPED"
    assert listed["orders"][0]["source"] == "WEB"


def test_an_illegal_transition_is_refused_with_the_reason(
    pipeline_under_api: ApiUnderTest,
) -> None:
    http = pipeline_under_api.http
    placed = new_order(http)
    refused = http.post(f"/orders/{placed['order_id']}/status", json={"status": "DELIVERED"})
    assert refused.status_code == 409
    assert "after PLACED comes CONFIRMED" in refused.json()["error"]
    # The refusal produced nothing: the order moves on from PLACED as if it never happened.
    assert (
        http.post(f"/orders/{placed['order_id']}/status", json={"status": "CONFIRMED"}).status_code
        == 202
    )


def test_the_store_tells_the_status_when_this_api_never_saw_the_order(
    pipeline_under_api: ApiUnderTest,
) -> None:
    env = pipeline_under_api
    placed = new_order(env.http)
    assert (
        env.http.post(
            f"/orders/{placed['order_id']}/status", json={"status": "CONFIRMED"}
        ).status_code
        == 202
    )
    eventually(lambda: timeline_of(env.http, placed["order_id"], 2), what="stored")
    # A second API instance (another process, or this one restarted) knows only the store.
    with running_api(env.settings, ApiSettings(port=0)) as url, httpx.Client(base_url=url) as other:
        again = other.post(f"/orders/{placed['order_id']}/status", json={"status": "CONFIRMED"})
        assert again.status_code == 409
        assert "CONFIRMED -> CONFIRMED" in again.json()["error"]
        assert (
            other.post(
                f"/orders/{placed['order_id']}/status", json={"status": "SHIPPED"}
            ).status_code
            == 202
        )


def test_an_unknown_order_is_404(pipeline_under_api: ApiUnderTest) -> None:
    missing = str(uuid.uuid4())
    answer = pipeline_under_api.http.post(f"/orders/{missing}/status", json={"status": "SHIPPED"})
    assert answer.status_code == 404
    assert missing in answer.json()["error"]
    assert pipeline_under_api.http.get(f"/orders/{missing}").status_code == 404


def test_a_retried_request_produces_nothing_twice_even_after_a_restart(
    pipeline_under_api: ApiUnderTest,
) -> None:
    env = pipeline_under_api
    key = {"Idempotency-Key": f"checkout-{uuid.uuid4()}"}
    body = {"user_id": "user-retry", "source": "MOBILE", "amount": 5.0}
    first = env.http.post("/orders", json=body, headers=key)
    second = env.http.post("/orders", json=body, headers=key)
    assert first.status_code == second.status_code == 202
    assert second.json()["order_id"] == first.json()["order_id"]
    assert second.json()["event_id"] == first.json()["event_id"]
    assert second.json()["replayed"] is True
    order_id = first.json()["order_id"]
    eventually(lambda: timeline_of(env.http, order_id, 1), what="stored")

    # A fresh API process has no memory of the key: the store answers for it.
    with running_api(env.settings, ApiSettings(port=0)) as url, httpx.Client(base_url=url) as other:
        third = other.post("/orders", json=body, headers=key)
        assert third.status_code == 202
        assert third.json()["event_id"] == first.json()["event_id"]
        assert third.json()["replayed"] is True

    records = read_all(env.settings, env.settings.topic, expected=10_000, timeout=5)
    keyed = [m for m in records if m.key() == order_id.encode()]
    assert len(keyed) == 1


def test_one_key_for_two_different_requests_is_refused(pipeline_under_api: ApiUnderTest) -> None:
    http = pipeline_under_api.http
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    assert http.post("/orders", json={"user_id": "a"}, headers=key).status_code == 202
    reused = http.post("/orders", json={"user_id": "b"}, headers=key)
    assert reused.status_code == 422
    assert "Idempotency-Key" in reused.json()["error"]


def test_cancelled_needs_the_schema_version_that_carries_it(
    settings: Settings, tmp_path: Path
) -> None:
    register(settings, V2)
    with running_api(settings, ApiSettings(port=0)) as url, httpx.Client(base_url=url) as http:
        placed = new_order(http)
        refused = http.post(f"/orders/{placed['order_id']}/status", json={"status": "CANCELLED"})
        assert refused.status_code == 409
        error = refused.json()["error"]
        assert "order_event v3" in error and "schemas/order_event.v3.avsc" in error
        assert "version 1" in error  # the latest registered under the subject, named too

        register(settings, V3)
        cancelled = eventually(
            lambda: _accepted(http, placed["order_id"], "CANCELLED"),
            timeout_s=15,
            what="CANCELLED accepted once v3 is registered",
        )
        assert cancelled["schema_version"] == 2
        after = http.post(f"/orders/{placed['order_id']}/status", json={"status": "CONFIRMED"})
        assert after.status_code == 409
        assert "nothing follows CANCELLED" in after.json()["error"]


def _accepted(http: httpx.Client, order_id: str, status: str) -> dict[str, object] | None:
    answer = http.post(f"/orders/{order_id}/status", json={"status": status})
    return answer.json() if answer.status_code == 202 else None
