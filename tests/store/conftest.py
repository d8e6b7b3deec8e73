"""Both audit stores for the store's behaviour tests: `target` runs a test on each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.targets import (
    PostgresTarget,
    SqliteTarget,
    Target,
    throwaway_database,
    throwaway_schema,
)


@pytest.fixture(scope="session")
def pg_database(postgres_url: str) -> Iterator[str]:
    """A throwaway database on the session's PostgreSQL, dropped at the end."""
    with throwaway_database(postgres_url) as url:
        yield url


@pytest.fixture
def pg_store_url(pg_database: str) -> Iterator[str]:
    """A store of its own: a fresh schema in the throwaway database."""
    with throwaway_schema(pg_database) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if request.param == "sqlite":
        return SqliteTarget(tmp_path / "data" / "audit.db")
    return PostgresTarget(request.getfixturevalue("pg_store_url"))
