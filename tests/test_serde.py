"""Avro in Confluent wire format through the real registry, byte for byte like confluent-kafka;
what the body reader accepts and refuses, message for message (pure)."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import struct
import uuid
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient, topic_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from fastavro import parse_schema, schemaless_writer

from pipeline.avro_plain import MAX_MS, MIN_MS, plain_schema
from pipeline.config import Settings
from pipeline.events import generate_events
from pipeline.registry_client import SchemaNotRegisteredError, connect
from pipeline.serde import (
    AvroDecoder,
    AvroEncoder,
    BodyReader,
    CorruptAvroError,
    DecodeError,
    NotWireFormatError,
    UnknownSchemaIdError,
)
from tests.order_helpers import V1, register_v1
from tests.paths import SCHEMAS
from tests.test_avro_reader import exact
from tests.test_avro_writer import fastavro_bytes, random_value


def stock_serializer(settings: Settings) -> AvroSerializer:
    return AvroSerializer(
        SchemaRegistryClient(settings.registry_config()),
        V1.read_text(),
        conf={"auto.register.schemas": False, "subject.name.strategy": topic_subject_name_strategy},
    )


def test_encoder_writes_the_bytes_of_confluents_serializer(settings: Settings) -> None:
    schema_id = register_v1(settings)
    encoder = AvroEncoder.for_subject(connect(settings), f"{settings.topic}-value", V1.read_text())
    stock = stock_serializer(settings)
    ctx = SerializationContext(settings.topic, MessageField.VALUE)
    assert encoder.schema_id == schema_id
    for event in islice(generate_events(seed=5, anomaly_rate=0.1), 300):
        ours = encoder.encode(event)
        assert ours == stock(event, ctx)
        assert ours[:5] == b"\x00" + struct.pack(">I", schema_id)


def test_decoder_reads_what_confluents_deserializer_reads(settings: Settings) -> None:
    schema_id = register_v1(settings)
    encoder = AvroEncoder(schema_id, V1.read_text())
    decoder = AvroDecoder(connect(settings), f"{settings.topic}-value")
    stock = AvroDeserializer(SchemaRegistryClient(settings.registry_config()))
    ctx = SerializationContext(settings.topic, MessageField.VALUE)
    for event in islice(generate_events(seed=6), 200):
        data = encoder.encode(event)
        writer, value = decoder.decode(data)
        assert value == stock(data, ctx)
        assert str(value["order_id"]) == event["order_id"]
        assert int(value["timestamp"].timestamp() * 1000) == event["timestamp"]
    assert writer.schema_id == schema_id
    assert writer.subject == f"{settings.topic}-value"
    assert writer.version == 1
    assert writer.definition == json.loads(V1.read_text())


def test_unregistered_schema_names_the_subject_and_the_fix(settings: Settings) -> None:
    with pytest.raises(SchemaNotRegisteredError) as caught:
        AvroEncoder.for_subject(connect(settings), f"{settings.topic}-value", V1.read_text())
    message = str(caught.value)
    assert f"'{settings.topic}-value'" in message
    assert "python cli.py schema register FILE" in message


def test_a_schema_registered_elsewhere_has_no_version_on_this_topic(settings: Settings) -> None:
    schema_id = register_v1(settings.with_(topic=f"{settings.topic}-other"))
    decoder = AvroDecoder(connect(settings), f"{settings.topic}-value")
    event = next(generate_events(seed=1))
    writer, _ = decoder.decode(AvroEncoder(schema_id, V1.read_text()).encode(event))
    assert (writer.schema_id, writer.subject, writer.version) == (schema_id, None, None)


@pytest.mark.parametrize("data", [None, b"", b"\x00\x00\x01", b"hello world", b"\x01" + bytes(20)])
def test_not_wire_format(settings: Settings, data: bytes | None) -> None:
    decoder = AvroDecoder(connect(settings), f"{settings.topic}-value")
    with pytest.raises(NotWireFormatError):
        decoder.decode(data)
    assert NotWireFormatError.kind == "not-wire-format"


def test_unknown_schema_id_is_remembered(settings: Settings) -> None:
    decoder = AvroDecoder(connect(settings), f"{settings.topic}-value")
    data = b"\x00" + struct.pack(">I", 987_654_321) + b"\x02ab"
    for _ in range(2):
        with pytest.raises(UnknownSchemaIdError, match="unknown schema id 987654321"):
            decoder.decode(data)


def test_corrupt_avro_of_every_sort(settings: Settings) -> None:
    schema_id = register_v1(settings)
    decoder = AvroDecoder(connect(settings), f"{settings.topic}-value")
    good = AvroEncoder(schema_id, V1.read_text()).encode(next(generate_events(seed=2)))
    header = good[:5]
    cases = {
        "truncated": good[:-3],
        "left over": good + b"\x00\x00",
        "bad uuid": header + b"\x06abc" + good[5 + 37 :],
        "garbage": header + bytes(range(250, 256)) * 8,
    }
    for name, data in cases.items():
        with pytest.raises(CorruptAvroError):
            decoder.decode(data)
            pytest.fail(name)


def test_random_mutations_only_raise_decode_errors(settings: Settings) -> None:
    schema_id = register_v1(settings)
    decoder = AvroDecoder(connect(settings), f"{settings.topic}-value")
    good = AvroEncoder(schema_id, V1.read_text()).encode(next(generate_events(seed=3)))
    rng = random.Random(11)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(2000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(5, len(data))] = rng.randrange(256)
        try:
            decoder.decode(bytes(data))
            outcomes["ok"] += 1
        except DecodeError:
            outcomes["error"] += 1
    assert outcomes["ok"] + outcomes["error"] == 2000
    assert outcomes["error"] > 500


def _as_plain(value: dict[str, object]) -> dict[str, object]:
    """A full read's value as a plain read gives it: uuids as their text, times in ms."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    plain: dict[str, object] = {}
    for name, item in value.items():
        if isinstance(item, uuid.UUID):
            item = str(item)
        elif isinstance(item, dt.datetime):
            item = (item - epoch) // dt.timedelta(milliseconds=1)
        plain[name] = item
    return plain


