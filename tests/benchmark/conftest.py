"""A spy on the registry clients a benchmark opens: the real clients, recorded, not replaced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from pipeline import registry_client
from pipeline.config import Settings


class OpenedClients:
    """Every registry client `registry_client.connect` built while the fixture was in use."""

    def __init__(self) -> None:
        self.clients: list[SchemaRegistryClient] = []

    def left_open(self) -> int:
        return sum(1 for c in self.clients if not c._rest_client.session.is_closed)


@pytest.fixture
def opened_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenedClients]:
    opened, real = OpenedClients(), registry_client.connect

    def recording(settings: Settings) -> SchemaRegistryClient:
        client = real(settings)
        opened.clients.append(client)
        return client

    monkeypatch.setattr(registry_client, "connect", recording)
    yield opened
