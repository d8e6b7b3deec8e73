"""Avro through the schema registry, in Confluent's wire format, fast.

A message value is magic byte 0, the schema id as 4 big-endian bytes, then the Avro binary
body. `AvroEncoder` and `AvroDecoder` write and read exactly the bytes of confluent-kafka's
`AvroSerializer` / `AvroDeserializer` (both encode with fastavro), minus their per-message
overhead: the parsed schema is cached per schema id, and a record is written and read
through code compiled from its schema once (`avro_writer`, `avro_reader`), with fastavro
for whatever that code leaves to it.

Errors (all `PipelineError`s; registry failures are `registry_client`'s own):

    DecodeError               a message cannot be read; `kind` names why, for the DLQ
    ├── NotWireFormatError    no magic byte / too short
    ├── UnknownSchemaIdError  the registry knows no schema with that id
    └── CorruptAvroError      the body does not decode with its writer schema
"""

from __future__ import annotations

import io
import json
import struct
import time
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from pipeline.avro_plain import Plain, plain_schema
from pipeline.avro_reader import compile_reader
from pipeline.avro_writer import NotPlain, compile_record
from pipeline.errors import PipelineError
from pipeline.model import WriterSchema
from pipeline.registry_client import fetch_schema, lookup_registered, version_in

MAGIC = 0
HEADER = struct.Struct(">bI")
# How long an unknown schema id is remembered, so a flood of bad messages costs one lookup.
UNKNOWN_ID_TTL_S = 30.0


class DecodeError(PipelineError):
    kind = "undecodable"


class NotWireFormatError(DecodeError):
    kind = "not-wire-format"


class UnknownSchemaIdError(DecodeError):
    kind = "unknown-schema-id"


class CorruptAvroError(DecodeError):
    kind = "corrupt-avro"


class AvroEncoder:
    """Encodes dicts with one registered schema into Confluent wire format.

    Through the schema's compiled writer (`avro_writer`), which takes plain values; a
    record it does not take as it is (a `datetime` for a timestamp, say) is encoded by
    fastavro, as every record once was: the bytes are the same either way."""

    def __init__(self, schema_id: int, schema_str: str) -> None:
        self.schema_id = schema_id
        self._parsed = parse_schema(json.loads(schema_str))
        self._header = HEADER.pack(MAGIC, schema_id)
        self._compiled = compile_record(self._parsed, self._header)

    @classmethod
    def for_subject(
        cls, client: SchemaRegistryClient, subject: str, schema_str: str
    ) -> AvroEncoder:
        """An encoder for a schema already registered under `subject` (looked up, not added)."""
        return cls(lookup_registered(client, subject, schema_str), schema_str)

    def encode(self, record: dict[str, Any]) -> bytes:
        if self._compiled is not None:
            try:
                return self._compiled(record)
            except NotPlain:
                pass
        buffer = io.BytesIO()
        buffer.write(self._header)
        schemaless_writer(buffer, self._parsed, record)
        return buffer.getvalue()


class AvroDecoder:
    """Decodes wire-format values with their own writer schema, fetched by id and cached.

    `plain`: uuids stay text and timestamp-millis stay epoch milliseconds (`avro_plain`),
    for a consumer that keeps them so; what is refused is what a full read refuses."""

    def __init__(
        self, client: SchemaRegistryClient, value_subject: str, *, plain: bool = False
    ) -> None:
        self._client = client
        self._subject = value_subject
        self._plain = plain
        self._schemas: dict[int, tuple[WriterSchema, BodyReader]] = {}
        self._unknown: dict[int, float] = {}

    def decode(self, data: bytes | None) -> tuple[WriterSchema, dict[str, Any]]:
        if data is None or len(data) < HEADER.size or data[0] != MAGIC:
            size = 0 if data is None else len(data)
            raise NotWireFormatError(f"not Confluent wire format ({size} bytes, no magic byte 0)")
        writer, body = self._schema(HEADER.unpack_from(data)[1])
        return writer, body.read(data)

    def _schema(self, schema_id: int) -> tuple[WriterSchema, BodyReader]:
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        if time.monotonic() - self._unknown.get(schema_id, -UNKNOWN_ID_TTL_S) < UNKNOWN_ID_TTL_S:
            raise UnknownSchemaIdError(f"unknown schema id {schema_id}")
        schema = self._fetch(schema_id)
        definition = json.loads(schema.schema_str or "null")
        read, plain = plain_schema(definition) if self._plain else (definition, None)
        try:
            parsed = parse_schema(definition)
            if read is not definition:
                parsed = parse_schema(read)
        except Exception as exc:
            raise UnknownSchemaIdError(f"schema id {schema_id} is not Avro: {exc}") from exc
        subject, version = self._version_of(schema)
        writer = WriterSchema(schema_id, subject, version, definition)
        entry = (writer, BodyReader(schema_id, parsed, plain))
        self._schemas[schema_id] = entry
        return entry

    def _fetch(self, schema_id: int) -> Schema:
        schema = fetch_schema(self._client, schema_id)
        if schema is None:
            self._unknown[schema_id] = time.monotonic()
            raise UnknownSchemaIdError(f"unknown schema id {schema_id}")
        if schema.schema_type not in (None, "AVRO"):
            raise UnknownSchemaIdError(f"schema id {schema_id} is {schema.schema_type}, not Avro")
        return schema

    def _version_of(self, schema: Schema) -> tuple[str | None, int | None]:
        """The version of the topic's value subject this schema is, if it is registered there."""
        return version_in(self._client, self._subject, schema)


class BodyReader:
    """Reads the Avro bodies of wire-format values of one writer schema (parsed by fastavro;
    `plain`: the fields read plain, to check).

    Through the schema's compiled reader (`avro_reader`), which decides only the messages
    it reads to their last byte, as fastavro would; every other message, and every message
    of a schema it does not compile, is read by fastavro as every message once was, so what
    is refused, and with which error, is what it always was."""

    def __init__(self, schema_id: int, parsed: Any, plain: Plain | None) -> None:
        self._schema_id = schema_id
        self._parsed = parsed
        self._plain = plain
        is_record = isinstance(parsed, dict) and parsed.get("type") == "record"
        self._compiled = compile_reader(parsed) if is_record else None

    def read(self, data: bytes) -> dict[str, Any]:
        if self._compiled is not None:
            try:
                value, end = self._compiled(data, HEADER.size)
                if end == len(data):
                    if self._plain is not None:
                        self._plain.check(value)
                    return value
            except Exception:  # unreadable here, or refused by the check: fastavro's call
                pass
        return self.read_with_fastavro(data)

    def read_with_fastavro(self, data: bytes) -> dict[str, Any]:
        """The body as fastavro reads it: how every message was read before `avro_reader`."""
        schema_id, plain = self._schema_id, self._plain
        body = io.BytesIO(data)
        body.seek(HEADER.size)
        try:
            value = schemaless_reader(body, self._parsed, None)
            if plain is not None and isinstance(value, dict):
                plain.check(value)
        except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError, ...
            raise CorruptAvroError(f"corrupt Avro for schema {schema_id}: {exc!r}") from exc
        if body.tell() != len(data) or not isinstance(value, dict):
            raise CorruptAvroError(
                f"corrupt Avro for schema {schema_id}: {len(data) - body.tell()} bytes left over"
            )
        return value