def _outcome(decoder: AvroDecoder, data: bytes) -> object:
    try:
        return decoder.decode(data)[1]
    except DecodeError as exc:
        return type(exc)


def test_plain_decoding_refuses_exactly_what_a_full_read_refuses(settings: Settings) -> None:
    schema_id = register_v1(settings)
    full = AvroDecoder(connect(settings), f"{settings.topic}-value")
    plain = AvroDecoder(connect(settings), f"{settings.topic}-value", plain=True)
    encoded = AvroEncoder(schema_id, V1.read_text()).encode(next(generate_events(seed=4)))
    rng = random.Random(12)
    mutated = [encoded]
    for _ in range(2000):
        data = bytearray(encoded)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(5, len(data))] = rng.randrange(256)
        mutated.append(bytes(data))
    kinds = set()
    for data in mutated:
        expected, got = _outcome(full, data), _outcome(plain, data)
        assert got == (_as_plain(expected) if isinstance(expected, dict) else expected), data
        kinds.add(expected if isinstance(expected, type) else "ok")
    assert {"ok", CorruptAvroError} <= kinds


@pytest.mark.parametrize(
    ("event_id", "millis"),
    [
        ("A0B1C2D3-E4F5-4789-ABCD-EF0123456789", 0),  # upper case: made canonical
        ("{a0b1c2d3-e4f5-4789-abcd-ef0123456789}", -1),
        ("urn:uuid:a0b1c2d3-e4f5-4789-abcd-ef0123456789", -62_135_596_800_000),  # 0001-01-01
        ("a0b1c2d3e4f54789abcdef0123456789", 253_402_300_799_999),  # 9999-12-31T23:59:59.999
        ("a0b1c2d3-e4f5-4789-abcd-ef0123456789", -62_135_596_800_001),  # before year 1
        ("a0b1c2d3-e4f5-4789-abcd-ef0123456789", 253_402_300_800_000),  # after year 9999
        ("a0b1c2d3-e4f5-4789-abcd-ef012345678", 1),  # one digit short
        ("not a uuid at all", 1),
        ("", 1),
    ],
)
def test_plain_decoding_of_edge_values_matches_a_full_read(
    settings: Settings, event_id: str, millis: int
) -> None:
    schema_id = register_v1(settings)
    full = AvroDecoder(connect(settings), f"{settings.topic}-value")
    plain = AvroDecoder(connect(settings), f"{settings.topic}-value", plain=True)
    raw = plain_schema(json.loads(V1.read_text()))[0]  # writes the values as they are
    event = {**next(generate_events(seed=4)), "event_id": event_id, "timestamp": millis}
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(raw), event)
    data = b"\x00" + struct.pack(">I", schema_id) + body.getvalue()
    expected, got = _outcome(full, data), _outcome(plain, data)
    assert got == (_as_plain(expected) if isinstance(expected, dict) else expected)


