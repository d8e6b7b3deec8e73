"""Turning a decoded event into SQL parameters (pure, on the hot path).

Each accepted writer schema gets a `RowPlan` once: its INSERT statement, a getter of the
record's field values in column order (one C call), and the converters of the few fields
whose decoded value is not what the column keeps (a timestamp, a uuid, bytes as text). A
string or an enum symbol is kept as the decoder hands it over, with no call per value.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any

from pipeline.store.admission import KEY, META_COLUMNS, Placement
from pipeline.store.kinds import Kind

Converter = Callable[[Any], Any]
# Fields the `orders` table is built from, when a schema has them.
ORDER_FIELDS = ("order_id", "user_id", "status", "timestamp")
EPOCH = dt.datetime(1970, 1, 1)
EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class RowPlan:
    schema_id: int
    version: int | None
    insert_sql: str  # SQLite's statement for one row
    fields: tuple[tuple[str, Converter | None], ...]
    key_index: int
    order_index: dict[str, int]  # position in the row of each of ORDER_FIELDS it has
    # The field values in column order, as a tuple (KeyError if a field is missing).
    getter: Callable[[dict[str, Any]], tuple[Any, ...]]
    conversions: tuple[tuple[int, Converter], ...]  # (position, converter): the few
    # Positions of order_id, status, user_id, timestamp when it has the first two: its
    # events update `orders` (see `orders.order_row`).
    order_at: tuple[int, int, int | None, int | None] | None
    columns: tuple[str, ...] = ()  # the row's columns: the fields' and then META_COLUMNS


def plan_rows(
    schema_id: int,
    version: int | None,
    placements: Sequence[Placement],
    *,
    typed: bool = False,
    iso: Converter | None = None,
) -> RowPlan:
    """`typed`: values for PostgreSQL's native column types (datetimes stay datetimes)
    rather than SQLite's text forms. `iso`: the text form of timestamps (an `IsoMillis`)."""
    names = [p.name for p in placements]
    columns = ", ".join(_quote(name) for name in [*names, *META_COLUMNS])
    marks = ", ".join("?" for _ in range(len(names) + len(META_COLUMNS)))
    lowered = [name.lower() for name in names]
    order_index = {name: lowered.index(name) for name in ORDER_FIELDS if name in lowered}
    fields = tuple(
        (p.field, converter(p.writer, p.column, typed=typed, iso=iso, as_decoded=p.as_decoded))
        for p in placements
    )
    return RowPlan(
        schema_id=schema_id,
        version=version,
        # Only a known event_id is skipped: any other constraint failing is an error.
        insert_sql=f"INSERT INTO events ({columns}) VALUES ({marks}) "
        f"ON CONFLICT ({KEY}) DO NOTHING",
        fields=fields,
        key_index=lowered.index(KEY),
        order_index=order_index,
        getter=_getter([name for name, _ in fields]),
        conversions=tuple((i, conv) for i, (_, conv) in enumerate(fields) if conv is not None),
        order_at=_order_at(order_index),
        columns=(*names, *META_COLUMNS),
    )


def _order_at(where: dict[str, int]) -> tuple[int, int, int | None, int | None] | None:
    if "order_id" not in where or "status" not in where:
        return None
    return where["order_id"], where["status"], where.get("user_id"), where.get("timestamp")


def field_values(plan: RowPlan, value: dict[str, Any]) -> list[Any]:
    """The event's field values, converted, in the plan's column order (a field the value
    lacks is None: a decoded record has them all, a hand-made one may not)."""
    try:
        row = list(plan.getter(value))
    except KeyError:
        get = value.get
        row = [get(name) for name, _ in plan.fields]
    for index, conv in plan.conversions:
        row[index] = conv(row[index])
    return row


