"""Reading through the API: orders and pages, alerts, dead letters, schemas, groups, metrics,
readiness and the live stream, all from the real broker, registry and store."""

from __future__ import annotations

import json
import time
import uuid
from itertools import islice

from pipeline import registry_client
from pipeline.events import generate_events
from pipeline.producer import ProduceOptions, send_events
from pipeline.serde import AvroEncoder
from tests.api.conftest import V2, V3, ApiUnderTest, eventually, new_order, timeline_of
from tests.order_helpers import produce_raw
from tests.paths import SCHEMAS


def test_orders_page_newest_first_with_a_cursor(pipeline_under_api: ApiUnderTest) -> None:
    http = pipeline_under_api.http
    user = f"user-pages-{uuid.uuid4().hex[:6]}"
    placed = [new_order(http, user_id=user, source="MOBILE")["order_id"] for _ in range(5)]
    eventually(lambda: timeline_of(http, placed[-1], 1), what="stored")
    eventually(
        lambda: len(http.get("/orders", params={"user_id": user}).json()["orders"]) == 5,
        what="all five listed",
    )
    seen, cursor, pages = [], None, 0
    while pages < 5:
        params = {"user_id": user, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = http.get("/orders", params=params).json()
        seen += [o["order_id"] for o in page["orders"]]
        cursor, pages = page["next_cursor"], pages + 1
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(placed))  # UUIDv7 ids: newest first


def test_orders_filter_by_status_source_and_time(pipeline_under_api: ApiUnderTest) -> None:
    http = pipeline_under_api.http
    user = f"user-filter-{uuid.uuid4().hex[:6]}"
    web = new_order(http, user_id=user, source="WEB")["order_id"]
    api = new_order(http, user_id=user, source="API")["order_id"]
    assert http.post(f"/orders/{api}/status", json={"status": "CONFIRMED"}).status_code == 202
    eventually(lambda: timeline_of(http, api, 2), what="stored")
    eventually(lambda: timeline_of(http, web, 1), what="stored")

    def ids(**params: str) -> list[str]:
        found = http.get("/orders", params={"user_id": user, **params})
        assert found.status_code == 200, found.text
        return [o["order_id"] for o in found.json()["orders"]]

    assert ids(source="WEB") == [web]
    assert ids(status="CONFIRMED") == [api]
    assert ids(status="CONFIRMED", source="WEB") == []
    assert set(ids(since="2000-01-01T00:00:00Z")) == {web, api}
    assert ids(until="2000-01-01T00:00:00Z") == []


def test_store_statistics(pipeline_under_api: ApiUnderTest) -> None:
    new_order(pipeline_under_api.http)
    stats = eventually(
        lambda: (s := pipeline_under_api.http.get("/store/stats")).status_code == 200 and s.json(),
        what="stats",
    )
    assert stats["rows"]["events"] >= 1
    assert "events by status" in stats["tables"]


def test_alerts_are_decoded_newest_first(pipeline_under_api: ApiUnderTest) -> None:
    env = pipeline_under_api
    stray = next(e for e in generate_events(seed=3) if e["status"] == "SHIPPED")
    with registry_client.connected(env.settings) as client:
        subject = registry_client.value_subject(env.settings.topic)
        encoder = AvroEncoder.for_subject(client, subject, V2.read_text())
    send_events(env.settings, encoder, islice([stray], 1), ProduceOptions(count=1))

    def found() -> dict[str, object] | None:
        alerts = env.http.get("/alerts", params={"kind": "UNKNOWN_ORDER"}).json()["alerts"]
        return next((a for a in alerts if a["order_id"] == stray["order_id"]), None)

    alert = eventually(found, what="the UNKNOWN_ORDER alert")
    assert alert["status"] == "SHIPPED" and alert["topic"] == env.settings.topic
    assert isinstance(alert["detected_at"], int)
    assert env.http.get("/alerts").json()["by_kind"]["UNKNOWN_ORDER"] >= 1


def test_dead_letters_say_what_where_and_show_the_payload(
    pipeline_under_api: ApiUnderTest,
) -> None:
    env = pipeline_under_api
    marker = f"not an event {uuid.uuid4().hex[:6]}"
    produce_raw(env.settings, env.settings.topic, [(b"careless", marker.encode())])

    def found() -> list[dict[str, object]]:
        letters = env.http.get("/dead-letters", params={"limit": 200}).json()["dead_letters"]
        return [d for d in letters if d["preview"]["text"] == marker]

    letters = eventually(lambda: len(found()) == 2 and found(), what="one letter per service")
    assert {d["service"] for d in letters} == {"storage", "order-processor"}
    for letter in letters:
        assert letter["kind"] == "not-wire-format"
        assert "wire format" in letter["reason"]
        assert letter["origin"]["topic"] == env.settings.topic
        assert letter["origin"]["offset"] is not None
        assert letter["key"] == "careless" and letter["size"] == len(marker)


