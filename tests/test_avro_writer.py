"""The compiled Avro writer writes fastavro's bytes, value for value, on every schema the
project ships and on random values; what it does not take as it is goes to fastavro."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer

from pipeline.avro_writer import NotPlain, compile_record, zigzag_long
from pipeline.serde import AvroEncoder

SCHEMAS = sorted((Path(__file__).resolve().parent.parent / "schemas").glob("*.avsc"))
TEXTS = ["", "a", "é", "日本語", "🙂" * 40, "x" * 63, "y" * 64, "z" * 5000, "\u0000"]
LONGS = [0, 1, -1, 63, 64, -64, -65, 2**31 - 1, -(2**31), 2**53, 2**63 - 1, -(2**63)]


def fastavro_bytes(parsed: Any, record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    schemaless_writer(buffer, parsed, record)
    return buffer.getvalue()


def random_value(rng: random.Random, schema: Any, named: dict[str, Any]) -> Any:
    """A random value that fits `schema` (parsed by fastavro: names are full names)."""
    if isinstance(schema, str) and schema in named:
        return random_value(rng, named[schema], named)
    if isinstance(schema, list):
        return random_value(rng, rng.choice(schema), named)
    kind = schema if isinstance(schema, str) else schema["type"]
    if isinstance(schema, dict) and schema.get("name"):
        named[schema["name"]] = schema
    if isinstance(schema, dict) and schema.get("logicalType") == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128)))
    simple = {
        "null": lambda: None,
        "boolean": lambda: rng.random() < 0.5,
        "int": lambda: rng.choice([0, 1, -1, 63, 64, 2**31 - 1, -(2**31)]),
        "long": lambda: rng.choice([*LONGS, rng.randrange(-(2**63), 2**63)]),
        "double": lambda: rng.choice([0.0, -1.5, 1e300, rng.uniform(-1e6, 1e6), 7]),
        "float": lambda: rng.choice([0.0, 2.5, -3]),
        "string": lambda: rng.choice([*TEXTS, f"user-{rng.randrange(10_000):05d}"]),
        "bytes": lambda: rng.randbytes(rng.choice([0, 5, 70])),
    }
    if kind in simple:
        return simple[kind]()
    if kind == "enum":
        return rng.choice(schema["symbols"])
    if kind == "fixed":
        return rng.randbytes(schema["size"])
    if kind == "array":
        return [random_value(rng, schema["items"], named) for _ in range(rng.randrange(3))]
    if kind == "map":
        return {rng.choice(TEXTS): random_value(rng, schema["values"], named) for _ in range(2)}
    fields = schema["fields"]
    return {f["name"]: random_value(rng, f["type"], named) for f in fields}


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_random_records_encode_to_fastavros_bytes(path: Path) -> None:
    parsed = parse_schema(json.loads(path.read_text()))
    compiled = compile_record(parsed)
    rng = random.Random(path.name)
    for _ in range(500):
        record = random_value(rng, parsed, {})
        expected = fastavro_bytes(parsed, record)
        if compiled is None:
            continue
        assert compiled(record) == expected, record
    encoder = AvroEncoder(7, path.read_text())
    record = random_value(rng, parsed, {})
    assert encoder.encode(record) == b"\x00\x00\x00\x00\x07" + fastavro_bytes(parsed, record)


def test_every_order_event_schema_compiles() -> None:
    for path in SCHEMAS:
        if path.name.startswith("order_event"):
            assert compile_record(parse_schema(json.loads(path.read_text()))) is not None


ORDER_V2 = next(p for p in SCHEMAS if p.name == "order_event.v2.avsc")


def an_event() -> dict[str, Any]:
    return {
        "event_id": "0190a4f6-55e0-7a33-8b2a-1f6f1b4b2c11",
        "event_type": "order_placed",
        "order_id": "0190a4f6-55e0-7a33-8b2a-1f6f1b4b2c12",
        "user_id": "user-00042",
        "status": "PLACED",
        "timestamp": 1_735_689_600_123,
        "source": "WEB",
        "amount": 12.5,
        "currency": "EUR",
    }


@pytest.mark.parametrize(
    "change",
    [
        {"timestamp": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)},
        {"event_id": uuid.UUID("0190a4f6-55e0-7a33-8b2a-1f6f1b4b2c11")},
        {"amount": None},
        {"currency": None},
        {"timestamp": 2**70},
        {"status": "LOST"},
    ],
    ids=["datetime", "uuid-object", "null-amount", "null-string", "too-big", "bad-symbol"],
)
def test_values_it_does_not_take_go_to_fastavro_with_the_same_outcome(
    change: dict[str, Any],
) -> None:
    parsed = parse_schema(json.loads(ORDER_V2.read_text()))
    encoder = AvroEncoder(1, ORDER_V2.read_text())
    assert_encodes_as_fastavro(encoder, parsed, {**an_event(), **change})


def test_a_missing_field_takes_its_default_like_fastavro() -> None:
    parsed = parse_schema(json.loads(ORDER_V2.read_text()))
    record = an_event()
    del record["currency"], record["amount"]
    compiled = compile_record(parsed)
    assert compiled is not None
    assert compiled(record) == fastavro_bytes(parsed, record)
    del record["user_id"]  # no default: fastavro's error, not ours
    with pytest.raises(NotPlain):
        compiled(record)


def test_zigzag_varints_at_the_edges() -> None:
    for value in LONGS:
        parsed = parse_schema("long")
        assert zigzag_long(value) == fastavro_bytes(parsed, value)  # type: ignore[arg-type]


# Every type the generated encoder writes inline, with the union's null on either side and
# logical types over them, then the types it leaves to `avro_parts` (a nested record, an
# array, a map, a fixed, a reference to a named type) and a default for missing fields.
EVERY_TYPE = {
    "type": "record",
    "name": "Every",
    "namespace": "test.types",
    "fields": [
        {"name": "flag", "type": "boolean"},
        {"name": "small", "type": "int"},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "big", "type": "long"},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "at_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "ratio", "type": "float"},
        {"name": "price", "type": "double"},
        {"name": "blob", "type": "bytes"},
        {"name": "text", "type": "string"},
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "nothing", "type": "null"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]}},
        {"name": "maybe_text", "type": ["null", "string"]},
        {"name": "maybe_price", "type": ["double", "null"]},
        {"name": "maybe_at", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
        {"name": "maybe_kind", "type": ["null", "test.types.Kind"]},
        {"name": "same_kind", "type": "test.types.Kind"},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "counts", "type": {"type": "map", "values": "long"}},
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
        {
            "name": "inner",
            "type": {
                "type": "record",
                "name": "Inner",
                "fields": [{"name": "note", "type": ["null", "string"]}],
            },
        },
        {"name": "with_default", "type": "string", "default": "dflt"},
        {"name": "null_default", "type": ["null", "long"], "default": None},
    ],
}


def test_every_type_encodes_to_fastavros_bytes() -> None:
    parsed = parse_schema(EVERY_TYPE)
    compiled = compile_record(parsed)
    assert compiled is not None
    rng = random.Random("every type")
    for _ in range(2000):
        record = random_value(rng, parsed, {})
        for name in ("with_default", "null_default"):
            if rng.random() < 0.3:
                del record[name]  # its default is written
        assert compiled(record) == fastavro_bytes(parsed, record), record


def test_strings_of_every_length_and_script_encode_to_fastavros_bytes() -> None:
    parsed = parse_schema(json.loads(ORDER_V2.read_text()))
    compiled = compile_record(parsed)
    assert compiled is not None
    for text in [*TEXTS, "ü" * 32, "ü" * 31 + "x", "a" * 127, "a" * 128, "😀" * 16, "a" * 70_000]:
        record = {**an_event(), "user_id": text, "currency": text}
        assert compiled(record) == fastavro_bytes(parsed, record)


def test_consecutive_timestamps_encode_to_fastavros_bytes() -> None:
    """The encoder keeps the varint of a timestamp's high bits from the last record: across
    every boundary of its low 7 bits, backwards, and through values too small for it."""
    parsed = parse_schema(json.loads(ORDER_V2.read_text()))
    compiled = compile_record(parsed)
    assert compiled is not None
    start = 1_735_689_600_000
    stamps = [*range(start - 300, start + 300, 7), start, start - 1, 0, 63, 64, -1, start]
    stamps += [2**63 - 1, 2**62, 2**62 + 1, start]
    for stamp in stamps:
        record = {**an_event(), "timestamp": stamp}
        assert compiled(record) == fastavro_bytes(parsed, record), stamp


def test_field_names_are_never_code() -> None:
    """A field's name reaches the generated encoder as a value, whatever its text."""
    names = ["x'); raise SystemExit('pasted') #", 'a"b\\\nc', "{record}", "v1", "k5", "record"]
    schema = {
        "type": "record",
        "name": "Odd",
        "fields": [{"name": name, "type": "string"} for name in names],
    }
    parsed = parse_schema(schema)
    compiled = compile_record(parsed)
    assert compiled is not None
    record = {name: f"value of {name}" for name in names}
    assert compiled(record) == fastavro_bytes(parsed, record)


