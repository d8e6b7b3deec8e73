"""The pure rules of placing and moving one order (no server)."""

from __future__ import annotations

import uuid

import pytest

from pipeline.orders import (
    OrderRecord,
    derived_ids,
    event_of,
    status_symbols,
    transition_refusal,
    uuid7_pair,
    version_carrying,
)
from pipeline.schema_files import ORDER_EVENT_V1, ORDER_EVENT_V3

LEGAL = [
    ("PLACED", "CONFIRMED"),
    ("CONFIRMED", "SHIPPED"),
    ("SHIPPED", "DELIVERED"),
    ("PLACED", "CANCELLED"),
    ("CONFIRMED", "CANCELLED"),
]


@pytest.mark.parametrize(("current", "wanted"), LEGAL)
def test_the_lifecycle_allows_one_step_or_an_early_cancellation(current: str, wanted: str) -> None:
    assert transition_refusal(current, wanted) is None


@pytest.mark.parametrize(
    ("current", "wanted", "reason"),
    [
        ("PLACED", "SHIPPED", "after PLACED comes CONFIRMED"),
        ("PLACED", "DELIVERED", "after PLACED comes CONFIRMED"),
        ("SHIPPED", "CONFIRMED", "after SHIPPED comes DELIVERED"),
        ("CONFIRMED", "CONFIRMED", "CONFIRMED -> CONFIRMED"),
        ("SHIPPED", "CANCELLED", "a SHIPPED order cannot be cancelled"),
        ("DELIVERED", "CANCELLED", "nothing follows DELIVERED"),
        ("CANCELLED", "CONFIRMED", "nothing follows CANCELLED"),
        ("CANCELLED", "CANCELLED", "nothing follows CANCELLED"),
        ("PLACED", "PLACED", "already placed"),
        ("PLACED", "LOST", "unknown status 'LOST'"),
    ],
)
def test_every_other_move_is_refused_with_its_reason(
    current: str, wanted: str, reason: str
) -> None:
    refusal = transition_refusal(current, wanted)
    assert refusal is not None and reason in refusal


def test_an_idempotency_key_always_gives_the_same_ids_and_scopes_them() -> None:
    assert derived_ids("k1", "placed") == derived_ids("k1", "placed")
    assert derived_ids("k1", "placed") != derived_ids("k2", "placed")
    order_a, event_a = derived_ids("k1", "placed")
    order_b, event_b = derived_ids("k1", "o-1:CONFIRMED")
    assert order_a == order_b and event_a != event_b
    assert all(uuid.UUID(i) for i in (order_a, event_a, event_b))


def test_fresh_ids_are_time_ordered_uuid7() -> None:
    early, late = uuid7_pair(1_000)[0], uuid7_pair(2_000)[0]
    assert uuid.UUID(early).version == 7 and early < late


def test_the_schema_files_say_which_version_carries_a_status() -> None:
    assert "CANCELLED" not in status_symbols(ORDER_EVENT_V1.read_text())
    assert "CANCELLED" in status_symbols(ORDER_EVENT_V3.read_text())
    assert version_carrying("CANCELLED") == "order_event v3 (schemas/order_event.v3.avsc)"
    assert version_carrying("CONFIRMED").startswith("order_event v1")


def test_an_event_repeats_the_orders_fields() -> None:
    order = OrderRecord("o-1", "SHIPPED", "user-1", "WEB", 12.5, "GBP", 1_700_000_000_000)
    event = event_of(order, "e-1")
    assert event["event_type"] == "order_shipped" and event["status"] == "SHIPPED"
    assert (event["user_id"], event["source"], event["amount"], event["currency"]) == (
        "user-1",
        "WEB",
        12.5,
        "GBP",
    )
