"""Both audit stores for the store's behaviour tests: `target` runs a test on each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.store.targets import PostgresTarget, SqliteTarget, Target


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if request.param == "sqlite":
        return SqliteTarget(tmp_path / "data" / "audit.db")
    return PostgresTarget(request.getfixturevalue("pg_store_url"))
