"""The compiled Avro reader reads fastavro's values, message for message, on every schema
the project ships, on random values and on edge encodings; what it would not read exactly
as fastavro does, it leaves to fastavro (`Unreadable`). Pure: no server."""

from __future__ import annotations

import io
import json
import math
import random
import struct
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader

from pipeline.avro_plain import plain_schema
from pipeline.avro_reader import compile_reader
from pipeline.avro_values import Read, Unreadable
from tests.paths import SCHEMAS
from tests.test_avro_writer import LONGS, TEXTS, fastavro_bytes, nested, random_value

SCHEMA_FILES = sorted(SCHEMAS.glob("*.avsc"))
SOURCES = ["WEB", "MOBILE", "API"]
HEADER = b"\x00\x00\x00\x00\x07"
# Every kind of value the compiler knows, inline in a record and called through containers.
SINK = {
    "type": "record",
    "name": "Sink",
    "namespace": "test",
    "fields": [
        {"name": "flag", "type": "boolean"},
        {"name": "small", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "ratio", "type": "float"},
        {"name": "amount", "type": {"type": "double"}},
        {"name": "blob", "type": "bytes"},
        {"name": "text", "type": "string"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]}},
        {"name": "again", "type": "Kind"},
        {"name": "maybe", "type": ["null", "string"]},
        {"name": "later", "type": ["long", "null"]},
        {"name": "either", "type": ["null", "string", "double", "Kind"]},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "counts", "type": {"type": "map", "values": ["null", "long"]}},
        {
            "name": "inner",
            "type": {
                "type": "record",
                "name": "Inner",
                "fields": [{"name": "id", "type": "string"}, {"name": "n", "type": "int"}],
            },
        },
        {"name": "inners", "type": {"type": "array", "items": "Inner"}},
        {"name": "nothing", "type": "null"},
    ],
}


def parsed_plain(path: Path) -> Any:
    return parse_schema(plain_schema(json.loads(path.read_text()))[0])


def fastavro_read(parsed: Any, data: bytes) -> tuple[Any, int]:
    body = io.BytesIO(data)
    body.seek(len(HEADER))
    return schemaless_reader(body, parsed, None), body.tell()