@pytest.mark.parametrize(
    "record",
    [
        {"nullable": 5},  # `required` missing, no default: fastavro's error
        {"required": "r"},  # a missing union with null and no default: fastavro writes null
        {"required": "r", "nullable": "not a long"},
    ],
    ids=["missing-required", "missing-nullable", "wrong-type"],
)
def test_records_it_does_not_take_go_to_fastavro(record: dict[str, Any]) -> None:
    schema = {
        "type": "record",
        "name": "Partial",
        "fields": [
            {"name": "required", "type": "string"},
            {"name": "nullable", "type": ["null", "long"]},
        ],
    }
    parsed = parse_schema(schema)
    compiled = compile_record(parsed)
    assert compiled is not None
    with pytest.raises(NotPlain):
        compiled(record)
    assert_encodes_as_fastavro(AvroEncoder(3, json.dumps(schema)), parsed, record)


def test_a_schema_of_one_type_and_one_it_cannot_compile() -> None:
    longs = parse_schema({"type": "array", "items": "long"})
    compiled = compile_record(longs, b"\x07")
    assert compiled is not None
    values: Any = [1, -2, 300]
    assert compiled(values) == b"\x07" + fastavro_bytes(longs, values)
    decimal = {"type": "bytes", "logicalType": "decimal", "precision": 5, "scale": 2}
    schema = {"type": "record", "name": "Money", "fields": [{"name": "amount", "type": decimal}]}
    assert compile_record(parse_schema(schema)) is None


