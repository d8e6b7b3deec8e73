"""Session-wide real Kafka broker and schema registry, shared by every integration test
(one of each per pytest-xdist worker: `make test` runs two).

An existing cluster is reused when the environment names one (`KAFKA_BOOTSTRAP_SERVERS`,
`SCHEMA_REGISTRY_URL`); otherwise a broker is started on free loopback ports in a
temporary folder, and the project's registry in a thread, both stopped in `finally`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.config import Settings


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if existing:
        yield existing
        return
    from pipeline.devstack.testing import running_test_broker

    with running_test_broker(tmp_path_factory.mktemp("kafka")) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def registry_server(kafka_bootstrap: str) -> Iterator[tuple[str, str]]:
    """The registry's URL and the Kafka topic it keeps its state in."""
    existing = os.environ.get("SCHEMA_REGISTRY_URL")
    if existing:
        yield existing, os.environ.get("SCHEMA_REGISTRY_TOPIC", "_schemas")
        return
    from pipeline.registry.embedded import embedded_registry

    # A schemas topic of its own, so a reused cluster's registry state is never touched.
    with embedded_registry(kafka_bootstrap) as server:
        yield server.url, server.config.topic


@pytest.fixture(scope="session")
def registry_url(registry_server: tuple[str, str]) -> str:
    return registry_server[0]


@pytest.fixture(scope="session")
def registry_topic(registry_server: tuple[str, str]) -> str:
    return registry_server[1]


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL: the server named by `TEST_POSTGRES_URL` (never the user's
    `AUDIT_STORE_URL`), or one started from the machine's server programs on a free port.
    Its database `orders` is owned by the URL's role, which may create throwaway databases.
    """
    existing = os.environ.get("TEST_POSTGRES_URL")
    if existing:
        yield existing
        return
    from pipeline.devstack.testing import running_test_postgres

    with running_test_postgres(tmp_path_factory.mktemp("postgres")) as url:
        yield url


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names that no other test uses: topics, groups, subjects."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make


@pytest.fixture
def settings(
    kafka_bootstrap: str,
    registry_url: str,
    registry_topic: str,
    unique: Callable[[str], str],
    tmp_path: Path,
) -> Settings:
    """Settings pointing at the session's broker and registry, with this test's own topics."""
    topic = unique("order-events")
    return Settings(
        bootstrap_servers=kafka_bootstrap,
        registry_url=registry_url,
        topic=topic,
        alerts_topic=f"{topic}.alerts",
        dlq_topic=f"{topic}.dlq",
        db_path=tmp_path / "audit.db",
        registry_topic=registry_topic,
        state_dir=tmp_path / "state",
        stats_topic=f"{topic}.stats",
    )


@pytest.fixture(scope="session")
def pg_database(postgres_url: str) -> Iterator[str]:
    """A throwaway database on the session's PostgreSQL for audit stores, dropped at the end."""
    from tests.store.targets import throwaway_database

    with throwaway_database(postgres_url) as url:
        yield url


@pytest.fixture
def pg_store_url(pg_database: str) -> Iterator[str]:
    """A PostgreSQL audit store of this test's own: a fresh schema in the throwaway database."""
    from tests.store.targets import throwaway_schema

    with throwaway_schema(pg_database) as url:
        yield url
