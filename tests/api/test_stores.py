"""The API reads whichever audit store is configured: SQLite, or PostgreSQL (a real server).

Each test runs on both: the storage service writes the store (PostgreSQL: the writer role,
in a schema of its own), the API reads it (PostgreSQL: the read-only role); every store
read the API makes is exercised: orders (filters, pages), a timeline, the statistics, the
readiness of the store, the sampler's row counts, the status of an order this API never
saw, and an idempotent retry answered from the store by an API that never saw the key.
And `api serve` as a user starts it (`--db FILE`, or `--store URL` with the read-only role)
reads the same orders and timelines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest

from pipeline.api.server import running_api
from pipeline.api.settings import ApiSettings
from pipeline.config import Settings
from pipeline.devstack.postgres import read_only_url
from pipeline.devstack.processes import free_port
from pipeline.kafka.admin import ensure_topics
from pipeline.store.pg_connect import where
from tests.api.conftest import (
    V2,
    Services,
    eventually,
    new_order,
    pipeline_settings,
    register,
    timeline_of,
)


@dataclass
class StoreApi:
    kind: str
    settings: Settings  # as the API has them: a read-only URL for PostgreSQL
    http: httpx.Client
    address: str  # where the store is, as readiness names it
    flag: list[str]  # how `api serve` is told where the store is


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def on_store(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    registry_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[StoreApi]:
    settings = pipeline_settings(kafka_bootstrap, registry_url, tmp_path_factory.mktemp("store"))
    with ExitStack() as stack:
        writing = reading = settings
        address = str(settings.db_path)
        flag = ["--db", address]
        if request.param == "postgresql":
            from tests.store.targets import throwaway_schema

            url = stack.enter_context(throwaway_schema(request.getfixturevalue("pg_database")))
            writing = settings.with_(store_url=url)
            reading = settings.with_(store_url=read_only_url(url))
            address = where(url)
            flag = ["--store", str(reading.store_url)]
        register(settings, V2)
        ensure_topics(settings, {settings.topic: 3})
        stack.enter_context(Services(writing, only=("storage",)))
        url = stack.enter_context(running_api(reading, ApiSettings(port=0, sample_interval_s=0.5)))
        http = stack.enter_context(httpx.Client(base_url=url, timeout=30))
        yield StoreApi(request.param, reading, http, address, flag)


def test_orders_filters_and_pages(on_store: StoreApi) -> None:
    http = on_store.http
    user = f"user-{uuid.uuid4().hex[:6]}"
    web = [new_order(http, user_id=user, source="WEB")["order_id"] for _ in range(3)]
    api = new_order(http, user_id=user, source="API")["order_id"]
    assert http.post(f"/orders/{api}/status", json={"status": "CONFIRMED"}).status_code == 202
    eventually(lambda: timeline_of(http, api, 2), what="stored")
    eventually(lambda: all(timeline_of(http, o, 1) for o in web), what="stored")

    def ids(**params: object) -> list[str]:
        found = http.get("/orders", params={"user_id": user, **params})
        assert found.status_code == 200, found.text
        return [o["order_id"] for o in found.json()["orders"]]

    assert ids() == [api, *reversed(web)]  # newest first
    assert ids(source="WEB") == list(reversed(web))
    assert ids(status="CONFIRMED") == [api]
    assert ids(status="CONFIRMED", source="WEB") == []
    assert set(ids(since="2000-01-01T00:00:00Z")) == {*web, api}
    assert ids(until="2000-01-01T00:00:00Z") == []
    seen, cursor = [], None
    for _ in range(4):
        params = {"user_id": user, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = http.get("/orders", params=params).json()
        seen += [o["order_id"] for o in page["orders"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [api, *reversed(web)]
    listed = http.get("/orders", params={"user_id": user, "source": "API"}).json()["orders"]
    assert listed[0]["status"] == "CONFIRMED" and listed[0]["source"] == "API"
    assert listed[0]["placed_at"].endswith("Z")


def test_a_timeline_and_the_order_row(on_store: StoreApi) -> None:
    http = on_store.http
    placed = new_order(http, amount=42.5, currency="GBP")
    for status in ("CONFIRMED", "SHIPPED"):
        assert (
            http.post(f"/orders/{placed['order_id']}/status", json={"status": status}).status_code
            == 202
        )
    events = eventually(lambda: timeline_of(http, placed["order_id"], 3), what="stored")
    assert [e["status"] for e in events] == ["PLACED", "CONFIRMED", "SHIPPED"]
    assert events[0]["amount"] == 42.5 and events[0]["currency"] == "GBP"
    assert events[0]["schema_version"] == 1 and events[0]["timestamp"].endswith("Z")
    row = http.get(f"/orders/{placed['order_id']}").json()["order"]
    assert row["status"] == "SHIPPED" and row["shipped_at"].endswith("Z")
    assert http.get(f"/orders/{uuid.uuid4()}").status_code == 404


def test_statistics_readiness_and_row_counts(on_store: StoreApi) -> None:
    http = on_store.http
    placed = new_order(http, source="MOBILE")
    eventually(lambda: timeline_of(http, placed["order_id"], 1), what="stored")
    stats = http.get("/store/stats")
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["rows"]["events"] >= 1 and body["rows"]["orders"] >= 1
    assert any(row["source"] == "MOBILE" for row in body["tables"]["events by source"])
    assert body["tables"]["events per minute (event time, latest 10)"][0]["events"] >= 1
    ready = eventually(
        lambda: (r := http.get("/ready")).status_code == 200 and r.json(), what="ready"
    )
    assert ready["parts"]["store"] == {"up": True, "address": on_store.address, "reason": ""}
    rows = eventually(
        lambda: http.get("/live").json()["store_rows"].get("events"), what="row counts"
    )
    assert rows >= 1
    metrics = http.get("/metrics").text
    assert 'order_pipeline_store_rows{table="events"}' in metrics


def test_the_store_answers_for_what_this_api_never_saw(on_store: StoreApi) -> None:
    http = on_store.http
    key = {"Idempotency-Key": f"checkout-{uuid.uuid4()}"}
    body = {"user_id": "user-store", "source": "API", "amount": 7.0}
    first = http.post("/orders", json=body, headers=key).json()
    order_id = first["order_id"]
    assert http.post(f"/orders/{order_id}/status", json={"status": "CONFIRMED"}).status_code == 202
    eventually(lambda: timeline_of(http, order_id, 2), what="stored")
    # Another API instance: it knows neither the key nor the order, only the store does.
    with (
        running_api(on_store.settings, ApiSettings(port=0)) as url,
        httpx.Client(base_url=url, timeout=30) as other,
    ):
        again = other.post("/orders", json=body, headers=key)
        assert again.status_code == 202, again.text
        assert again.json()["event_id"] == first["event_id"]
        assert again.json()["replayed"] is True
        refused = other.post(f"/orders/{order_id}/status", json={"status": "CONFIRMED"})
        assert refused.status_code == 409
        assert "CONFIRMED -> CONFIRMED" in refused.json()["error"]
        shipped = other.post(f"/orders/{order_id}/status", json={"status": "SHIPPED"})
        assert shipped.status_code == 202, shipped.text


def test_api_serve_reads_the_store_it_is_named(on_store: StoreApi) -> None:
    http = on_store.http
    user = f"user-{uuid.uuid4().hex[:6]}"
    placed = new_order(http, user_id=user, source="API", amount=19.0)
    order_id = placed["order_id"]
    assert http.post(f"/orders/{order_id}/status", json={"status": "CONFIRMED"}).status_code == 202
    eventually(lambda: timeline_of(http, order_id, 2), what="stored")
    settings, port = on_store.settings, free_port()
    command = [sys.executable, "-m", "pipeline", "--bootstrap-servers"]
    command += [settings.bootstrap_servers, "--registry-url", settings.registry_url]
    command += ["api", "serve", "--port", str(port), "--topic", settings.topic, *on_store.flag]
    # Only the flags say where the store is: none of the user's own settings.
    env = {k: v for k, v in os.environ.items() if k not in ("AUDIT_DB", "AUDIT_STORE_URL")}
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        ready = eventually(
            lambda: (found := _ready_store(url)) and found["up"] and found,
            what="api serve finds its store",
        )
        assert ready == {"up": True, "address": on_store.address, "reason": ""}
        with httpx.Client(base_url=url, timeout=30) as served:
            listed = served.get("/orders", params={"user_id": user}).json()["orders"]
            assert [(o["order_id"], o["status"], o["source"]) for o in listed] == [
                (order_id, "CONFIRMED", "API")
            ]
            timeline = served.get(f"/orders/{order_id}").json()["timeline"]
            assert [e["status"] for e in timeline] == ["PLACED", "CONFIRMED"]
            assert timeline[0]["amount"] == 19.0 and timeline[0]["user_id"] == user
            assert served.get("/store/stats").json()["rows"]["events"] >= 2
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode()
    assert "API stopped after" in output, output


def _ready_store(url: str) -> dict[str, object] | None:
    """The store's part of /ready once `api serve` answers and has looked, else None."""
    try:
        store = httpx.get(f"{url}/ready", timeout=5).json()["parts"]["store"]
    except httpx.TransportError:
        return None
    return None if store["reason"] == "not checked yet" else dict(store)
