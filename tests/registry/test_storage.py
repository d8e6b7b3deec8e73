"""State in Kafka: the raw `_schemas` records, restarts, and an unreachable broker."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from pipeline.errors import RegistryError
from pipeline.registry.server import RegistryConfig, RegistryServer
from tests.registry.helpers import call, field, own_server, record, register

V1 = record("StoreOrder", field("id", "string"))
V2 = record("StoreOrder", field("id", "string"), field("n", "int", default=0))


def read_topic(bootstrap: str, topic: str) -> list[tuple[Any, Any]]:
    """Every record of the topic as (key, value) JSON, in order; None for a tombstone."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex[:8]}",
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    found: list[tuple[Any, Any]] = []
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                break  # partition EOF: all read
            value = message.value()
            found.append((message.key(), None if value is None else json.loads(value)))
    finally:
        consumer.close()
    return found


def test_records_have_confluents_format(kafka_bootstrap: str) -> None:
    topic = f"_schemas-test-{uuid.uuid4().hex[:8]}"
    with own_server(kafka_bootstrap, topic) as server:
        url = server.url
        assert register(url, "s", V1) == {"id": 1, "version": 1}
        register(url, "s", V2)
        call(url, "PUT", "/config/s", {"compatibility": "FULL"})
        call(url, "PUT", "/config", {"compatibility": "NONE"})
        call(url, "PUT", "/mode/s", {"mode": "READWRITE"})
        call(url, "DELETE", "/subjects/s/versions/2")
        call(url, "DELETE", "/subjects/s")
        call(url, "DELETE", "/subjects/s/versions/2?permanent=true")
    written = read_topic(kafka_bootstrap, topic)
    keys, values = [key for key, _ in written], [value for _, value in written]
    # This registry's own record (see records.py): first when it takes over writing, then
    # before a permanent delete, to keep the highest id handed out.
    writer = server.instance
    assert keys == [
        b'{"magic":0,"keytype":"NOOP"}',
        b'{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}',
        b'{"keytype":"SCHEMA","subject":"s","version":2,"magic":1}',
        b'{"keytype":"CONFIG","subject":"s","magic":0}',
        b'{"keytype":"CONFIG","subject":null,"magic":0}',
        b'{"keytype":"MODE","subject":"s","magic":0}',
        b'{"keytype":"SCHEMA","subject":"s","version":2,"magic":1}',
        b'{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}',
        b'{"magic":0,"keytype":"NOOP"}',
        b'{"keytype":"SCHEMA","subject":"s","version":2,"magic":1}',
    ]
    assert values == [
        {"maxSchemaId": 0, "writer": writer},
        {"subject": "s", "version": 1, "id": 1, "schema": V1, "deleted": False},
        {"subject": "s", "version": 2, "id": 2, "schema": V2, "deleted": False},
        {"compatibilityLevel": "FULL"},
        {"compatibilityLevel": "NONE"},
        {"mode": "READWRITE"},
        {"subject": "s", "version": 2, "id": 2, "schema": V2, "deleted": True},
        {"subject": "s", "version": 1},
        {"maxSchemaId": 2, "writer": writer},
        None,
    ]


def test_restart_keeps_ids_versions_and_configs(kafka_bootstrap: str) -> None:
    topic = f"_schemas-test-{uuid.uuid4().hex[:8]}"
    paths = [
        "/subjects?deleted=true",
        "/subjects/a/versions",
        "/subjects/a/versions?deleted=true",
        "/subjects/a/versions/1",
        "/subjects/b/versions/latest",
        "/schemas/ids/2",
        "/config/a",
        "/config",
        "/mode/b",
    ]
    with own_server(kafka_bootstrap, topic) as first:
        register(first.url, "a", V1)
        register(first.url, "a", V2)
        register(first.url, "b", V2)
        call(first.url, "DELETE", "/subjects/a/versions/2")
        call(first.url, "PUT", "/config/a", {"compatibility": "FORWARD_TRANSITIVE"})
        call(first.url, "PUT", "/config", {"compatibility": "FULL"})
        call(first.url, "PUT", "/mode/b", {"mode": "READONLY"})
        before = {path: call(first.url, "GET", path) for path in paths}
    with own_server(kafka_bootstrap, topic) as second:
        after = {path: call(second.url, "GET", path) for path in paths}
        # New ids continue after the replayed ones.
        assert register(second.url, "c", record("Fresh", field("x", "int"))) == {
            "id": 3,
            "version": 1,
        }
    assert after == before
    assert before["/subjects/a/versions"] == (200, [1])
    assert before["/subjects/b/versions/latest"][1]["id"] == 2
    assert before["/config/a"] == (200, {"compatibilityLevel": "FORWARD_TRANSITIVE"})


def test_unreachable_kafka_fails_clearly_after_a_bounded_wait() -> None:
    server = RegistryServer(
        RegistryConfig(bootstrap_servers="127.0.0.1:1", port=0, startup_timeout_s=2)
    )
    began = time.monotonic()
    with pytest.raises(RegistryError, match=r"cannot reach Kafka at 127\.0\.0\.1:1 within 2s"):
        server.start()
    assert time.monotonic() - began < 10
    server.stop()


def test_basic_auth(kafka_bootstrap: str) -> None:
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError

    with own_server(kafka_bootstrap, basic_auth={"alice": "s3cret"}) as server:
        status, body = call(server.url, "GET", "/subjects")
        assert (status, body["error_code"]) == (401, 401)
        with SchemaRegistryClient(
            {"url": server.url, "basic.auth.user.info": "alice:wrong"}
        ) as bad:
            with pytest.raises(SchemaRegistryError) as refused:
                bad.get_subjects()
            assert refused.value.http_status_code == 401
        conf = {"url": server.url, "basic.auth.user.info": "alice:s3cret"}
        with SchemaRegistryClient(conf) as good:
            assert good.register_schema("auth-value", Schema(V1, "AVRO")) == 1
            assert good.get_subjects() == ["auth-value"]


def test_serve_forever_returns_when_stopped_from_another_thread(kafka_bootstrap: str) -> None:
    config = RegistryConfig(
        bootstrap_servers=kafka_bootstrap, port=0, topic=f"_schemas-test-{uuid.uuid4().hex[:8]}"
    )
    server = RegistryServer(config)
    started: list[str] = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"on_started": started.append})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert call(started[0], "GET", "/subjects") == (200, [])
    finally:
        server.stop()
        thread.join(timeout=10)
    assert thread.is_alive() is False
    server.stop()  # idempotent


def test_port_in_use_is_a_clear_error(kafka_bootstrap: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = RegistryConfig(
            bootstrap_servers=kafka_bootstrap,
            port=port,
            topic=f"_schemas-test-{uuid.uuid4().hex[:8]}",
        )
        server = RegistryServer(config)
        with pytest.raises(RegistryError, match=f"cannot listen on 127.0.0.1:{port}"):
            server.start()
        server.stop()
