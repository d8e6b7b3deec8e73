"""A registry served inside this process, for tests and benchmarks: the one way to get one.

It listens on a free loopback port and keeps its state in a `_schemas` topic of its own
(so a cluster's real registry is never touched), and stops when the block ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from pipeline.kafka.admin import Admin
from pipeline.registry.server import RegistryConfig, RegistryServer


def fresh_topic(prefix: str = "_schemas-test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@contextmanager
def embedded_registry(
    bootstrap_servers: str,
    *,
    topic: str | None = None,
    client_properties: Mapping[str, str] = MappingProxyType({}),
    delete_topic: bool = False,
    **config: Any,
) -> Iterator[RegistryServer]:
    """Serve a registry in a thread until the block ends; `delete_topic` drops its state."""
    name = topic or fresh_topic()
    server = RegistryServer(
        RegistryConfig(
            bootstrap_servers=bootstrap_servers,
            topic=name,
            client_properties=client_properties,
            **{"port": 0, **config},
        )
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if delete_topic:
            Admin({"bootstrap.servers": bootstrap_servers, **client_properties}).delete([name])