def _getter(names: Sequence[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    if len(names) == 1:  # itemgetter of one name returns the value, not a 1-tuple
        only = names[0]
        return lambda value: (value[only],)
    return itemgetter(*names)


def converter(
    writer: Kind,
    column: Kind,
    *,
    typed: bool = False,
    iso: Converter | None = None,
    as_decoded: bool = False,
) -> Converter | None:
    """How a decoded value of the writer's kind is kept in a column of this kind.
    `as_decoded`: the decoder hands the field over as a str already (see `Placement`)."""
    if as_decoded and writer is Kind.TEXT and column is Kind.TEXT:
        return None
    if writer is Kind.BYTES and column is Kind.TEXT:
        return _bytes_to_text
    if writer is Kind.TEXT and column is Kind.BYTES:
        return _text_to_bytes
    if writer is Kind.TIMESTAMP and not typed:
        return iso or iso_timestamp
    return (_TYPED_BY_KIND if typed else _BY_KIND).get(writer)


def aware_datetime(value: Any) -> Any:
    """A timestamp for a typed column: epoch milliseconds (a plain long) become a datetime,
    exactly the one a full Avro read makes of them (no float on the way)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return EPOCH_UTC + dt.timedelta(milliseconds=value)
    return value


def iso_timestamp(value: Any) -> Any:
    """ISO-8601 with a `Z` for UTC; milliseconds unless the value has finer precision."""
    if value is None:
        return None
    if isinstance(value, int):  # epoch milliseconds (the storage service decodes them plain)
        seconds, millis = divmod(value, 1000)
        return f"{second_text(seconds)}.{millis:03d}Z"
    if not isinstance(value, dt.datetime):
        return str(value)
    spec = "milliseconds" if value.microsecond % 1000 == 0 else "microseconds"
    if value.tzinfo is None:  # a local-timestamp: no zone to name
        return value.isoformat(timespec=spec)
    if value.tzinfo is not dt.UTC:  # the decoder's own values are in UTC already
        value = value.astimezone(dt.UTC)
    return value.isoformat(timespec=spec)[:-6] + "Z"


def second_text(seconds: int) -> str:
    """The text `YYYY-MM-DDTHH:MM:SS` of epoch seconds (OverflowError beyond years 1-9999)."""
    return (EPOCH + dt.timedelta(seconds=seconds)).isoformat()


# The text after the seconds, for each millisecond: a lookup costs less than the format.
_MILLIS_TEXT = tuple(f".{millis:03d}Z" for millis in range(1000))


class IsoMillis:
    """`iso_timestamp` for one store's timestamp columns. The events of a batch share a few
    seconds, so the text of recent seconds is kept (by the store that owns this, not by the
    module), the last one at hand: most events then cost a divmod and a concatenation
    instead of a datetime."""

    __slots__ = ("_kept", "_last", "_seconds")

    def __init__(self, kept: int = 4096) -> None:
        self._kept = kept
        self._seconds: dict[int, str] = {}
        self._last: tuple[int, str] = (-1 << 64, "")  # (seconds, text): no such second

    def __call__(self, value: Any) -> Any:
        if type(value) is not int:
            return iso_timestamp(value)
        seconds, millis = divmod(value, 1000)
        last_seconds, prefix = self._last
        if seconds != last_seconds:
            prefix = self._prefix(seconds)
        return prefix + _MILLIS_TEXT[millis]

    def _prefix(self, seconds: int) -> str:
        prefix = self._seconds.get(seconds)
        if prefix is None:
            if len(self._seconds) >= self._kept:
                self._seconds.clear()
            prefix = self._seconds[seconds] = second_text(seconds)
        self._last = (seconds, prefix)
        return prefix


def _text(value: Any) -> Any:
    # Enum symbols are already str; uuid logical types may decode as uuid.UUID.
    return value if value is None or isinstance(value, str) else str(value)


def _iso(value: Any) -> Any:
    return None if value is None else value.isoformat()


def _decimal(value: Any) -> Any:
    return None if value is None else str(value)


def _json(value: Any) -> Any:
    if value is None:
        return None
    return json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso_timestamp(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def _bytes_to_text(value: Any) -> Any:
    # Avro's bytes→string promotion reads the bytes as UTF-8; bytes that are not stay bytes.
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value


def _text_to_bytes(value: Any) -> Any:
    return value.encode("utf-8") if isinstance(value, str) else value


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# PostgreSQL's driver adapts dates, times, decimals and booleans itself.
_TYPED_BY_KIND: dict[Kind, Converter] = {
    Kind.TEXT: _text,
    Kind.TIMESTAMP: aware_datetime,
    Kind.JSON: _json,
}

_BY_KIND: dict[Kind, Converter] = {
    Kind.TEXT: _text,
    Kind.TIMESTAMP: iso_timestamp,
    Kind.DATE: _iso,
    Kind.TIME: _iso,
    Kind.DECIMAL: _decimal,
    Kind.JSON: _json,
}
