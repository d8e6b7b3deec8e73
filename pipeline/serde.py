"""Avro through the schema registry, in Confluent's wire format, fast.

A message value is magic byte 0, the schema id as 4 big-endian bytes, then the Avro binary
body. `AvroEncoder` and `AvroDecoder` write and read exactly the bytes of confluent-kafka's
`AvroSerializer` / `AvroDeserializer` (both encode with fastavro), minus their per-message
overhead: the parsed schema is cached per schema id and the hot path is one fastavro call.

Errors (all `PipelineError`s):

    SchemaNotRegisteredError  the producer's schema is not registered under its subject
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
from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import SchemaParseException

from pipeline.config import Settings
from pipeline.errors import PipelineError, RegistryError, SchemaError
from pipeline.services.base import WriterSchema

# The project's schema files; found from the package so commands work from any folder.
SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
MAGIC = 0
HEADER = struct.Struct(">bI")
# How long an unknown schema id is remembered, so a flood of bad messages costs one lookup.
UNKNOWN_ID_TTL_S = 30.0
# Confluent error codes for "no such subject / version / schema".
NOT_FOUND_CODES = {40401, 40402, 40403}


class SchemaNotRegisteredError(RegistryError):
    pass


class DecodeError(PipelineError):
    kind = "undecodable"


class NotWireFormatError(DecodeError):
    kind = "not-wire-format"


class UnknownSchemaIdError(DecodeError):
    kind = "unknown-schema-id"


class CorruptAvroError(DecodeError):
    kind = "corrupt-avro"


def registry_client(settings: Settings) -> SchemaRegistryClient:
    """A registry client whose requests are bounded in time and retries."""
    config = settings.registry_config()
    config.setdefault("timeout", 10)
    config.setdefault("max.retries", 2)
    return SchemaRegistryClient(config)


def load_schema_file(path: Path) -> str:
    """The schema file's text, checked to be JSON and valid Avro."""
    try:
        text = path.read_text(encoding="utf-8")
        parse_schema(json.loads(text))
    except OSError as exc:
        raise SchemaError(f"cannot read schema file {path}: {exc.strerror}") from exc
    except (ValueError, SchemaParseException) as exc:  # bad JSON, bad Avro, unknown type
        raise SchemaError(f"{path} is not a valid Avro schema: {exc}") from exc
    return text


def lookup_registered(client: SchemaRegistryClient, subject: str, schema_str: str) -> int:
    """The id under which `schema_str` is registered in `subject`; never registers it."""
    try:
        schema_id = client.lookup_schema(subject, Schema(schema_str, "AVRO")).schema_id
    except SchemaRegistryError as exc:
        if exc.error_code in NOT_FOUND_CODES:
            raise SchemaNotRegisteredError(
                f"the schema is not registered under subject {subject!r} "
                f"({exc.error_message}); register it first: python cli.py schema register FILE"
            ) from exc
        raise RegistryError(f"the registry refused the lookup in {subject!r}: {exc}") from exc
    except Exception as exc:  # connection refused, timeout: requests/httpx errors
        raise RegistryError(f"cannot reach the schema registry: {exc}") from exc
    if schema_id is None:
        raise RegistryError(f"the registry answered the lookup in {subject!r} without an id")
    return schema_id


class AvroEncoder:
    """Encodes dicts with one registered schema into Confluent wire format."""

    def __init__(self, schema_id: int, schema_str: str) -> None:
        self.schema_id = schema_id
        self._parsed = parse_schema(json.loads(schema_str))
        self._header = HEADER.pack(MAGIC, schema_id)

    @classmethod
    def for_subject(
        cls, client: SchemaRegistryClient, subject: str, schema_str: str
    ) -> AvroEncoder:
        """An encoder for a schema already registered under `subject` (looked up, not added)."""
        return cls(lookup_registered(client, subject, schema_str), schema_str)

    def encode(self, record: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        buffer.write(self._header)
        schemaless_writer(buffer, self._parsed, record)
        return buffer.getvalue()


class AvroDecoder:
    """Decodes wire-format values with their own writer schema, fetched by id and cached."""

    def __init__(self, client: SchemaRegistryClient, value_subject: str) -> None:
        self._client = client
        self._subject = value_subject
        self._schemas: dict[int, tuple[WriterSchema, Any]] = {}
        self._unknown: dict[int, float] = {}

    def decode(self, data: bytes | None) -> tuple[WriterSchema, dict[str, Any]]:
        if data is None or len(data) < HEADER.size or data[0] != MAGIC:
            size = 0 if data is None else len(data)
            raise NotWireFormatError(f"not Confluent wire format ({size} bytes, no magic byte 0)")
        schema_id = HEADER.unpack_from(data)[1]
        writer, parsed = self._schema(schema_id)
        body = io.BytesIO(data)
        body.seek(HEADER.size)
        try:
            value = schemaless_reader(body, parsed, None)
        except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError, ...
            raise CorruptAvroError(f"corrupt Avro for schema {schema_id}: {exc!r}") from exc
        if body.tell() != len(data) or not isinstance(value, dict):
            raise CorruptAvroError(
                f"corrupt Avro for schema {schema_id}: {len(data) - body.tell()} bytes left over"
            )
        return writer, value

    def _schema(self, schema_id: int) -> tuple[WriterSchema, Any]:
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        if time.monotonic() - self._unknown.get(schema_id, -UNKNOWN_ID_TTL_S) < UNKNOWN_ID_TTL_S:
            raise UnknownSchemaIdError(f"unknown schema id {schema_id}")
        schema = self._fetch(schema_id)
        definition = json.loads(schema.schema_str or "null")
        try:
            parsed = parse_schema(definition)
        except Exception as exc:
            raise UnknownSchemaIdError(f"schema id {schema_id} is not Avro: {exc}") from exc
        subject, version = self._version_of(schema)
        entry = (WriterSchema(schema_id, subject, version, definition), parsed)
        self._schemas[schema_id] = entry
        return entry

    def _fetch(self, schema_id: int) -> Schema:
        try:
            schema = self._client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                self._unknown[schema_id] = time.monotonic()
                raise UnknownSchemaIdError(f"unknown schema id {schema_id}") from exc
            raise RegistryError(f"the registry failed to return schema {schema_id}: {exc}") from exc
        except Exception as exc:
            raise RegistryError(f"cannot reach the schema registry: {exc}") from exc
        if schema.schema_type not in (None, "AVRO"):
            raise UnknownSchemaIdError(f"schema id {schema_id} is {schema.schema_type}, not Avro")
        return schema

    def _version_of(self, schema: Schema) -> tuple[str | None, int | None]:
        """The version of the topic's value subject this schema is, if it is registered there."""
        try:
            registered = self._client.lookup_schema(self._subject, schema)
        except SchemaRegistryError:
            return None, None
        except Exception as exc:
            raise RegistryError(f"cannot reach the schema registry: {exc}") from exc
        return registered.subject or self._subject, registered.version
