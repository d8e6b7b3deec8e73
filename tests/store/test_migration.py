"""A store written by the release before store versions (tests/store/fixtures), opened now."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.errors import StoreError
from pipeline.store import AuditStore, versions
from tests.order_helpers import fetch
from tests.store.schemas import V1, V2, event, order_value, writer

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


def layout(path: Path) -> dict[str, object]:
    """Each table's columns (name, type, not null, default, primary key) and indexes."""
    names = [row[0] for row in fetch(path, "SELECT name FROM sqlite_master WHERE type='table'")]
    found: dict[str, object] = {}
    for name in names:
        columns = fetch(
            path, f"SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('{name}')"
        )
        indexes = fetch(path, f"SELECT \"unique\", origin FROM pragma_index_list('{name}')")
        found[name] = (sorted(columns), sorted(indexes))
    return found


def test_the_old_store_is_upgraded_on_open_keeping_what_it_held(old_store: Path) -> None:
    assert fetch(old_store, "PRAGMA user_version") == [(0,)]
    with AuditStore.open(old_store):
        pass
    assert fetch(old_store, "PRAGMA user_version") == [(versions.CURRENT,)]
    assert fetch(
        old_store,
        "SELECT count(*), count(DISTINCT kafka_partition), sum(kafka_topic_id = ''), "
        "sum(schema_registry_id = ''), count(amount) FROM events",
    ) == [(40, 3, 40, 40, 10)]
    # The first release's verdicts are kept, under the registry it did not know ('').
    assert fetch(
        old_store,
        "SELECT schema_registry_id, schema_id, version, accepted FROM schema_versions "
        "ORDER BY schema_id",
    ) == [("", 1, 1, 1), ("", 2, 2, 1), ("", 3, 3, 0)]
    assert fetch(old_store, "SELECT count(*) FROM orders") == [(40,)]
    assert fetch(old_store, "SELECT count(*) FROM positions") == [(0,)]


def test_an_upgraded_store_has_the_layout_of_a_new_one(old_store: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    columns = [event(writer(1, V1), order_value(), 0), event(writer(2, V2), order_value(), 1)]
    with AuditStore.open(fresh) as store:
        store.write(columns)  # the same schema columns as the old file
    with AuditStore.open(old_store):
        pass
    assert layout(old_store) == layout(fresh)


def test_the_upgrade_runs_once_when_several_services_open_the_store(old_store: Path) -> None:
    errors: list[BaseException] = []

    def open_and_close() -> None:
        try:
            AuditStore.open(old_store).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert fetch(old_store, "PRAGMA user_version") == [(versions.CURRENT,)]
    assert fetch(old_store, "SELECT count(*) FROM schema_versions") == [(3,)]


def test_a_failed_upgrade_leaves_the_file_as_it_was(old_store: Path) -> None:
    with sqlite3.connect(old_store) as conn:  # a column the upgrade is about to add
        conn.execute("ALTER TABLE event_columns ADD COLUMN schema_registry_id TEXT")
    with pytest.raises(StoreError, match=r"cannot open the audit store .*duplicate column"):
        AuditStore.open(old_store)
    assert fetch(old_store, "PRAGMA user_version") == [(0,)]
    assert "kafka_topic_id" not in {
        row[0] for row in fetch(old_store, "SELECT name FROM pragma_table_info('events')")
    }
    assert fetch(
        old_store, "SELECT count(*) FROM pragma_index_list('events') WHERE \"unique\""
    ) == [(2,)]


def test_the_old_stores_verdicts_do_not_bind_a_known_registry(old_store: Path) -> None:
    """Schema id 3 was refused by the first release, from a registry it did not name."""
    with AuditStore.open(old_store, registry_id="registry-b") as store:
        result = store.write([event(writer(3, V2), order_value(amount=1.0), 30)])
    assert (result.stored, result.refusals) == (1, ())


def test_a_store_of_a_later_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    AuditStore.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {versions.CURRENT + 1}")
    with pytest.raises(StoreError, match=r"layout version is 3, written by a later release"):
        AuditStore.open(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"these are my notes\n" * 100, "file is not a database"),
        (None, "not an audit store"),
    ],
)
def test_a_file_that_is_not_an_audit_store_is_refused_untouched(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "other.db"
    if content is None:
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=f"cannot open the audit store {path}: .*{reason}"):
        AuditStore.open(path)
    assert path.read_bytes() == before


def test_a_missing_folder_is_created_or_refused_as_asked(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no folder .*typo"):
        AuditStore.open(tmp_path / "typo" / "audit.db", create_folder=False)
    assert not (tmp_path / "typo").exists()
    AuditStore.open(tmp_path / "data" / "audit.db").close()
    assert (tmp_path / "data" / "audit.db").is_file()


def test_an_old_store_gets_the_columns_of_statuses_added_since(old_store: Path) -> None:
    v3_cancelled = {**order_value("CANCELLED"), "event_id": "cancel-1"}
    with AuditStore.open(old_store) as store:
        store.write([event(writer(9, V1), v3_cancelled, 50)])
    assert fetch(old_store, "SELECT count(cancelled_at) FROM orders") == [(1,)]


def test_a_new_store_takes_large_pages_and_an_old_one_keeps_its_own(
    old_store: Path, tmp_path: Path
) -> None:
    with AuditStore.open(tmp_path / "new.db") as new, AuditStore.open(old_store) as old:
        pages = {
            name: (
                store.db.execute("PRAGMA page_size").fetchone()[0],
                store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0],
            )
            for name, store in (("new", new), ("old", old))
        }
    # The checkpoint comes after the same bytes of WAL whatever the page size.
    assert pages == {
        "new": (versions.PAGE_BYTES, versions.CHECKPOINT_BYTES // versions.PAGE_BYTES),
        "old": (4096, versions.CHECKPOINT_BYTES // 4096),
    }