def _body_outcome(read: Callable[[bytes], dict[str, Any]], data: bytes) -> object:
    try:
        return read(data)
    except DecodeError as exc:
        return type(exc), str(exc)


def _mutated(rng: random.Random, good: bytes) -> bytes:
    """`good` with bytes flipped, cut, appended, inserted or dropped (after the header)."""
    data = bytearray(good)
    how = rng.randrange(5)
    if how == 0:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(5, len(data))] = rng.randrange(256)
    elif how == 1:
        del data[rng.randrange(5, len(data)) :]
    elif how == 2:
        data += rng.randbytes(rng.randint(1, 3))
    elif how == 3:
        data.insert(rng.randrange(5, len(data)), rng.randrange(256))
    else:
        del data[rng.randrange(5, len(data))]
    return bytes(data)


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.avsc")), ids=lambda p: p.name)
def test_body_reader_accepts_and_refuses_what_fastavro_alone_did(path: Path) -> None:
    """The compiled reader changes nothing a plain read accepts, refuses or yields (pure):
    `read_with_fastavro` is how every message was read before it."""
    definition = json.loads(path.read_text())
    read, plain = plain_schema(definition)
    parsed = parse_schema(read)
    reader = BodyReader(7, parsed, plain)
    rng = random.Random(path.name)
    full = parse_schema(definition)  # for random values with uuids that are uuids
    goods = [AvroEncoder(7, path.read_text()).encode(event) for event in _events_of(path)]
    for _ in range(40):
        record = random_value(rng, full, {})
        record |= {name: rng.randrange(MIN_MS, MAX_MS + 1) for name in plain.times}
        goods.append(b"\x00\x00\x00\x00\x07" + fastavro_bytes(parsed, record))
    outcomes = {"value": 0, "refused": 0}
    for data in goods + [_mutated(rng, rng.choice(goods)) for _ in range(3000)]:
        expected = _body_outcome(reader.read_with_fastavro, data)
        assert exact(_body_outcome(reader.read, data)) == exact(expected), data
        outcomes["value" if isinstance(expected, dict) else "refused"] += 1
    assert outcomes["value"] > 100 and outcomes["refused"] > 1000, outcomes


def _events_of(path: Path) -> list[dict[str, Any]]:
    """Generated order events for the order event schemas (with their uuids and times)."""
    if not path.name.startswith("order_event") or "breaking" in path.name:
        return []
    return list(islice(generate_events(seed=8, anomaly_rate=0.1), 60))


def test_body_reader_of_a_schema_it_does_not_compile_is_fastavro() -> None:
    """A full read (uuid objects, datetimes) of a schema with logical types: fastavro's."""
    parsed = parse_schema(json.loads(V1.read_text()))
    reader = BodyReader(7, parsed, None)
    data = AvroEncoder(7, V1.read_text()).encode(next(generate_events(seed=9)))
    value = reader.read(data)
    assert isinstance(value["event_id"], uuid.UUID)
    assert isinstance(value["timestamp"], dt.datetime)
    assert value == reader.read_with_fastavro(data)
