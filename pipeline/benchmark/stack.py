"""The broker and registry a benchmark runs on, and each measurement's own names.

The user's cluster and registry are used when named (flags or environment); otherwise a
throwaway broker is started in a temporary folder and the project's registry is served in
this process on a free port, both stopped in `finally`. Every measurement gets a fresh
topic, value subject, consumer group and SQLite file, so no run sees another's data; what
was created on the user's cluster and registry is deleted at the end.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import Schema

from pipeline.config import Settings
from pipeline.errors import RegistryError
from pipeline.serde import SCHEMAS_DIR, load_schema_file, registry_client
from pipeline.topics import TIMEOUT_S, ensure_topics

SCHEMA_FILE = SCHEMAS_DIR / "order_event.v1.avsc"


@dataclass(frozen=True, slots=True)
class Lane:
    """One measurement's own topic, subject, group and SQLite file."""

    settings: Settings
    group: str
    schema_str: str
    schema_id: int


@contextmanager
def bench_stack(settings: Settings, *, own_broker: bool, own_registry: bool) -> Iterator[Settings]:
    """`settings` pointing at a broker and registry that answer, for the block's duration."""
    with ExitStack() as stack:
        if own_broker:
            from pipeline.devstack.testing import running_test_broker

            home = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-kafka-"))
            bootstrap = stack.enter_context(running_test_broker(Path(home)))
            settings = settings.with_(bootstrap_servers=bootstrap)
        if own_registry:
            url = stack.enter_context(_served_registry(settings, drop_topic=not own_broker))
            settings = settings.with_(registry_url=url)
        yield settings


@contextmanager
def _served_registry(settings: Settings, drop_topic: bool) -> Iterator[str]:
    from pipeline.registry.server import RegistryConfig, RegistryServer

    # A schemas topic of its own: a registry already serving the cluster is never touched.
    topic = f"_schemas-bench-{uuid.uuid4().hex[:8]}"
    config = RegistryConfig(
        bootstrap_servers=settings.bootstrap_servers,
        port=0,
        topic=topic,
        kafka_properties=settings.client_properties,
    )
    server = RegistryServer(config)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
        if drop_topic:
            _delete_topics(settings, [topic])


class Workspace:
    """Hands out lanes; `close()` deletes their topics and subjects from a cluster we keep."""

    def __init__(self, settings: Settings, folder: Path, *, keep_nothing: bool) -> None:
        self.settings = settings
        self.folder = folder
        self._keep_nothing = keep_nothing  # False: the broker is thrown away anyway
        self._schema_str = load_schema_file(SCHEMA_FILE)
        self._topics: list[str] = []
        self._subjects: list[str] = []

    def lane(self, label: str) -> Lane:
        tag = f"{label}-{uuid.uuid4().hex[:8]}"
        topic = f"bench-{tag}"
        settings = self.settings.with_(
            topic=topic,
            dlq_topic=f"{topic}.dlq",
            alerts_topic=f"{topic}.alerts",
            db_path=self.folder / f"{tag}.db",
        )
        self._topics += [topic, settings.dlq_topic]
        ensure_topics(settings, {topic: settings.partitions, settings.dlq_topic: 1})
        subject = f"{topic}-value"
        self._subjects.append(subject)
        schema_id = _register(settings, subject, self._schema_str)
        return Lane(settings, f"bench-{tag}", self._schema_str, schema_id)

    def close(self) -> None:
        if not self._keep_nothing:
            return
        _delete_topics(self.settings, self._topics)
        client = registry_client(self.settings)
        for subject in self._subjects:
            with suppress(Exception):  # best effort: a registry that refuses keeps them
                client.delete_subject(subject)
                client.delete_subject(subject, permanent=True)


def _register(settings: Settings, subject: str, schema_str: str) -> int:
    # The harness registers the schema, as an operator would with `schema register`; the
    # producers measured only look it up.
    try:
        return registry_client(settings).register_schema(subject, Schema(schema_str, "AVRO"))
    except Exception as exc:
        raise RegistryError(f"cannot register the benchmark's schema: {exc}") from exc


def _delete_topics(settings: Settings, topics: list[str]) -> None:
    if not topics:
        return
    admin = AdminClient(settings.kafka_config(log_level=5))
    futures = admin.delete_topics(topics, operation_timeout=TIMEOUT_S)
    for future in futures.values():
        with suppress(Exception):  # best effort: a topic that is already gone is fine
            future.result(timeout=TIMEOUT_S)