def test_schemas_versions_diff_matrix_and_a_dry_run(pipeline_under_api: ApiUnderTest) -> None:
    env = pipeline_under_api
    subject = f"api-lab-{uuid.uuid4().hex[:6]}-value"
    with registry_client.connected(env.settings) as client:
        for path in (V2, V3):
            registry_client.register(client, subject, path.read_text())
    listed = env.http.get("/schemas").json()
    mine = next(s for s in listed["subjects"] if s["subject"] == subject)
    assert [v["version"] for v in mine["versions"]] == [1, 2] and mine["level"] == "BACKWARD"

    latest = env.http.get("/schemas/version", params={"subject": subject}).json()
    assert latest["version"] == 2 and "CANCELLED" in json.dumps(latest["schema"])
    changes = env.http.get("/schemas/diff", params={"subject": subject, "old": 1, "new": 2})
    assert any("CANCELLED" in c["text"] for c in changes.json()["changes"])
    matrix = env.http.get("/schemas/matrix", params={"subject": subject, "old": 1, "new": 2})
    verdicts = {row["level"]: row["accepted"] for row in matrix.json()["levels"]}
    assert len(verdicts) == 7
    assert verdicts["BACKWARD"] and not verdicts["FORWARD"] and not verdicts["FULL"]

    breaking = (SCHEMAS / "order_event.breaking.avsc").read_text()
    check = env.http.post("/schemas/check", json={"schema": breaking, "subject": subject})
    assert check.status_code == 200 and check.json()["compatible"] is False
    assert any("user_id" in reason for reason in check.json()["reasons"])
    assert env.http.get("/schemas/version", params={"subject": subject}).json()["version"] == 2
    bad = env.http.post("/schemas/check", json={"schema": '{"type": "recrod"}'})
    assert bad.status_code == 422 and "not a valid Avro schema" in bad.json()["error"]
    missing = env.http.get("/schemas/version", params={"subject": "no-such-subject"})
    assert missing.status_code == 404


def test_groups_show_lag_per_partition(pipeline_under_api: ApiUnderTest) -> None:
    env = pipeline_under_api
    new_order(env.http)
    storage = env.groups["storage"]

    def caught_up() -> dict[str, object] | None:
        found = env.http.get(f"/groups/{storage}").json()
        return found if found["partitions"] and found["lag"] == 0 else None

    group = eventually(caught_up, what="storage caught up")
    assert {p["topic"] for p in group["partitions"]} == {env.settings.topic}
    assert all(p["end"] >= p["committed"] for p in group["partitions"])
    listed = env.http.get("/groups").json()["groups"]
    assert any(g["group"] == storage and g["lag"] == 0 for g in listed)


def test_metrics_and_readiness(pipeline_under_api: ApiUnderTest) -> None:
    env = pipeline_under_api
    new_order(env.http)
    ready = eventually(
        lambda: (r := env.http.get("/ready")).status_code == 200 and r.json(), what="ready"
    )
    assert all(part["up"] for part in ready["parts"].values())

    def metrics() -> str | None:
        text = env.http.get("/metrics").text
        return text if "order_pipeline_store_rows" in text else None

    text = eventually(metrics, what="metrics with store rows")
    storage = env.groups["storage"]
    assert 'order_pipeline_up{part="broker"} 1.0' in text
    assert f'order_pipeline_group_lag{{group="{storage}",topic="{env.settings.topic}"}}' in text
    assert f'order_pipeline_group_consumed_total{{group="{storage}"' in text
    assert 'order_pipeline_store_rows{table="events"}' in text
    assert 'order_pipeline_api_orders_total{outcome="placed"}' in text
    assert "order_pipeline_registry_requests_total" in text


def test_the_live_stream_sends_ticks_of_aggregates(pipeline_under_api: ApiUnderTest) -> None:
    env = pipeline_under_api
    ticks: list[dict[str, object]] = []
    deadline = time.monotonic() + 15
    with env.http.stream("GET", "/events/stream") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "tick":
                ticks.append(json.loads(line[6:]))
            if len(ticks) >= 3 or time.monotonic() > deadline:
                break
    assert len(ticks) >= 3
    last = ticks[-1]
    assert set(last["health"]) == {"broker", "registry", "store"}  # type: ignore[arg-type]
    assert env.settings.topic in last["topics"]  # type: ignore[operator]
    assert env.groups["storage"] in last["groups"]  # type: ignore[operator]
