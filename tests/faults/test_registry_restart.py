"""The schema registry restarted under a running pipeline: nothing it answered changes, and a
service that decodes through it goes on, including with a schema id it must fetch afresh.

"Restart" is what an operator does: stop the server, start a new `RegistryServer` on the
same `_schemas` topic and the same port. The new one knows only what it replays from Kafka.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from pipeline.config import Settings
from pipeline.model import Event, Refusal
from pipeline.producer import ProduceOptions, produce, send_events
from pipeline.registry.server import RegistryConfig, RegistryServer
from pipeline.serde import AvroEncoder
from pipeline.services.analytics import Analytics
from pipeline.services.runner import Runner, RunOptions
from tests.faults.helpers import seeded_events, wait_for
from tests.order_helpers import SCHEMAS, V1
from tests.registry.helpers import call, field, record, register

pytestmark = pytest.mark.faults
V2 = SCHEMAS / "order_event.v2.avsc"


class Registry:
    """One registry at a time on a fixed topic; `restart()` keeps the port it first got."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.port = 0
        self.server: RegistryServer | None = None

    def start(self) -> str:
        config = RegistryConfig(bootstrap_servers=self.bootstrap, port=self.port, topic=self.topic)
        self.server = RegistryServer(config)
        self.server.start()
        self.port = int(self.server.url.rsplit(":", 1)[1])
        return self.server.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def restart(self) -> str:
        self.stop()
        return self.start()


@contextmanager
def running_registry(bootstrap: str, topic: str) -> Iterator[Registry]:
    registry = Registry(bootstrap, topic)
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()


def snapshot(url: str, subjects: Sequence[str], ids: Sequence[int]) -> dict[str, Any]:
    """Every answer a client could depend on, soft-deleted versions included."""
    answers: dict[str, Any] = {}
    paths = ["/subjects?deleted=true", "/config", "/mode"]
    for subject in subjects:
        paths += [f"/subjects/{subject}/versions?deleted=true", f"/config/{subject}"]
        paths += [f"/mode/{subject}?defaultToGlobal=true"]
        paths += [f"/subjects/{subject}/versions/{v}?deleted=true" for v in (1, 2)]
    for schema_id in ids:
        paths += [f"/schemas/ids/{schema_id}", f"/schemas/ids/{schema_id}/versions?deleted=true"]
    for path in paths:
        answers[path] = call(url, "GET", path)
    return answers


