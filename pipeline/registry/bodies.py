"""Request bodies → typed requests, refusing wrong shapes with the code a client expects."""

from __future__ import annotations

from typing import Any

from pipeline.registry.errors import InvalidSchema, InvalidVersion, Unprocessable
from pipeline.registry.operations import SchemaRequest
from pipeline.registry.schemas import AVRO, Reference

MAX_INT = 2**31 - 1
LONE_SURROGATE = "contains a lone surrogate (\\ud800-\\udfff), which is not valid Unicode"


def schema_request(body: dict[str, Any]) -> SchemaRequest:
    """The body of register / look up / test compatibility."""
    schema = body.get("schema")
    if not isinstance(schema, str) or not schema.strip():
        raise InvalidSchema("Invalid schema: the body needs a non-empty 'schema' string")
    if not is_unicode(schema):
        raise InvalidSchema(f"Invalid schema: {LONE_SURROGATE}")
    schema_type = body.get("schemaType") or AVRO
    if not isinstance(schema_type, str):
        raise Unprocessable("'schemaType' must be a string")
    return SchemaRequest(
        schema=schema,
        schema_type=schema_type.upper(),
        references=references(body.get("references")),
        schema_id=positive(body, "id"),
        version=version(body),
    )


def references(raw: object) -> tuple[Reference, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise Unprocessable("'references' must be a list")
    refs = []
    for item in raw:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and isinstance(item.get("subject"), str)
            and is_int(item.get("version"))
        ):
            raise Unprocessable(
                "each reference needs 'name' (string), 'subject' (string) and 'version' (integer)"
            )
        if not (is_unicode(item["name"]) and is_unicode(item["subject"])):
            raise Unprocessable(f"a reference's name or subject {LONE_SURROGATE}")
        refs.append(Reference(name=item["name"], subject=item["subject"], version=item["version"]))
    return tuple(refs)


def positive(body: dict[str, Any], name: str) -> int | None:
    raw = body.get(name)
    if raw is None or raw == -1:  # Confluent's clients send -1 for "not given"
        return None
    if not is_int(raw) or not 1 <= raw <= MAX_INT:
        raise Unprocessable(f"'{name}' must be an integer between 1 and {MAX_INT}")
    return int(raw)


def version(body: dict[str, Any]) -> int | None:
    raw = body.get("version")
    if raw is None or raw == -1:
        return None
    if not is_int(raw) or not 1 <= raw <= MAX_INT:
        raise InvalidVersion(raw)
    return int(raw)


def is_unicode(text: str) -> bool:
    """False for text holding a lone surrogate: JSON can escape one, UTF-8 cannot store it."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
