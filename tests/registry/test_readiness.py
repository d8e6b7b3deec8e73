"""Readiness: the registry says when it cannot do its job, `dev status` listens, and a
registry that cannot recover exits instead of serving a frozen copy of its state."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

from pipeline.devstack.parts import registry_answers
from pipeline.kafka.admin import Admin
from tests.registry.helpers import call, field, own_server, record, register, serving_process


def test_ready_names_this_instance_as_the_writer(registry_url: str) -> None:
    status, body = call(registry_url, "GET", "/ready")
    assert status == 200, body
    assert body["ready"] is True and body["writer"] == body["instance"]
    assert isinstance(body["position"], int)


def test_dev_status_counts_a_registry_that_is_not_ready(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    topic = unique("_schemas-status")
    with own_server(kafka_bootstrap, topic) as first:
        assert registry_answers(first.url)
        with own_server(kafka_bootstrap, topic) as second:
            # The first answers HTTP, but can no longer write: not ready.
            assert call(first.url, "GET", "/subjects")[0] == 200
            assert not registry_answers(first.url)
            assert registry_answers(second.url)


def test_a_registry_whose_topic_is_deleted_exits_non_zero(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    topic = unique("_schemas-gone")
    command = [sys.executable, "-m", "pipeline.registry", "--bootstrap-servers", kafka_bootstrap]
    command += ["--port", "0", "--topic", topic]
    with serving_process(command) as process:
        assert process.stdout is not None
        match = re.search(r"listening on (http://\S+)", process.stdout.readline())
        assert match is not None
        register(match.group(1), "gone-value", record("Gone", field("id", "string")))
        Admin({"bootstrap.servers": kafka_bootstrap}).delete([topic])
        out, err = process.communicate(timeout=60)
    assert process.returncode == 1, (out, err)
    errors = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert errors == [f"Error: topic {topic} was deleted; this registry's state is gone with it"]
