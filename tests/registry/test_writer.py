"""One registry writes to a `_schemas` topic, and schema ids are never handed out twice.

A second registry started on the same topic takes over writing (Kafka fences the first
one's producer, so even its late writes are refused); the first goes on serving reads and
says which instance writes. The topic itself is checked at start: compacted, one partition.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.errors import RegistryError
from pipeline.kafka.admin import Admin, TopicSpec
from tests.registry.helpers import call, field, own_server, record, register
from tests.registry.test_kafka_outage import until

A = record("WriterA", field("id", "string"))
B = record("WriterB", field("id", "string"))


def test_a_second_registry_on_the_topic_takes_over_writing(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    topic = unique("_schemas-two")
    with own_server(kafka_bootstrap, topic) as first:
        assert register(first.url, "one-value", A) == {"id": 1, "version": 1}
        with own_server(kafka_bootstrap, topic) as second:
            status, body = call(second.url, "GET", "/ready")
            assert status == 200 and body["writer"] == body["instance"], body
            writer = body["instance"]
            # The older instance refuses writes, naming the one that writes.
            status, body = call(first.url, "POST", "/subjects/two-value/versions", {"schema": B})
            assert (status, body["error_code"]) == (500, 50004), body
            assert writer in body["message"]
            status, body = call(first.url, "GET", "/ready")
            assert status == 503 and writer in body["message"], body
            assert register(second.url, "two-value", B) == {"id": 2, "version": 1}
            # ... and goes on serving reads, including what the writer wrote.
            assert until(lambda: call(first.url, "GET", "/schemas/ids/2")[0] == 200, 10)


def test_two_registries_never_give_one_id_to_two_schemas(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    topic = unique("_schemas-race")
    answers: list[tuple[str, int, Any]] = []
    lock = threading.Lock()

    def register_many(url: str, name: str) -> None:
        for i in range(8):
            schema = record(f"Race{name}{i}", field("id", "string"))
            status, body = call(
                url, "POST", f"/subjects/race-{name}-{i}/versions", {"schema": schema}
            )
            with lock:
                answers.append((schema, status, body))

    with own_server(kafka_bootstrap, topic) as first, own_server(kafka_bootstrap, topic) as second:
        threads = [
            threading.Thread(target=register_many, args=(server.url, name))
            for server, name in ((first, "first"), (second, "second"))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        ids = {}
        for schema, status, body in answers:
            if status == 200:
                ids.setdefault(body["id"], set()).add(schema)
        assert {i: s for i, s in ids.items() if len(s) > 1} == {}
        assert sum(1 for _, status, _ in answers if status == 200) >= 8  # the writer's


def test_an_existing_topic_that_is_not_compacted_is_refused(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    topic = unique("_schemas-delete")
    Admin({"bootstrap.servers": kafka_bootstrap}).ensure(
        [TopicSpec(topic, 1, {"cleanup.policy": "delete"})]
    )
    expected = (
        f"topic {topic} has cleanup.policy=delete; a schemas topic must be compacted "
        "(cleanup.policy=compact), or old schemas would be deleted"
    )
    with pytest.raises(RegistryError) as raised, own_server(kafka_bootstrap, topic):
        pass
    assert str(raised.value) == expected
    result = CliRunner().invoke(
        cli,
        [
            "--bootstrap-servers",
            kafka_bootstrap,
            "registry",
            "serve",
            "--port",
            "0",
            "--topic",
            topic,
        ],
    )
    assert (result.exit_code, result.output.strip()) == (1, f"Error: {expected}")


def test_an_existing_topic_with_more_partitions_is_refused(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    topic = unique("_schemas-three")
    Admin({"bootstrap.servers": kafka_bootstrap}).ensure(
        [TopicSpec(topic, 3, {"cleanup.policy": "compact"})]
    )
    refused = f"topic {topic} has 3 partitions; a schemas topic"
    with pytest.raises(RegistryError, match=refused), own_server(kafka_bootstrap, topic):
        pass
