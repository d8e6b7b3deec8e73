"""The one settings object of the pipeline, built once (by the CLI or a test) and passed down.

Nothing here reads the environment or a file at import time: `Settings.from_env()` and
`load_client_properties()` do it when called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pipeline.errors import ConfigError

DEFAULT_BOOTSTRAP = "localhost:9092"
DEFAULT_REGISTRY_URL = "http://localhost:8081"
DEFAULT_DB_PATH = Path("data/audit.db")  # its folder is created; a folder named must exist


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where the pipeline connects and what it names things."""

    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    registry_url: str = DEFAULT_REGISTRY_URL
    # "user:password" for a registry behind HTTP basic auth (Confluent's basic.auth.user.info).
    registry_auth: str | None = None
    topic: str = "order-events"
    alerts_topic: str = "order-alerts"
    dlq_topic: str = "order-events.dlq"
    stats_topic: str = "order-stats"
    partitions: int = 6
    db_path: Path = DEFAULT_DB_PATH
    # Raw librdkafka properties (SASL/SSL for a managed cluster), passed through untouched.
    client_properties: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # The Kafka topic the schema registry keeps its state in (Confluent's kafkastore.topic):
    # its topic id tells registries apart, whose schema ids all start at 1.
    registry_topic: str = "_schemas"
    # The audit store on PostgreSQL (postgresql://USER@HOST:PORT/DB); None: SQLite at db_path.
    store_url: str | None = None
    # Where stateful services keep their local state (a folder per group, topic, instance).
    state_dir: Path = Path("data/state")

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        defaults: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Defaults (the class's, then `defaults`, e.g. the running local stack's addresses),
        then the usual environment variables, then explicit overrides (flags)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = dict(defaults or {})
        if env.get("KAFKA_BOOTSTRAP_SERVERS"):
            values["bootstrap_servers"] = env["KAFKA_BOOTSTRAP_SERVERS"]
        if env.get("SCHEMA_REGISTRY_URL"):
            values["registry_url"] = env["SCHEMA_REGISTRY_URL"]
        if env.get("SCHEMA_REGISTRY_BASIC_AUTH"):
            values["registry_auth"] = env["SCHEMA_REGISTRY_BASIC_AUTH"]
        if env.get("AUDIT_DB"):
            values["db_path"] = Path(env["AUDIT_DB"])
        if env.get("SCHEMA_REGISTRY_TOPIC"):
            values["registry_topic"] = env["SCHEMA_REGISTRY_TOPIC"]
        if env.get("AUDIT_STORE_URL"):
            values["store_url"] = env["AUDIT_STORE_URL"]
        if env.get("STATE_DIR"):
            values["state_dir"] = Path(env["STATE_DIR"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with `changes`; a change given as None (a flag not used) is ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def reading(self, topic: str | None) -> Settings:
        """A pipeline on input `topic`: what it writes is named after it (`T.dlq`, `T.alerts`,
        `T.stats`), so two pipelines on one cluster never mix. The default topic, or None,
        keeps the names as they are."""
        if topic is None or topic == self.topic:
            return self
        return replace(
            self,
            topic=topic,
            dlq_topic=f"{topic}.dlq",
            alerts_topic=f"{topic}.alerts",
            stats_topic=f"{topic}.stats",
        )

    def kafka_config(self, **extra: Any) -> dict[str, Any]:
        """librdkafka configuration: connection, the user's properties, then the caller's."""
        config: dict[str, Any] = {"bootstrap.servers": self.bootstrap_servers}
        config.update(self.client_properties)
        config.update(extra)
        return config

    def registry_config(self) -> dict[str, Any]:
        """Configuration for confluent-kafka's SchemaRegistryClient."""
        config: dict[str, Any] = {"url": self.registry_url}
        if self.registry_auth:
            config["basic.auth.user.info"] = self.registry_auth
        return config


def load_client_properties(path: Path) -> Mapping[str, str]:
    """Read a Java-style `key=value` properties file (as Confluent Cloud hands out)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read client properties file {path}: {exc.strerror}") from exc
    props: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(f"{path}:{number}: expected key=value, got {line!r}")
        props[key.strip()] = value.strip()
    return MappingProxyType(props)


def local_address(address: str) -> bool:
    """Whether every host in `address` ("h:p,h2:p2" or a URL) is this machine."""
    hosts = [_host_of(part) for part in address.split(",") if part.strip()]
    return bool(hosts) and all(h in ("localhost", "::1") or h.startswith("127.") for h in hosts)


def unreachable_hint(address: str, option: str, variable: str) -> str:
    """What to run when nothing answers at `address`: the local stack, or the setting."""
    if local_address(address):
        return f"start the local stack with `python cli.py dev up` (or set {option} / {variable})"
    return f"check {option} / {variable} and that the server runs"


def _host_of(part: str) -> str:
    rest = part.strip().split("://", 1)[-1].split("/", 1)[0]
    if rest.startswith("["):  # [::1]:9092
        return rest[1:].split("]", 1)[0]
    return rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest


def replay_topic(topic: str, service: str) -> str:
    """Where `dlq replay` hands dead letters of `topic` back to one service: only that
    service reads it, so the others never see a message twice."""
    return f"{topic}.replay.{service}"
