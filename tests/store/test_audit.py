"""The audit store on a real SQLite file: idempotence, evolution, orders, WAL."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import threading
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.errors import StoreError
from pipeline.store import AuditStore, versions
from tests.order_helpers import fetch
from tests.store.schemas import (
    NEW_WITHOUT_DEFAULT,
    T0,
    USER_ID_AS_INT,
    V1,
    V2,
    V3_NO_SOURCE,
    WITH_QUANTITY_INT,
    WITH_QUANTITY_LONG,
    event,
    evolve,
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


def test_batch_is_stored_with_its_kafka_coordinates(db_path: Path) -> None:
    value = order_value("PLACED", order_id="00000000-0000-4000-8000-000000000001")
    with AuditStore.open(db_path) as store:
        result = store.write([event(W1, value, offset=41, partition=3)])
    assert (result.stored, result.duplicates, result.refusals) == (1, 0, ())
    rows = fetch(
        db_path,
        "SELECT event_id, order_id, status, timestamp, source, kafka_topic, kafka_partition, "
        "kafka_offset, schema_id, schema_version FROM events",
    )
    assert rows == [
        (
            str(value["event_id"]),
            "00000000-0000-4000-8000-000000000001",
            "PLACED",
            "2024-05-01T12:00:00.000Z",
            "WEB",
            "order-events",
            3,
            41,
            1,
            1,
        )
    ]
    # SQLite's date functions read the stored text as a time.
    assert fetch(db_path, "SELECT strftime('%H:%M', timestamp) FROM events") == [("12:00",)]
    ((stored_at,),) = fetch(db_path, "SELECT stored_at FROM events")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stored_at)


def test_replay_never_makes_a_second_row(db_path: Path) -> None:
    batch = [event(W1, order_value(), offset=i) for i in range(50)]
    with AuditStore.open(db_path) as store:
        assert store.write(batch).stored == 50
        again = store.write(batch)
        assert (again.stored, again.duplicates) == (0, 50)
    with AuditStore.open(db_path) as reopened:  # a restarted service, a fresh cache
        mixed = reopened.write([*batch[40:], event(W1, order_value(), offset=50)])
        assert (mixed.stored, mixed.duplicates) == (1, 10)
    assert fetch(db_path, "SELECT count(*), count(DISTINCT event_id) FROM events") == [(51, 51)]


def test_interleaved_versions_grow_the_table(db_path: Path) -> None:
    batch = [
        event(W1, order_value(), 0),
        event(W2, order_value(amount=12.5, currency="USD"), 1),
        event(W1, order_value(), 2),
        event(W2, order_value(amount=None, currency="EUR"), 3),
    ]
    with AuditStore.open(db_path) as store:
        result = store.write(batch)
    assert (result.stored, result.refusals) == (4, ())
    assert columns_of(db_path)[-2:] == [("amount", "REAL"), ("currency", "TEXT")]
    rows = fetch(
        db_path, "SELECT kafka_offset, schema_id, amount, currency FROM events ORDER BY rowid"
    )
    assert rows == [
        (0, 1, None, None),
        (1, 2, 12.5, "USD"),
        (2, 1, None, None),
        (3, 2, None, "EUR"),
    ]
    assert fetch(db_path, "SELECT schema_id, version, accepted, reason FROM schema_versions") == [
        (
            1,
            1,
            1,
            "adds columns event_type (text), order_id (text), user_id (text), "
            "status (text), timestamp (timestamp), source (text)",
        ),
        (2, 2, 1, "adds columns amount (real), currency (text)"),
    ]
    assert fetch(
        db_path, "SELECT name, kind, schema_id FROM event_columns WHERE schema_id = 2"
    ) == [
        ("amount", "real", 2),
        ("currency", "text", 2),
    ]


def test_removed_field_and_promotion_need_no_column_change(db_path: Path) -> None:
    with AuditStore.open(db_path) as store:
        store.write([event(writer(1, WITH_QUANTITY_INT), order_value(quantity=2), 0)])
        before = columns_of(db_path)
        result = store.write(
            [
                event(writer(2, WITH_QUANTITY_LONG), order_value(quantity=2**40), 1),
                event(writer(3, V3_NO_SOURCE), {**order_value(), "source": None}, 2),
            ]
        )
    assert result.refusals == ()
    assert columns_of(db_path) == before
    rows = fetch(db_path, "SELECT quantity, source FROM events ORDER BY kafka_offset")
    assert rows == [(2, "WEB"), (2**40, "WEB"), (None, None)]


def test_refused_schema_leaves_the_table_unchanged(db_path: Path) -> None:
    w_bad, w_new = writer(5, USER_ID_AS_INT), writer(6, NEW_WITHOUT_DEFAULT)
    with AuditStore.open(db_path) as store:
        store.write([event(W1, order_value(), 0)])
        before = columns_of(db_path)
        result = store.write(
            [
                event(w_bad, {**order_value(), "user_id": 42}, 1),
                event(W1, order_value(), 2),
                event(w_new, order_value(priority=1), 3),
                event(w_bad, {**order_value(), "user_id": 43}, 4),
            ]
        )
    assert result.stored == 1
    assert [(r.event.offset, r.reason) for r in result.refusals] == [
        (
            1,
            "the audit store refuses schema id 5 (order-events-value v5): field 'user_id' "
            "changed type: the store keeps it as text, the writer sends int",
        ),
        (
            3,
            "the audit store refuses schema id 6 (order-events-value v6): field 'priority' is "
            "new and has no default: it would need a NOT NULL column, but the events already "
            "stored and those of older versions have no value for it",
        ),
        (
            4,
            "the audit store refuses schema id 5 (order-events-value v5): field 'user_id' "
            "changed type: the store keeps it as text, the writer sends int",
        ),
    ]
    assert columns_of(db_path) == before
    assert fetch(db_path, "SELECT schema_id, accepted FROM schema_versions ORDER BY 1") == [
        (1, 1),
        (5, 0),
        (6, 0),
    ]
    assert fetch(db_path, "SELECT kafka_offset FROM events ORDER BY 1") == [(0,), (2,)]


def test_refusal_is_sticky_across_restarts(db_path: Path) -> None:
    w_bad = writer(5, USER_ID_AS_INT)
    with AuditStore.open(db_path) as store:
        store.write([event(W1, order_value(), 0), event(w_bad, order_value(), 1)])
    with AuditStore.open(db_path) as reopened:
        result = reopened.write([event(w_bad, order_value(), 2)])
    assert len(result.refusals) == 1
    assert "field 'user_id' changed type" in result.refusals[0].reason


def test_event_without_event_id_is_refused_alone(db_path: Path) -> None:
    nullable_id = evolve(V1, retype={"event_id": ["null", "string"]})
    w = writer(1, nullable_id)
    with AuditStore.open(db_path) as store:
        result = store.write(
            [event(w, {**order_value(), "event_id": None}, 0), event(w, order_value(), 1)]
        )
    assert result.stored == 1
    assert [(r.event.offset, r.reason) for r in result.refusals] == [
        (0, "the event has no event_id: the store keys every event by it")
    ]


ORDER = "00000000-0000-4000-8000-0000000000aa"


def lifecycle(statuses: list[str]) -> list[dict[str, object]]:
    return [
        order_value(status, order_id=ORDER, at=T0 + dt.timedelta(minutes=i))
        for i, status in enumerate(statuses)
    ]


def order_rows(path: Path) -> list[tuple[object, ...]]:
    return fetch(
        path,
        "SELECT status, placed_at, confirmed_at, shipped_at, delivered_at, user_id FROM orders",
    )


EXPECTED_SHIPPED = [
    (
        "SHIPPED",
        "2024-05-01T12:00:00.000Z",
        "2024-05-01T12:01:00.000Z",
        "2024-05-01T12:02:00.000Z",
        None,
        "user-00042",
    )
]


def test_orders_follow_the_lifecycle(db_path: Path) -> None:
    values = lifecycle(["PLACED", "CONFIRMED", "SHIPPED"])
    with AuditStore.open(db_path) as store:
        store.write([event(W1, v, i) for i, v in enumerate(values)])
    assert order_rows(db_path) == EXPECTED_SHIPPED


def test_orders_never_go_backwards(db_path: Path) -> None:
    values = lifecycle(["PLACED", "CONFIRMED", "SHIPPED"])
    late_placed = order_value("PLACED", order_id=ORDER, at=T0 + dt.timedelta(hours=1))
    with AuditStore.open(db_path) as store:
        store.write([event(W1, values[2], 0)])  # SHIPPED first
        store.write([event(W1, values[0], 1), event(W1, values[1], 2)])  # older ones after
        store.write([event(W1, values[2], 0), event(W1, late_placed, 3)])  # replay, duplicate
    assert order_rows(db_path) == EXPECTED_SHIPPED


def test_orders_ignore_statuses_outside_the_lifecycle(db_path: Path) -> None:
    with_cancel = evolve(
        V1,
        retype={
            "status": {
                "type": "enum",
                "name": "OrderStatus",
                "symbols": ["PLACED", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED"],
            }
        },
    )
    values = lifecycle(["PLACED", "CONFIRMED", "SHIPPED"])
    with AuditStore.open(db_path) as store:
        store.write([event(W1, v, i) for i, v in enumerate(values)])
        cancelled = order_value("CANCELLED", order_id=ORDER)
        result = store.write([event(writer(2, with_cancel), cancelled, 9)])
    assert result.stored == 1
    assert order_rows(db_path) == EXPECTED_SHIPPED


def test_two_stores_on_one_file_share_evolution(db_path: Path) -> None:
    """Two storage instances in one group write the same file: decisions stay consistent."""
    with AuditStore.open(db_path) as first, AuditStore.open(db_path) as second:
        first.write([event(W1, order_value(), 0, partition=0)])
        second.write([event(W2, order_value(amount=1.0), 0, partition=1)])
        first.write([event(W2, order_value(amount=2.0), 1, partition=0)])
        second.write([event(W1, order_value(), 1, partition=1)])
    assert fetch(db_path, "SELECT count(*), sum(amount) FROM events") == [(4, 3.0)]
    assert fetch(db_path, "SELECT count(*) FROM event_columns WHERE name = 'amount'") == [(1,)]


def test_value_sqlite_cannot_bind_is_refused_alone(db_path: Path) -> None:
    with AuditStore.open(db_path) as store:
        result = store.write(
            [
                event(W2, order_value(amount=1.0), 0),
                event(W2, order_value(amount=object()), 1),
                event(W2, order_value(amount=3.0), 2),
            ]
        )
    assert result.stored == 2
    assert [r.event.offset for r in result.refusals] == [1]
    assert result.refusals[0].reason.startswith("a value of this event cannot be stored")
    assert fetch(db_path, "SELECT kafka_offset, amount FROM events") == [(0, 1.0), (2, 3.0)]


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


def test_empty_batch_touches_nothing(db_path: Path) -> None:
    with AuditStore.open(db_path) as store:
        assert store.write([]).stored == 0
    assert fetch(db_path, "SELECT count(*) FROM schema_versions") == [(0,)]


def test_uuid_objects_and_strings_store_alike(db_path: Path) -> None:
    ident = uuid.uuid4()
    with AuditStore.open(db_path) as store:
        store.write([event(W1, {**order_value(), "event_id": ident}, 0)])
        assert (
            store.write([event(W1, {**order_value(), "event_id": str(ident)}, 0)]).duplicates == 1
        )


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


def test_new_events_at_coordinates_an_earlier_topic_used_are_stored(db_path: Path) -> None:
    """Offsets start over when a topic is created again (or on another cluster): an event is
    known by its event_id, never by where Kafka kept it."""
    old = [replace(event(W1, order_value(), offset=i), topic_id="old-topic-id") for i in range(5)]
    new = [replace(event(W1, order_value(), offset=i), topic_id="new-topic-id") for i in range(5)]
    with AuditStore.open(db_path) as store:
        store.write(old)
        result = store.write(new)
    assert (result.stored, result.duplicates) == (5, 0)
    assert fetch(db_path, "SELECT count(*) FROM events") == [(10,)]


def test_schema_ids_are_told_apart_by_registry(db_path: Path) -> None:
    """Every registry starts its ids at 1: a verdict on one's id 1 says nothing of another's."""
    keyless = writer(1, evolve(V1, drop=("event_id",)))
    with AuditStore.open(db_path, registry_id="registry-a") as store:
        first = store.write([event(keyless, order_value(), 0)])
    with AuditStore.open(db_path, registry_id="registry-b") as store:
        second = store.write([event(W1, order_value(), 1)])
    assert (first.stored, len(first.refusals), second.stored, second.refusals) == (0, 1, 1, ())
    assert fetch(
        db_path,
        "SELECT schema_registry_id, schema_id, accepted FROM schema_versions ORDER BY 1",
    ) == [("registry-a", 1, 0), ("registry-b", 1, 1)]
    assert fetch(db_path, "SELECT schema_registry_id, schema_id FROM events") == [("registry-b", 1)]
    assert fetch(
        db_path, "SELECT DISTINCT schema_registry_id FROM event_columns WHERE schema_id = 1"
    ) == [("registry-b",)]


def test_an_event_that_breaks_another_constraint_is_an_error_not_a_skip(db_path: Path) -> None:
    """Only a known event_id is skipped: INSERT OR IGNORE used to swallow any conflict."""
    with AuditStore.open(db_path) as store:
        store.write([event(W1, order_value(), 0)])
        store.db.execute("CREATE UNIQUE INDEX one_per_order ON events (kafka_offset)")
        with pytest.raises(StoreError, match="UNIQUE constraint failed"):
            store.write([event(W1, order_value(), 0)])
