"""Reading the store with no way to write, while a writer is at work."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pipeline.errors import StoreError
from pipeline.store import AuditStore, open_read_only, run_query
from tests.store.schemas import V1, event, order_value, writer


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    with AuditStore.open(path) as store:
        store.write([event(writer(1, V1), order_value(), i) for i in range(3)])
    return path


def test_reads_rows(db_path: Path) -> None:
    db = open_read_only(db_path)
    try:
        names, rows = run_query(db, "SELECT count(*) AS n, min(kafka_offset) FROM events")
    finally:
        db.close()
    assert names == ["n", "min(kafka_offset)"]
    assert rows == [(3, 0)]


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM events",
        "INSERT INTO orders (order_id) VALUES ('x')",
        "DROP TABLE events",
        "CREATE TABLE sneaky (x)",
        "PRAGMA user_version = 7",
        "VACUUM",
    ],
)
def test_writes_are_refused_with_a_clear_message(db_path: Path, sql: str) -> None:
    db = open_read_only(db_path)
    try:
        with pytest.raises(StoreError, match="opened read-only: this statement would write"):
            run_query(db, sql)
    finally:
        db.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (3,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_bad_sql_is_a_one_line_error(db_path: Path) -> None:
    db = open_read_only(db_path)
    try:
        with pytest.raises(StoreError, match=r'^SQL error: near "SELEC": syntax error$'):
            run_query(db, "SELEC 1")
        with pytest.raises(StoreError, match=r"^SQL error: no such table: nope$"):
            run_query(db, "SELECT * FROM nope")
    finally:
        db.close()


def test_missing_file_is_refused_without_creating_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(StoreError, match=f"^no audit store at {missing}"):
        open_read_only(missing)
    assert not missing.exists()


def test_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"definitely not a database" * 100)
    with pytest.raises(StoreError, match=r"cannot read the audit store .*not a database"):
        open_read_only(path)


def test_reader_sees_committed_data_while_a_writer_holds_a_transaction(db_path: Path) -> None:
    with AuditStore.open(db_path) as store:
        store.db.execute("BEGIN IMMEDIATE")
        store.db.conn.execute("DELETE FROM events")  # uncommitted
        db = open_read_only(db_path)
        try:
            assert run_query(db, "SELECT count(*) FROM events")[1] == [(3,)]
        finally:
            db.close()
            store.db.rollback()
