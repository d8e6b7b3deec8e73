"""From decoded values to what the columns keep (pure)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal

import pytest

from pipeline.store.admission import Placement
from pipeline.store.kinds import Kind
from pipeline.store.orders import UPSERT_SQL, order_row
from pipeline.store.rows import (
    IsoMillis,
    aware_datetime,
    converter,
    field_values,
    iso_timestamp,
    plan_rows,
)

AT = dt.datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=dt.UTC)


def test_timestamps_are_iso_utc_with_z() -> None:
    assert iso_timestamp(AT) == "2024-05-01T12:00:00.123Z"
    assert iso_timestamp(AT.replace(microsecond=123456)) == "2024-05-01T12:00:00.123456Z"
    cest = dt.timezone(dt.timedelta(hours=2))
    assert iso_timestamp(dt.datetime(2024, 5, 1, 14, 0, tzinfo=cest)) == "2024-05-01T12:00:00.000Z"
    assert iso_timestamp(1714564800123) == "2024-05-01T12:00:00.123Z"  # epoch ms
    assert iso_timestamp(dt.datetime(2024, 5, 1, 12, 0)) == "2024-05-01T12:00:00.000"  # local
    assert iso_timestamp(None) is None


def test_converters_by_kind() -> None:
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert converter(Kind.TEXT, Kind.TEXT)(ident) == "12345678-1234-5678-1234-567812345678"
    assert converter(Kind.INTEGER, Kind.INTEGER) is None  # stored as decoded
    assert converter(Kind.REAL, Kind.INTEGER) is None
    assert converter(Kind.DECIMAL, Kind.DECIMAL)(Decimal("12.50")) == "12.50"
    assert converter(Kind.DATE, Kind.DATE)(dt.date(2024, 5, 1)) == "2024-05-01"
    as_json = converter(Kind.JSON, Kind.JSON)
    assert as_json({"at": AT, "n": [1, 2], "b": b"\x01"}) == (
        '{"at":"2024-05-01T12:00:00.123Z","n":[1,2],"b":"AQ=="}'
    )
    assert as_json(None) is None


def test_string_bytes_promotion_converts_to_the_column() -> None:
    assert converter(Kind.BYTES, Kind.TEXT)("héllo".encode()) == "héllo"
    assert converter(Kind.BYTES, Kind.TEXT)(b"\xff\xfe") == b"\xff\xfe"  # not UTF-8: kept
    assert converter(Kind.TEXT, Kind.BYTES)("héllo") == "héllo".encode()


def test_row_plan_insert_and_values() -> None:
    plan = plan_rows(
        7,
        2,
        [
            Placement("event_id", Kind.TEXT, Kind.TEXT),
            Placement("order_id", Kind.TEXT, Kind.TEXT),
            Placement("status", Kind.TEXT, Kind.TEXT),
            Placement("timestamp", Kind.TIMESTAMP, Kind.TIMESTAMP),
            Placement("amount", Kind.INTEGER, Kind.REAL),
        ],
    )
    assert plan.insert_sql == (
        'INSERT INTO events ("event_id", "order_id", "status", "timestamp", "amount", '
        '"kafka_topic", "kafka_topic_id", "kafka_partition", "kafka_offset", '
        '"schema_registry_id", "schema_id", "schema_version", "stored_at") '
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
    )
    assert plan.key_index == 0
    assert plan.order_index == {"order_id": 1, "status": 2, "timestamp": 3}
    value = {"event_id": "e1", "order_id": uuid.UUID(int=1), "status": "SHIPPED", "timestamp": AT}
    fields = field_values(plan, {**value, "amount": 3})
    assert fields == [
        "e1",
        "00000000-0000-0000-0000-000000000001",
        "SHIPPED",
        "2024-05-01T12:00:00.123Z",
        3,
    ]
    assert order_row(plan, fields, "now") == [
        "00000000-0000-0000-0000-000000000001",
        None,
        "SHIPPED",
        None,
        None,
        "2024-05-01T12:00:00.123Z",
        None,
        None,
        "now",
    ]


def test_order_row_skips_statuses_outside_the_lifecycle() -> None:
    plan = plan_rows(
        1,
        1,
        [Placement("event_id", Kind.TEXT, Kind.TEXT), Placement("order_id", Kind.TEXT, Kind.TEXT)],
    )
    assert order_row(plan, ["e", "o"], "now") is None  # no status field at all
    with_status = plan_rows(
        1,
        1,
        [
            Placement("event_id", Kind.TEXT, Kind.TEXT),
            Placement("order_id", Kind.TEXT, Kind.TEXT),
            Placement("status", Kind.TEXT, Kind.TEXT),
        ],
    )
    assert order_row(with_status, ["e", "o", "LOST_IN_SPACE"], "now") is None
    assert "ON CONFLICT(order_id) DO UPDATE" in UPSERT_SQL


# Epoch milliseconds at the edges: years 1 and 9999, around the epoch, leap days, and
# values a float division would round (what a full Avro read makes of them is exact).
EDGE_MILLIS = [
    -62_135_596_800_000,
    -62_135_596_799_999,
    253_402_300_799_999,
    253_402_300_799_000,
    -1,
    0,
    1,
    999,
    -1000,
    -1001,
    951_782_400_000,  # 2000-02-29
    4_107_456_000_123,  # 2100-02-28T00:00:00.123
    1_714_564_800_123,
    9_007_199_254_740_993,  # above 2**53: out of range either way
]


@pytest.mark.parametrize("millis", EDGE_MILLIS)
def test_iso_text_of_epoch_millis_is_that_of_the_full_reads_datetime(millis: int) -> None:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    try:
        full = epoch + dt.timedelta(milliseconds=millis)  # fastavro's timestamp-millis
    except OverflowError:
        with pytest.raises(OverflowError):
            iso_timestamp(millis)
        with pytest.raises(OverflowError):
            IsoMillis()(millis)
        return
    assert iso_timestamp(millis) == iso_timestamp(full)
    assert aware_datetime(millis) == full
    kept = IsoMillis(kept=2)
    assert kept(millis) == kept(millis) == iso_timestamp(full)


def test_iso_millis_keeps_a_bounded_number_of_seconds_and_stays_right() -> None:
    rng = random.Random(3)
    kept = IsoMillis(kept=8)
    for _ in range(2000):
        millis = rng.choice([rng.randrange(1_700_000_000_000, 1_700_000_020_000), *EDGE_MILLIS[:4]])
        assert kept(millis) == iso_timestamp(millis)
        assert len(kept._seconds) <= 8
    assert kept(None) is None
    at = dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
    assert kept(at) == iso_timestamp(at)


def test_text_as_decoded_is_kept_as_it_is_and_other_text_is_converted() -> None:
    plan = plan_rows(
        1,
        1,
        [
            Placement("event_id", Kind.TEXT, Kind.TEXT),  # a uuid: may come as uuid.UUID
            Placement("status", Kind.TEXT, Kind.TEXT, as_decoded=True),
            Placement("note", Kind.TEXT, Kind.BYTES, as_decoded=True),  # text into bytes
        ],
    )
    assert [index for index, _ in plan.conversions] == [0, 2]
    value = {"event_id": uuid.UUID(int=7), "status": "SHIPPED", "note": "é"}
    assert field_values(plan, value) == [
        "00000000-0000-0000-0000-000000000007",
        "SHIPPED",
        "é".encode(),
    ]


def test_a_value_missing_fields_gets_none_for_them_and_one_field_is_a_row_too() -> None:
    plan = plan_rows(1, 1, [Placement("event_id", Kind.TEXT, Kind.TEXT, as_decoded=True)])
    assert field_values(plan, {"event_id": "e1"}) == ["e1"]
    assert field_values(plan, {}) == [None]
    two = plan_rows(
        1,
        1,
        [
            Placement("event_id", Kind.TEXT, Kind.TEXT, as_decoded=True),
            Placement("timestamp", Kind.TIMESTAMP, Kind.TIMESTAMP),
        ],
    )
    assert field_values(two, {"event_id": "e1"}) == ["e1", None]
