"""Avro in Confluent wire format through the real registry, byte for byte like confluent-kafka."""

from __future__ import annotations

import json
import random
import struct
from itertools import islice

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient, topic_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from pipeline.config import Settings
from pipeline.events import generate_events
from pipeline.registry_client import SchemaNotRegisteredError, connect
from pipeline.serde import (
    AvroDecoder,
    AvroEncoder,
    CorruptAvroError,
    DecodeError,
    NotWireFormatError,
    UnknownSchemaIdError,
)
from tests.order_helpers import V1, register_v1


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
