"""The audit store on a real SQLite file: idempotence, evolution, orders, WAL."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from pipeline.errors import StoreError
from pipeline.store import AuditStore, versions
from tests.order_helpers import fetch
from tests.store.schemas import (
    V1,
    V2,
    event,
    order_value,
    writer,
)

W1, W2 = writer(1, V1), writer(2, V2)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "audit.db"  # the folder does not exist yet


def columns_of(path: Path, table: str = "events") -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return [(row[1], row[2]) for row in conn.execute(f"PRAGMA table_info({table})")]


def test_file_is_wal_with_the_five_tables_and_its_layout_version(db_path: Path) -> None:
    with AuditStore.open(db_path) as store:
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert fetch(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert fetch(db_path, "PRAGMA user_version") == [(versions.CURRENT,)]
    tables = fetch(db_path, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
    assert tables == [
        ("event_columns",),
        ("events",),
        ("orders",),
        ("positions",),
        ("schema_versions",),
    ]


def test_failed_batch_rolls_back_its_columns_too(db_path: Path) -> None:
    with AuditStore.open(db_path) as store:
        store.write([event(W1, order_value(), 0)])
        store.db.execute(
            "CREATE TRIGGER fail BEFORE INSERT ON events WHEN NEW.kafka_offset = 666 "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
        with pytest.raises(StoreError, match=r"cannot write to the audit store .*disk on fire"):
            store.write([event(W2, order_value(amount=1.0), 666)])
        assert "amount" not in dict(columns_of(db_path))
        assert fetch(db_path, "SELECT count(*) FROM schema_versions") == [(1,)]
        store.db.execute("DROP TRIGGER fail")
        assert store.write([event(W2, order_value(amount=3.0), 2)]).stored == 1
    assert dict(columns_of(db_path))["amount"] == "REAL"


def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-db").write_bytes(b"this is not SQLite " * 100)
    with pytest.raises(StoreError, match="cannot open the audit store"):
        AuditStore.open(tmp_path / "not-a-db")


def test_instances_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    """Two storage services started together race to create the tables; neither may fail."""
    for attempt in range(30):
        path = tmp_path / f"race-{attempt}.db"
        errors: list[BaseException] = []

        def open_and_close(path: Path = path, errors: list[BaseException] = errors) -> None:
            try:
                AuditStore.open(path).close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_and_close) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        with sqlite3.connect(path) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"events", "orders", "schema_versions", "event_columns"} <= tables
