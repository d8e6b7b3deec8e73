"""A store written by the release before store versions (tests/store/fixtures), opened now."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.store import AuditStore
from tests.order_helpers import fetch
from tests.store.schemas import V1, event, order_value, writer

FIXTURE = Path(__file__).parent / "fixtures" / "release1_audit.sqlite"


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    shutil.copyfile(FIXTURE, path)
    return path


def test_events_at_coordinates_the_old_rows_hold_are_stored(old_store: Path) -> None:
    """After a reset, the old store's rows sit at the offsets the new topic hands out again."""
    fresh = [
        replace(event(writer(1, V1), order_value(), offset, partition=0), topic_id="new-topic")
        for offset in range(10)
    ]
    with AuditStore.open(old_store) as store:
        result = store.write(fresh)
    assert (result.stored, result.duplicates) == (10, 0)
    assert fetch(old_store, "SELECT count(*) FROM events") == [(50,)]
