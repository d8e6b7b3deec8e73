"""What every audit store promises, checked on SQLite and on PostgreSQL alike (`target`):
idempotence by event_id, evolution by the shared rules, orders that never go backwards,
refusals, registries told apart, positions kept with the rows."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import replace

import pytest

from pipeline.errors import StoreError
from pipeline.model import Event, PartitionRef
from pipeline.store.positions import PositionBook
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
from tests.store.targets import Target

W1, W2 = writer(1, V1), writer(2, V2)


def field_columns(target: Target) -> list[tuple[str, str]]:
    return target.fetch("SELECT name, kind FROM event_columns ORDER BY name")


def test_batch_is_stored_with_its_kafka_coordinates(target: Target) -> None:
    value = order_value("PLACED", order_id="00000000-0000-4000-8000-000000000001")
    with target.open(registry_id="reg") as store:
        result = store.write([replace(event(W1, value, 41, partition=3), topic_id="tid")])
    assert (result.stored, result.duplicates, result.refusals) == (1, 0, ())
    rows = target.fetch(
        "SELECT event_id, order_id, status, timestamp, source, kafka_topic, kafka_topic_id, "
        "kafka_partition, kafka_offset, schema_registry_id, schema_id, schema_version "
        "FROM events"
    )
    assert rows == [
        (
            str(value["event_id"]),
            "00000000-0000-4000-8000-000000000001",
            "PLACED",
            "2024-05-01T12:00:00.000Z",
            "WEB",
            "order-events",
            "tid",
            3,
            41,
            "reg",
            1,
            1,
        )
    ]
    ((stored_at,),) = target.fetch("SELECT stored_at FROM events")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3,6}Z", stored_at)


def test_replay_never_makes_a_second_row(target: Target) -> None:
    batch = [event(W1, order_value(), offset=i) for i in range(50)]
    with target.open() as store:
        assert store.write(batch).stored == 50
        again = store.write(batch)
        assert (again.stored, again.duplicates) == (0, 50)
    with target.open() as reopened:  # a restarted service, a fresh cache
        mixed = reopened.write([*batch[40:], event(W1, order_value(), offset=50)])
        assert (mixed.stored, mixed.duplicates) == (1, 10)
    assert target.fetch("SELECT count(*), count(DISTINCT event_id) FROM events") == [(51, 51)]


def test_one_event_twice_in_a_batch_is_stored_once(target: Target) -> None:
    one = event(W1, order_value(), offset=0)
    with target.open() as store:
        result = store.write([one, replace(one, offset=1)])
    assert (result.stored, result.duplicates) == (1, 1)


def test_new_events_at_coordinates_an_earlier_topic_used_are_stored(target: Target) -> None:
    """Offsets start over when a topic is created again (or on another cluster): an event is
    known by its event_id, never by where Kafka kept it."""
    old = [replace(event(W1, order_value(), offset=i), topic_id="old-topic-id") for i in range(5)]
    new = [replace(event(W1, order_value(), offset=i), topic_id="new-topic-id") for i in range(5)]
    with target.open() as store:
        store.write(old)
        result = store.write(new)
    assert (result.stored, result.duplicates) == (5, 0)
    assert target.fetch("SELECT count(*) FROM events") == [(10,)]


def test_interleaved_versions_grow_the_table(target: Target) -> None:
    batch = [
        event(W1, order_value(), 0),
        event(W2, order_value(amount=12.5, currency="USD"), 1),
        event(W1, order_value(), 2),
        event(W2, order_value(amount=None, currency="EUR"), 3),
    ]
    with target.open() as store:
        result = store.write(batch)
    assert (result.stored, result.refusals) == (4, ())
    rows = target.fetch(
        "SELECT kafka_offset, schema_id, amount, currency FROM events ORDER BY kafka_offset"
    )
    assert rows == [
        (0, 1, None, None),
        (1, 2, 12.5, "USD"),
        (2, 1, None, None),
        (3, 2, None, "EUR"),
    ]
    assert target.fetch(
        "SELECT schema_id, version, accepted, reason FROM schema_versions ORDER BY 1"
    ) == [
        (
            1,
            1,
            1,
            "adds columns event_type (text), order_id (text), user_id (text), "
            "status (text), timestamp (timestamp), source (text)",
        ),
        (2, 2, 1, "adds columns amount (real), currency (text)"),
    ]
    assert target.fetch(
        "SELECT name, kind, schema_id FROM event_columns WHERE schema_id = 2 ORDER BY name"
    ) == [("amount", "real", 2), ("currency", "text", 2)]


def test_removed_field_and_promotion_need_no_column_change(target: Target) -> None:
    with target.open() as store:
        store.write([event(writer(1, WITH_QUANTITY_INT), order_value(quantity=2), 0)])
        before = field_columns(target)
        result = store.write(
            [
                event(writer(2, WITH_QUANTITY_LONG), order_value(quantity=2**40), 1),
                event(writer(3, V3_NO_SOURCE), {**order_value(), "source": None}, 2),
            ]
        )
    assert result.refusals == ()
    assert field_columns(target) == before
    rows = target.fetch("SELECT quantity, source FROM events ORDER BY kafka_offset")
    assert rows == [(2, "WEB"), (2**40, "WEB"), (None, None)]


def test_refused_schema_leaves_the_table_unchanged(target: Target) -> None:
    w_bad, w_new = writer(5, USER_ID_AS_INT), writer(6, NEW_WITHOUT_DEFAULT)
    with target.open() as store:
        store.write([event(W1, order_value(), 0)])
        before = field_columns(target)
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
    assert field_columns(target) == before
    assert target.fetch("SELECT schema_id, accepted FROM schema_versions ORDER BY 1") == [
        (1, 1),
        (5, 0),
        (6, 0),
    ]
    assert target.fetch("SELECT kafka_offset FROM events ORDER BY 1") == [(0,), (2,)]


def test_refusal_is_sticky_across_restarts(target: Target) -> None:
    w_bad = writer(5, USER_ID_AS_INT)
    with target.open() as store:
        store.write([event(W1, order_value(), 0), event(w_bad, order_value(), 1)])
    with target.open() as reopened:
        result = reopened.write([event(w_bad, order_value(), 2)])
    assert len(result.refusals) == 1
    assert "field 'user_id' changed type" in result.refusals[0].reason


def test_a_real_into_an_integer_column_depends_on_the_store(target: Target) -> None:
    """SQLite keeps each value's own type, so the promotion group goes either way; a typed
    PostgreSQL column cannot keep 2.5 in a bigint, so that writer is refused there."""
    as_double = evolve(WITH_QUANTITY_INT, retype={"quantity": "double"})
    with target.open() as store:
        store.write([event(writer(1, WITH_QUANTITY_INT), order_value(quantity=2), 0)])
        result = store.write([event(writer(2, as_double), order_value(quantity=2.5), 1)])
    if target.kind == "sqlite":
        assert (result.stored, result.refusals) == (1, ())
    else:
        assert [r.reason.split(": ", 1)[1] for r in result.refusals] == [
            "field 'quantity' changed type: the store keeps it as integer, the writer sends double"
        ]


def test_event_without_event_id_is_refused_alone(target: Target) -> None:
    nullable_id = evolve(V1, retype={"event_id": ["null", "string"]})
    w = writer(1, nullable_id)
    stored = order_value()  # a plain string id, as a decoder gives for this schema
    stored["event_id"] = str(stored["event_id"])
    with target.open() as store:
        result = store.write(
            [event(w, {**order_value(), "event_id": None}, 0), event(w, stored, 1)]
        )
    assert result.stored == 1
    assert [(r.event.offset, r.reason) for r in result.refusals] == [
        (0, "the event has no event_id: the store keys every event by it")
    ]


def test_a_value_the_store_cannot_keep_is_refused_alone(target: Target) -> None:
    with target.open() as store:
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
    assert target.fetch("SELECT kafka_offset, amount FROM events ORDER BY 1") == [
        (0, 1.0),
        (2, 3.0),
    ]


def test_a_nul_character_is_kept_by_sqlite_and_refused_alone_by_postgresql(
    target: Target,
) -> None:
    with target.open() as store:
        result = store.write(
            [event(W1, order_value(), 0), event(W1, {**order_value(), "user_id": "a\x00b"}, 1)]
        )
    if target.kind == "sqlite":
        assert (result.stored, result.refusals) == (2, ())
    else:
        assert (result.stored, [r.event.offset for r in result.refusals]) == (1, [1])
        assert "NUL" in result.refusals[0].reason


ORDER = "00000000-0000-4000-8000-0000000000aa"


def lifecycle(statuses: list[str]) -> list[dict[str, object]]:
    return [
        order_value(status, order_id=ORDER, at=T0 + dt.timedelta(minutes=i))
        for i, status in enumerate(statuses)
    ]


def order_rows(target: Target) -> list[tuple[object, ...]]:
    return target.fetch(
        "SELECT status, placed_at, confirmed_at, shipped_at, delivered_at, user_id FROM orders"
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


def test_orders_follow_the_lifecycle(target: Target) -> None:
    values = lifecycle(["PLACED", "CONFIRMED", "SHIPPED"])
    with target.open() as store:
        store.write([event(W1, v, i) for i, v in enumerate(values)])
    assert order_rows(target) == EXPECTED_SHIPPED


def test_orders_never_go_backwards(target: Target) -> None:
    values = lifecycle(["PLACED", "CONFIRMED", "SHIPPED"])
    late_placed = order_value("PLACED", order_id=ORDER, at=T0 + dt.timedelta(hours=1))
    with target.open() as store:
        store.write([event(W1, values[2], 0)])  # SHIPPED first
        store.write([event(W1, values[0], 1), event(W1, values[1], 2)])  # older ones after
        store.write([event(W1, values[2], 0), event(W1, late_placed, 3)])  # replay, duplicate
    assert order_rows(target) == EXPECTED_SHIPPED


def test_orders_ignore_statuses_outside_the_lifecycle(target: Target) -> None:
    with_unknown = evolve(
        V1,
        retype={
            "status": {
                "type": "enum",
                "name": "OrderStatus",
                "symbols": ["PLACED", "CONFIRMED", "SHIPPED", "DELIVERED", "LOST_IN_SPACE"],
            }
        },
    )
    values = lifecycle(["PLACED", "CONFIRMED", "SHIPPED"])
    with target.open() as store:
        store.write([event(W1, v, i) for i, v in enumerate(values)])
        lost = order_value("LOST_IN_SPACE", order_id=ORDER)
        result = store.write([event(writer(2, with_unknown), lost, 9)])
    assert result.stored == 1
    assert order_rows(target) == EXPECTED_SHIPPED


def test_two_stores_on_one_target_share_evolution(target: Target) -> None:
    """Two storage instances in one group write the same store: decisions stay consistent."""
    with target.open() as first, target.open() as second:
        first.write([event(W1, order_value(), 0, partition=0)])
        second.write([event(W2, order_value(amount=1.0), 0, partition=1)])
        first.write([event(W2, order_value(amount=2.0), 1, partition=0)])
        second.write([event(W1, order_value(), 1, partition=1)])
    assert target.fetch("SELECT count(*), sum(amount) FROM events") == [(4, 3.0)]
    assert target.fetch("SELECT count(*) FROM event_columns WHERE name = 'amount'") == [(1,)]


def test_a_failed_batch_leaves_no_row_and_no_position(target: Target) -> None:
    book = PositionBook()
    with target.open() as store:
        store.write([tagged(0)], book)
        target.fail_inserts_at_offset(666)
        with pytest.raises(StoreError, match=r"audit store .*disk on fire"):
            store.write([tagged(1), tagged(666)], book)
        assert target.fetch("SELECT count(*) FROM events") == [(1,)]
        assert store.positions([P0]) == {P0: 1}
        target.stop_failing()
        assert store.write([tagged(1), tagged(2)], book).stored == 2
        assert store.positions([P0]) == {P0: 3}


def test_empty_batch_touches_nothing(target: Target) -> None:
    with target.open() as store:
        assert store.write([]).stored == 0
    assert target.fetch("SELECT count(*) FROM schema_versions") == [(0,)]


def test_uuid_objects_and_strings_store_alike(target: Target) -> None:
    ident = uuid.uuid4()
    with target.open() as store:
        store.write([event(W1, {**order_value(), "event_id": ident}, 0)])
        again = store.write([event(W1, {**order_value(), "event_id": str(ident)}, 0)])
    assert again.duplicates == 1


def test_schema_ids_are_told_apart_by_registry(target: Target) -> None:
    """Every registry starts its ids at 1: a verdict on one's id 1 says nothing of another's."""
    keyless = writer(1, evolve(V1, drop=("event_id",)))
    with target.open(registry_id="registry-a") as store:
        first = store.write([event(keyless, order_value(), 0)])
    with target.open(registry_id="registry-b") as store:
        second = store.write([event(W1, order_value(), 1)])
    assert (first.stored, len(first.refusals), second.stored, second.refusals) == (0, 1, 1, ())
    assert target.fetch(
        "SELECT schema_registry_id, schema_id, accepted FROM schema_versions ORDER BY 1"
    ) == [("registry-a", 1, 0), ("registry-b", 1, 1)]
    assert target.fetch("SELECT schema_registry_id, schema_id FROM events") == [("registry-b", 1)]
    assert target.fetch(
        "SELECT DISTINCT schema_registry_id FROM event_columns WHERE schema_id = 1"
    ) == [("registry-b",)]


def test_an_event_that_breaks_another_constraint_is_an_error_not_a_skip(target: Target) -> None:
    """Only a known event_id is skipped: INSERT OR IGNORE used to swallow any conflict."""
    with target.open() as store:
        store.write([event(W1, order_value(), 0)])
        target.execute("CREATE UNIQUE INDEX one_per_offset ON events (kafka_offset)")
        with pytest.raises(StoreError, match=r"(UNIQUE constraint failed|duplicate key)"):
            store.write([event(W1, order_value(), 0)])


# --- positions -------------------------------------------------------------------------

P0, P1 = PartitionRef("order-events", 0, "tid"), PartitionRef("order-events", 1, "tid")


def tagged(offset: int, partition: int = 0) -> Event:
    return replace(event(W1, order_value(), offset, partition), topic_id="tid")


def test_positions_are_stored_with_the_rows_and_read_back(target: Target) -> None:
    with target.open() as store:
        store.write([tagged(0), tagged(1), tagged(2), tagged(0, 1)], PositionBook())
    other_topic = PartitionRef("order-events", 0, "another-id")
    with target.open() as reopened:
        assert reopened.positions([P0, P1, other_topic]) == {P0: 3, P1: 1}
    assert target.fetch(
        "SELECT kafka_topic, kafka_topic_id, kafka_partition FROM positions ORDER BY 3"
    ) == [("order-events", "tid", 0), ("order-events", "tid", 1)]


def test_a_position_never_moves_back_in_the_store(target: Target) -> None:
    """Two instances around a rebalance: the one that lost the partition writes late."""
    with target.open() as first, target.open() as second:
        first.write([tagged(0), tagged(1), tagged(2), tagged(3)], PositionBook())
        second.write([tagged(0), tagged(1)], PositionBook())
        assert second.positions([P0]) == {P0: 4}


def test_a_cancelled_order_stays_cancelled(target: Target) -> None:
    """v3's CANCELLED is terminal: a late CONFIRMED or SHIPPED does not undo it."""
    v3 = evolve(
        V1,
        retype={
            "status": {
                "type": "enum",
                "name": "OrderStatus",
                "symbols": ["PLACED", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED"],
            }
        },
    )
    placed, cancelled, shipped = lifecycle(["PLACED", "CANCELLED", "SHIPPED"])
    with target.open() as store:
        store.write([event(writer(3, v3), placed, 0), event(writer(3, v3), cancelled, 1)])
        store.write([event(writer(3, v3), shipped, 2)])
    assert target.fetch("SELECT status, placed_at, cancelled_at, shipped_at FROM orders") == [
        (
            "CANCELLED",
            "2024-05-01T12:00:00.000Z",
            "2024-05-01T12:01:00.000Z",
            "2024-05-01T12:02:00.000Z",
        )
    ]