def assert_encodes_as_fastavro(encoder: AvroEncoder, parsed: Any, record: dict[str, Any]) -> None:
    """The encoder's output is fastavro's bytes after the header, or fastavro's error."""
    header = b"\x00" + encoder.schema_id.to_bytes(4, "big")
    try:
        expected: bytes | type[Exception] = header + fastavro_bytes(parsed, record)
    except Exception as exc:
        expected = type(exc)
    if isinstance(expected, bytes):
        assert encoder.encode(record) == expected
    else:
        with pytest.raises(expected):
            encoder.encode(record)


def nested(depth: int) -> dict[str, Any]:
    """A record holding a record ... `depth` levels down, a string at the bottom."""
    schema: dict[str, Any] = {
        "type": "record",
        "name": "R0",
        "fields": [{"name": "s", "type": "string"}],
    }
    for level in range(1, depth):
        schema = {"type": "record", "name": f"R{level}", "fields": [{"name": "r", "type": schema}]}
    return schema


def test_a_schema_nested_too_deep_to_compile_goes_to_fastavro() -> None:
    parsed = parse_schema(nested(300))
    value: dict[str, Any] = {"s": "bottom"}
    for _ in range(299):
        value = {"r": value}
    encoder = AvroEncoder(3, json.dumps(nested(300)))
    assert encoder.encode(value) == b"\x00\x00\x00\x00\x03" + fastavro_bytes(parsed, value)
