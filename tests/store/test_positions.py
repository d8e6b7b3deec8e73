"""Partition positions: how far the book lets them move (pure), and how the store keeps them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.errors import StoreError
from pipeline.model import Event, PartitionRef
from pipeline.store import AuditStore
from pipeline.store.positions import PositionBook
from tests.order_helpers import fetch
from tests.store.schemas import V1, event, order_value, writer

W1 = writer(1, V1)
P0, P1 = PartitionRef("order-events", 0, "tid"), PartitionRef("order-events", 1, "tid")


def events_at(partition: int, *offsets: int, topic_id: str = "tid") -> list[Event]:
    return [
        replace(event(W1, order_value(), offset, partition), topic_id=topic_id)
        for offset in offsets
    ]


def test_a_stored_position_moves_over_the_events_that_follow_it() -> None:
    book = PositionBook()
    book.start({P0: 10})
    assert book.plan(events_at(0, 10, 11, 12), refused=[]) == {P0: 13}
    book.settle()
    assert book.plan(events_at(0, 13), refused=[]) == {P0: 14}


def test_a_partition_without_a_position_starts_at_its_first_event() -> None:
    book = PositionBook()
    assert book.plan(events_at(1, 5, 6), refused=[]) == {P1: 7}


def test_a_gap_or_a_refused_event_holds_the_position_until_the_next_batch() -> None:
    """The runner dead-letters undecodable messages (the gap) and refused events after the
    store's transaction: the position passes them only once the runner comes back."""
    book = PositionBook()
    book.start({P0: 0, P1: 0})
    batch = [*events_at(0, 0, 1, 3, 4), *events_at(1, 0, 1, 2)]
    refused = [batch[5]]  # partition 1, offset 1
    assert book.plan(batch, refused) == {P0: 2, P1: 1}
    book.settle()
    assert book.plan(events_at(0, 5), refused=[]) == {P0: 6, P1: 3}


def test_an_unsettled_batch_is_not_settled_by_a_failed_transaction() -> None:
    book = PositionBook()
    book.start({P0: 0})
    book.plan(events_at(0, 0, 2), refused=[])  # the transaction fails: no settle()
    assert book.plan(events_at(0, 0, 2), refused=[]) == {P0: 1}


def test_events_read_again_after_a_seek_never_move_a_position_back() -> None:
    book = PositionBook()
    book.start({P0: 50})
    assert book.plan(events_at(0, 40, 41, 50), refused=[]) == {P0: 51}


def test_forgotten_partitions_leave_their_unsettled_ends_behind() -> None:
    book = PositionBook()
    book.start({P0: 0})
    book.plan(events_at(0, 0, 2), refused=[])
    book.settle()
    book.forget([P0])
    assert book.plan(events_at(1, 7), refused=[]) == {P1: 8}


def test_events_without_a_topic_id_get_no_position() -> None:
    """A position keyed by a topic's name alone would outlive the topic."""
    assert PositionBook().plan(events_at(0, 1, topic_id=""), refused=[]) == {}


# --- in the store ----------------------------------------------------------------------


def test_positions_are_stored_with_the_rows_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditStore.open(path) as store:
        store.write([*events_at(0, 0, 1, 2), *events_at(1, 0)], PositionBook())
    other_topic = PartitionRef("order-events", 0, "another-id")
    with AuditStore.open(path) as reopened:
        assert reopened.positions([P0, P1, other_topic]) == {P0: 3, P1: 1}
    assert fetch(path, "SELECT kafka_topic, kafka_topic_id, kafka_partition FROM positions") == [
        ("order-events", "tid", 0),
        ("order-events", "tid", 1),
    ]


def test_a_failed_batch_stores_no_position(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    book = PositionBook()
    with AuditStore.open(path) as store:
        store.write(events_at(0, 0), book)
        store.db.execute(
            "CREATE TRIGGER fail BEFORE INSERT ON events WHEN NEW.kafka_offset = 2 "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
        with pytest.raises(StoreError, match="disk on fire"):
            store.write(events_at(0, 1, 2), book)
        assert store.positions([P0]) == {P0: 1}
        store.db.execute("DROP TRIGGER fail")
        store.write(events_at(0, 1, 2), book)
        assert store.positions([P0]) == {P0: 3}


def test_a_position_never_moves_back_in_the_store(tmp_path: Path) -> None:
    """Two instances around a rebalance: the one that lost the partition writes late."""
    path = tmp_path / "audit.db"
    with AuditStore.open(path) as first, AuditStore.open(path) as second:
        first.write(events_at(0, 0, 1, 2, 3), PositionBook())
        second.write(events_at(0, 0, 1), PositionBook())
        assert second.positions([P0]) == {P0: 4}
