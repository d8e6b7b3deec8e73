"""Kafka topics: create what is missing, delete, list, describe. The one home for it.

The order topic gets `settings.partitions` partitions (orders are keyed, so this caps how
many instances of a service can share the work); alerts are keyed by order too; the
dead-letter topic has one partition, so its listing reads in arrival order.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from confluent_kafka import (
    IsolationLevel,
    KafkaError,
    KafkaException,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import (
    AlterConfigOpType,
    ClusterMetadata,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    OffsetSpec,
)

from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka import clients

TIMEOUT_S = 15.0


class TopicError(PipelineError):
    pass


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


class Admin:
    """Topic operations on one cluster; the client is built on first use."""

    def __init__(self, config: Mapping[str, Any], *, timeout_s: float = TIMEOUT_S) -> None:
        # Level 2 keeps librdkafka's connection-refused lines (level 3) off the user's
        # terminal: an unreachable broker is reported once, by `metadata()`.
        self._config = {"log_level": 2, **config}
        self.timeout_s = timeout_s
        self._admin: Any = None

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout_s: float = TIMEOUT_S) -> Admin:
        return cls(settings.kafka_config(), timeout_s=timeout_s)

    @property
    def bootstrap(self) -> str:
        return str(self._config.get("bootstrap.servers", "?"))

    def client_config(self) -> dict[str, Any]:
        """The librdkafka configuration this admin connects with (for sibling clients)."""
        return dict(self._config)

    def client(self) -> Any:
        """The underlying AdminClient, for the group and offset queries of `groups`."""
        return self._client()

    def _client(self) -> Any:
        if self._admin is None:
            self._admin = clients.admin(self._config)
        return self._admin

    def metadata(self) -> ClusterMetadata:
        try:
            return self._client().list_topics(timeout=self.timeout_s)
        except KafkaException as exc:
            raise TopicError(
                f"cannot reach Kafka at {self.bootstrap} within {self.timeout_s:g}s "
                f"({exc.args[0].str()}); is the broker running?"
            ) from exc

    def names(self) -> list[str]:
        """The cluster's topics, without Kafka's internal ones (`__consumer_offsets`...)."""
        return sorted(name for name in self.metadata().topics if not name.startswith("__"))

    def partitions(self, name: str) -> int | None:
        """How many partitions `name` has, or None if it does not exist."""
        topic = self.metadata().topics.get(name)
        if topic is None or topic.error is not None:
            return None
        return len(topic.partitions)

    def ensure(self, specs: Iterable[TopicSpec]) -> list[str]:
        """Create those of `specs` that do not exist; return the names created."""
        wanted = {spec.name: spec for spec in specs}
        metadata = self.metadata()
        missing = [spec for name, spec in wanted.items() if name not in metadata.topics]
        if not missing:
            return []
        # One replica per broker up to three: a laptop broker gets 1, a real cluster 3.
        replicas = max(1, min(3, len(metadata.brokers)))
        futures = self._client().create_topics(
            [NewTopic(s.name, s.partitions, replicas, config=dict(s.config)) for s in missing],
            operation_timeout=self.timeout_s,
            request_timeout=self.timeout_s,
        )
        created = []
        for name, future in futures.items():
            try:
                future.result(timeout=self.timeout_s)
                created.append(name)
            except TimeoutError as exc:
                raise TopicError(
                    f"creating topic {name} timed out after {self.timeout_s:.0f} s"
                ) from exc
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # lost a race: fine
                    raise TopicError(f"cannot create topic {name}: {exc.args[0].str()}") from exc
        self._await_visible(created)
        return created

    def _await_visible(self, names: list[str], *, present: bool = True) -> None:
        """Until the broker's metadata shows the new topics, or no longer shows deleted ones
        (it lags the controller a little), so that whoever comes next finds them as left."""
        deadline = time.monotonic() + self.timeout_s
        while names and time.monotonic() < deadline:
            topics = self.metadata().topics
            shown = {n for n in names if n in topics and topics[n].error is None}
            names = [n for n in names if (n in shown) != present]
            if names:
                time.sleep(0.05)

    def delete(self, names: Iterable[str]) -> None:
        """Delete topics; one that is already gone is fine."""
        topics = list(names)
        if not topics:
            return
        futures = self._client().delete_topics(topics, operation_timeout=self.timeout_s)
        for name, future in futures.items():
            try:
                future.result(timeout=self.timeout_s)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise TopicError(f"cannot delete topic {name}: {exc.args[0].str()}") from exc
        self._await_visible(topics, present=False)

    def topic_ids(self, names: Iterable[str]) -> dict[str, str]:
        """Each topic's id (a topic deleted and created again under its name gets a new one).

        Messages carry no topic id in confluent-kafka 2.16, so whoever records Kafka
        coordinates asks here once per assignment."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        futures = self._client().describe_topics(
            TopicCollection(wanted), request_timeout=self.timeout_s
        )
        ids = {}
        for name, future in futures.items():
            try:
                ids[name] = str(future.result(timeout=self.timeout_s).topic_id)
            except KafkaException as exc:
                reason = exc.args[0].str()
                raise TopicError(f"cannot describe topic {name}: {reason}") from exc
        return ids

    def config(self, name: str) -> dict[str, str]:
        """The topic's effective configuration (`cleanup.policy`, `max.message.bytes`...)."""
        resource = ConfigResource(ConfigResource.Type.TOPIC, name)
        future = self._client().describe_configs([resource], request_timeout=self.timeout_s)
        try:
            entries = future[resource].result(timeout=self.timeout_s)
        except KafkaException as exc:
            raise TopicError(
                f"cannot read the configuration of {name}: {exc.args[0].str()}"
            ) from exc
        return {key: entry.value for key, entry in entries.items()}

    def offsets(self, name: str, partitions: Iterable[int], *, end: str = "high") -> dict[int, int]:
        """Each partition's first offset (`end="low"`), its high watermark (`"high"`), or its
        last stable offset (`"stable"`: the end a read_committed reader sees, before the
        first transaction still open)."""
        spec = OffsetSpec.earliest() if end == "low" else OffsetSpec.latest()
        isolation = (
            IsolationLevel.READ_COMMITTED if end == "stable" else IsolationLevel.READ_UNCOMMITTED
        )
        wanted = {TopicPartition(name, p): spec for p in partitions}
        if not wanted:
            return {}
        futures = self._client().list_offsets(
            wanted, isolation_level=isolation, request_timeout=self.timeout_s
        )
        found = {}
        for tp, future in futures.items():
            try:
                found[tp.partition] = int(future.result(timeout=self.timeout_s).offset)
            except KafkaException as exc:
                reason = exc.args[0].str()
                raise TopicError(
                    f"cannot list offsets of {name}[{tp.partition}]: {reason}"
                ) from exc
        return found

    def set_config(self, name: str, values: Mapping[str, str]) -> None:
        """Set some of the topic's configuration (the rest is kept as it is)."""
        entries = [
            ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
            for key, value in values.items()
        ]
        resource = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
        futures = self._client().incremental_alter_configs(
            [resource], request_timeout=self.timeout_s
        )
        try:
            futures[resource].result(timeout=self.timeout_s)
        except KafkaException as exc:
            raise TopicError(
                f"cannot change the configuration of {name}: {exc.args[0].str()}"
            ) from exc


def ensure_topics(settings: Settings, wanted: Mapping[str, int]) -> list[str]:
    """Create those of `wanted` (name → partitions) that do not exist; return the created."""
    return Admin.from_settings(settings).ensure(TopicSpec(n, p) for n, p in wanted.items())


def delete_topics(settings: Settings, names: Iterable[str]) -> None:
    Admin.from_settings(settings).delete(names)