def exact(value: Any) -> Any:
    """`value` with each float as its bits: NaN equals NaN, 0.0 is not -0.0."""
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    if isinstance(value, dict):
        return {key: exact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [exact(item) for item in value]
    return value


def compiled(parsed: Any) -> Read:
    read = compile_reader(parsed)
    assert read is not None
    return read


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_random_records_read_as_fastavro_reads_them(path: Path) -> None:
    parsed = parsed_plain(path)
    read = compiled(parsed)
    rng = random.Random(path.name)
    for _ in range(500):
        data = HEADER + fastavro_bytes(parsed, random_value(rng, parsed, {}))
        assert exact(read(data, len(HEADER))) == exact(fastavro_read(parsed, data))


def test_every_kind_of_value_reads_as_fastavro_reads_it() -> None:
    parsed = parse_schema(SINK)
    read = compiled(parsed)
    rng = random.Random(15)
    for _ in range(2000):
        record = random_value(rng, parsed, {})
        record["ratio"] = rng.choice([0.0, -0.0, 1.5, math.inf, -math.inf, math.nan, 3.4e38])
        record["amount"] = rng.choice([0.0, -0.0, math.inf, math.nan, 5e-324, rng.random()])
        data = HEADER + fastavro_bytes(parsed, record)
        assert exact(read(data, len(HEADER))) == exact(fastavro_read(parsed, data))


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
@pytest.mark.parametrize("number", LONGS)
def test_edge_values(text: str, number: int) -> None:
    parsed = parsed_plain(SCHEMAS / "order_event.v2.avsc")
    event = {
        "event_id": text,
        "event_type": text,
        "order_id": "",
        "user_id": text * 3,
        "status": "DELIVERED",
        "timestamp": number,
        "source": "API",
        "amount": None if number % 2 else float(number),
        "currency": text,
    }
    data = HEADER + fastavro_bytes(parsed, event)
    assert compiled(parsed)(data, len(HEADER)) == (event, len(data))


def test_a_run_of_timestamps_is_read_right_whatever_bytes_it_shares() -> None:
    """A varint sharing all but its first two bytes with the last long one is read from what
    was kept of that: runs, jumps, short and negative values in between, and a short one
    whose next byte (the source's) looks like what was kept (16384 is 80 80 02)."""
    parsed = parsed_plain(SCHEMAS / "order_event.v1.avsc")
    read = compiled(parsed)
    rng = random.Random(3)
    start = 1_735_689_600_000
    times = [start + step * rng.randrange(1, 40) for step in range(300)]
    times += [start - 5, 0, 63, -1, start + 129, 8191, -16385]
    times += [rng.choice([*LONGS, start + rng.randrange(10**6)]) for _ in range(500)]
    runs = [(millis, rng.choice(SOURCES)) for millis in times]
    runs += [(16384, "API"), (100, "MOBILE")]  # 100 is c8 01, then the source's 02
    event = {"event_id": "e", "event_type": "t", "order_id": "o", "user_id": "u"}
    for millis, source in runs:
        event |= {"status": "PLACED", "timestamp": millis, "source": source}
        data = HEADER + fastavro_bytes(parsed, event)
        assert read(data, len(HEADER)) == (event, len(data))


def test_encodings_fastavro_reads_that_a_writer_never_makes() -> None:
    """Longer varints than needed (80 00 is 0) are Avro too: read as fastavro reads them."""
    parsed = parse_schema(
        {
            "type": "record",
            "name": "Odd",
            "fields": [
                {"name": "text", "type": "string"},
                {"name": "kind", "type": {"type": "enum", "name": "K", "symbols": ["A", "B"]}},
                {"name": "maybe", "type": ["null", "long"]},
                {"name": "flag", "type": "boolean"},
            ],
        }
    )
    data = HEADER + b"\x86\x00abc" + b"\x82\x00" + b"\x82\x80\x00\x81\x01" + b"\x07"
    assert compiled(parsed)(data, len(HEADER)) == fastavro_read(parsed, data)
    assert fastavro_read(parsed, data)[0] == {
        "text": "abc",
        "kind": "B",
        "maybe": -65,
        "flag": True,
    }


ENUM = {"type": "enum", "name": "K", "symbols": ["A", "B"]}


@pytest.mark.parametrize(
    ("schema", "body"),
    [
        ("string", b"\x01abc"),  # a negative length: fastavro reads "the rest"
        (ENUM, b"\x7f"),  # index -64: fastavro counts the symbols from the end
        (ENUM, b"\x08"),  # index 4 of 2 symbols
        (["null", "long"], b"\x01"),  # branch -1
        (["null", "long"], b"\x03\x02"),  # branch -2: fastavro reads the null
        ("long", b"\xff" * 10 + b"\x01"),  # a varint of 11 bytes: fastavro reads one
        ("long", b"\xff" * 9 + b"\x03"),  # a varint of 65 bits: fastavro's wraps
        ("string", b"\x0aab"),  # cut short
        ("long", b"\x80"),  # cut short
        ({"type": "fixed", "name": "F", "size": 4}, b"ab"),  # cut short
        ("string", b"\x04\xff\xfe"),  # not UTF-8
        ({"type": "array", "items": "string"}, b"\x03\x04\x02a\x02b\x00"),  # sized block
        ({"type": "map", "values": "long"}, b"\x03\x04\x02a\x02\x00"),  # sized block
        ({"type": "array", "items": "null"}, b"\xfe\xff\xff\x0f"),  # 2**27 nulls in 4 bytes
        ("double", b"\x00" * 7),  # cut short
    ],
)
def test_what_it_would_not_read_as_fastavro_does_is_left_to_fastavro(
    schema: Any, body: bytes
) -> None:
    record = {"type": "record", "name": "One", "fields": [{"name": "x", "type": schema}]}
    with pytest.raises(Unreadable):
        compiled(parse_schema(record))(HEADER + body, len(HEADER))


def test_what_fastavro_reads_past_a_wrong_byte_is_read_alike() -> None:
    """A boolean of 5 is true, and a 10-byte varint of 64 bits is a long, to both."""
    for schema, body in [("boolean", b"\x05"), ("long", b"\xff" * 9 + b"\x01")]:
        parsed = parse_schema(
            {"type": "record", "name": "One", "fields": [{"name": "x", "type": schema}]}
        )
        data = HEADER + body
        assert compiled(parsed)(data, len(HEADER)) == fastavro_read(parsed, data)


def test_a_schema_it_does_not_compile_is_left_to_fastavro() -> None:
    """Logical types (fastavro converts them) and records that contain themselves."""
    for path in SCHEMA_FILES:
        assert compile_reader(parse_schema(json.loads(path.read_text()))) is None
        assert compile_reader(parsed_plain(path)) is not None
    node = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "next", "type": ["null", "Node"]}],
    }
    assert compile_reader(parse_schema(node)) is None
    decimal = {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}
    assert compile_reader(parse_schema(decimal)) is None


def test_a_schema_nested_too_deep_to_compile_is_left_to_fastavro() -> None:
    """fastavro reads a record 300 levels deep; compiling one would exhaust Python's stack."""
    parsed = parse_schema(nested(300))
    assert compile_reader(parsed) is None
    value: dict[str, Any] = {"s": "bottom"}
    for _ in range(299):
        value = {"r": value}
    data = HEADER + fastavro_bytes(parsed, value)
    assert fastavro_read(parsed, data)[0] == value


def test_field_names_are_never_code() -> None:
    """A field's name reaches the generated reader as a value, whatever its text, even one
    that is also a name the generated code uses."""
    names = ["x'); raise SystemExit('pasted') #", 'a"b\\\nc', "{record}", "i", "data", "n", "v0"]
    schema = {
        "type": "record",
        "name": "Odd",
        "namespace": "a\nb",
        "fields": [{"name": name, "type": "string"} for name in names],
    }
    parsed = parse_schema(schema)
    record = {name: f"value of {name}" for name in names}
    data = HEADER + fastavro_bytes(parsed, record)
    assert compiled(parsed)(data, len(HEADER)) == (record, len(data))
