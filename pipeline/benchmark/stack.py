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

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka.admin import delete_topics, ensure_topics
from pipeline.registry.embedded import embedded_registry, fresh_topic
from pipeline.schema_files import ORDER_EVENT_V1, load_schema_file

SCHEMA_FILE = ORDER_EVENT_V1


class BenchError(PipelineError):
    """A measurement that could not be made (a worker that failed, events not stored...)."""


@dataclass(frozen=True)
class Target:
    """The settings to measure with, and which parts the benchmark starts (and stops) itself."""

    settings: Settings
    own_broker: bool
    own_registry: bool


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
            # A schemas topic of its own: a registry already serving the cluster is never
            # touched, and on a cluster we keep, the topic goes when the run ends.
            server = stack.enter_context(
                embedded_registry(
                    settings.bootstrap_servers,
                    topic=fresh_topic("_schemas-bench"),
                    client_properties=settings.client_properties,
                    delete_topic=not own_broker,
                )
            )
            settings = settings.with_(registry_url=server.url)
        yield settings


@contextmanager
def workspace(target: Target) -> Iterator[Workspace]:
    """The target's broker and registry, answering, and a workspace on them for the block."""
    with (
        bench_stack(
            target.settings, own_broker=target.own_broker, own_registry=target.own_registry
        ) as live,
        tempfile.TemporaryDirectory(prefix="bench-") as folder,
    ):
        ws = Workspace(live, Path(folder), keep_nothing=not target.own_broker)
        try:
            yield ws
        finally:
            ws.close()


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
        subject = registry_client.value_subject(topic)
        self._subjects.append(subject)
        schema_id = _register(settings, subject, self._schema_str)
        return Lane(settings, f"bench-{tag}", self._schema_str, schema_id)

    def close(self) -> None:
        if not self._keep_nothing:
            return
        with suppress(PipelineError):  # best effort: what cannot be deleted is left
            delete_topics(self.settings, self._topics)
        with registry_client.connected(self.settings) as client:
            for subject in self._subjects:
                with suppress(PipelineError):  # a registry that refuses keeps them
                    registry_client.delete_subject(client, subject, permanent=True)


def _register(settings: Settings, subject: str, schema_str: str) -> int:
    # The harness registers the schema, as an operator would with `schema register`; the
    # producers measured only look it up.
    with registry_client.connected(settings) as client:
        return registry_client.register(client, subject, schema_str).schema_id or 0