def test_ids_versions_and_settings_survive_a_restart(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    orders, alerts, frozen = "orders-value", "alerts-value", "frozen-value"
    order_v1 = record("RsOrder", field("id", "string"))
    order_v2 = record("RsOrder", field("id", "string"), field("note", "string", default=""))
    alert = record("RsAlert", field("kind", "string"))
    with running_registry(kafka_bootstrap, unique("_schemas-restart")) as registry:
        assert registry.server is not None
        url = registry.server.url
        assert call(url, "PUT", "/config", {"compatibility": "NONE"})[0] == 200
        assert register(url, orders, order_v1) == {"id": 1, "version": 1}
        assert register(url, orders, order_v2) == {"id": 2, "version": 2}
        assert register(url, alerts, alert) == {"id": 3, "version": 1}
        assert register(url, alerts, order_v1) == {"id": 1, "version": 2}
        assert register(url, frozen, alert) == {"id": 3, "version": 1}
        assert call(url, "DELETE", f"/subjects/{alerts}/versions/2") == (200, 2)
        assert call(url, "PUT", f"/config/{orders}", {"compatibility": "FULL"})[0] == 200
        assert call(url, "PUT", f"/mode/{frozen}", {"mode": "READONLY"})[0] == 200
        before = snapshot(url, [orders, alerts, frozen], [1, 2, 3])

        assert registry.restart() == url

        assert snapshot(url, [orders, alerts, frozen], [1, 2, 3]) == before
        assert before["/subjects?deleted=true"] == (200, [alerts, frozen, orders])
        assert before[f"/subjects/{alerts}/versions?deleted=true"] == (200, [1, 2])
        assert before[f"/config/{orders}"] == (200, {"compatibilityLevel": "FULL"})
        assert before[f"/mode/{frozen}?defaultToGlobal=true"] == (200, {"mode": "READONLY"})
        assert before["/schemas/ids/1/versions?deleted=true"] == (
            200,
            [{"subject": alerts, "version": 2}, {"subject": orders, "version": 1}],
        )
        # After the restart, known schemas keep their ids and new ones never reuse one.
        assert register(url, orders, order_v2) == {"id": 2, "version": 2}
        wider = record("RsOrder", field("id", "string"), field("n", "int", default=0))
        assert register(url, orders, wider) == {"id": 4, "version": 3}
        status, body = call(url, "POST", f"/subjects/{frozen}/versions", {"schema": order_v1})
        assert (status, body["error_code"]) == (422, 42205)


class RecordingAnalytics(Analytics):
    """Analytics that also counts the (schema id, version) each event was decoded with."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.writers: Counter[tuple[int, int | None]] = Counter()

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        self.writers.update((e.schema.schema_id, e.schema.version) for e in batch)
        return super().handle(batch)


@contextmanager
def running_service(
    settings: Settings, service: RecordingAnalytics, group: str
) -> Iterator[tuple[Runner, list[BaseException]]]:
    """The analytics service on the shared consume loop, in a thread, stopped in `finally`."""
    options = RunOptions(group_id=group, poll_timeout_s=0.2, handle_signals=False)
    runner = Runner(settings, service, options)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            runner.run()
        except BaseException as exc:  # surfaced by the test, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="analytics-under-test")
    thread.start()
    try:
        yield runner, errors
    finally:
        runner.stop()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the consume loop did not stop within 30 s"


def test_a_service_resumes_through_a_registry_restart(
    settings: Settings, kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    with running_registry(kafka_bootstrap, unique("_schemas-restart")) as registry:
        assert registry.server is not None
        s = settings.with_(registry_url=registry.server.url, partitions=3)
        subject = f"{s.topic}-value"
        v1 = register(s.registry_url, subject, V1.read_text())
        before = produce(s, ProduceOptions(count=300, seed=1, schema_path=V1))
        assert (before.delivered, before.schema_id) == (300, v1["id"])
        service = RecordingAnalytics(s)
        with running_service(s, service, unique("analytics")) as (runner, errors):
            assert wait_for(lambda: runner.summary.consumed >= 300 or bool(errors), 60)
            # Down: events with the id the service already knows are still processed.
            registry.stop()
            encoder = AvroEncoder(v1["id"], V1.read_text())
            during = send_events(s, encoder, seeded_events(200, seed=2), ProduceOptions())
            assert during.delivered == 200
            assert wait_for(lambda: runner.summary.consumed >= 500 or bool(errors), 30)
            # Back, same port and topic: a schema id the service has never seen.
            assert registry.start() == s.registry_url
            v2 = register(s.registry_url, subject, V2.read_text())
            # Ids are registry-wide: analytics' own stats schema may have taken the next one.
            assert v2["version"] == 2 and v2["id"] > v1["id"]
            after = produce(s, ProduceOptions(count=300, seed=3, schema_path=V2))
            assert (after.delivered, after.schema_id) == (300, v2["id"])
            assert wait_for(lambda: runner.summary.consumed >= 800 or bool(errors), 60)
        assert errors == []
        summary = runner.summary
        assert (summary.consumed, summary.handled, dict(summary.dead_lettered)) == (800, 800, {})
        assert service.writers == {(v1["id"], 1): 500, (v2["id"], 2): 300}
        assert service.counts["events"] == 800


def test_a_new_schema_id_while_the_registry_is_down_waits_instead_of_stopping(
    settings: Settings, kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    with running_registry(kafka_bootstrap, unique("_schemas-outage")) as registry:
        assert registry.server is not None
        s = settings.with_(registry_url=registry.server.url, partitions=3)
        subject = f"{s.topic}-value"
        v1 = register(s.registry_url, subject, V1.read_text())
        v2 = register(s.registry_url, subject, V2.read_text())
        assert produce(s, ProduceOptions(count=100, seed=1, schema_path=V1)).delivered == 100
        service = RecordingAnalytics(s)
        with running_service(s, service, unique("analytics")) as (runner, errors):
            assert wait_for(lambda: runner.summary.consumed >= 100 or bool(errors), 60)
            registry.stop()
            # Events with an id the service has never fetched, while nobody can answer for it.
            encoder = AvroEncoder(v2["id"], V2.read_text())
            assert (
                send_events(s, encoder, seeded_events(100, seed=2), ProduceOptions()).delivered
                == 100
            )
            assert wait_for(lambda: runner.summary.registry_retries >= 2 or bool(errors), 30)
            assert runner.summary.consumed == 100  # nothing of the batch done, nothing skipped
            registry.start()
            assert wait_for(lambda: runner.summary.consumed >= 200 or bool(errors), 60)
        assert errors == []
        assert dict(runner.summary.dead_lettered) == {}
        assert service.writers == {(v1["id"], 1): 100, (v2["id"], 2): 100}
