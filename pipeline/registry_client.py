"""Talking to a schema registry that speaks Confluent's REST API: the one place for it.

Every request goes through `call()`, which turns the client's failures into the project's
errors, so no other module translates them:

    RegistryError            the registry refused the request (4xx): fix the request
    └── RegistryUnavailable  it cannot be reached, or failed (5xx): try again later

The subject of a topic's values is Confluent's TopicNameStrategy (`value_subject`).
"""

from __future__ import annotations

import shlex
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from confluent_kafka.schema_registry import RegisteredSchema, Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from pipeline.config import Settings, unreachable_hint
from pipeline.errors import RegistryError

T = TypeVar("T")
TIMEOUT_S = 10
# Confluent error codes for "no such subject / version / schema".
SUBJECT_NOT_FOUND, VERSION_NOT_FOUND, SCHEMA_NOT_FOUND = 40401, 40402, 40403
NOT_FOUND_CODES = {SUBJECT_NOT_FOUND, VERSION_NOT_FOUND, SCHEMA_NOT_FOUND}


class RegistryUnavailable(RegistryError):
    """The registry cannot be reached or failed (5xx); the request may succeed later."""


class SchemaNotRegisteredError(RegistryError):
    """A producer's schema is not registered under its subject (governance: never added)."""


def value_subject(topic: str) -> str:
    """The subject of `topic`'s message values (Confluent's TopicNameStrategy)."""
    return f"{topic}-value"


def connect(settings: Settings) -> SchemaRegistryClient:
    """A registry client whose requests are bounded in time and retries; close it."""
    config = settings.registry_config()
    config.setdefault("timeout", TIMEOUT_S)
    config.setdefault("max.retries", 2)
    return SchemaRegistryClient(config)


@contextmanager
def connected(settings: Settings) -> Iterator[SchemaRegistryClient]:
    client = connect(settings)
    try:
        yield client
    finally:
        client.close()


def call(action: Callable[[], T], what: str) -> T:
    """Run one registry request; its failure becomes a one-line `RegistryError`."""
    try:
        return action()
    except SchemaRegistryError as exc:
        text = f"{what}: {exc.error_message} (error {exc.error_code})"
        if exc.http_status_code >= 500:
            raise RegistryUnavailable(text) from exc
        raise RegistryError(text) from exc
    except Exception as exc:  # httpx's transport errors share no base with OSError
        raise RegistryUnavailable(f"{what}: {unreachable(exc)}") from exc


def unreachable(exc: Exception) -> str:
    """ "cannot reach the schema registry at URL (reason): what to run", from the client's
    transport error (httpx's errors carry the request and so the URL)."""
    try:
        url = exc.request.url  # type: ignore[attr-defined]
        where = f"{url.scheme}://{url.netloc.decode()}"
    except Exception:  # not a transport error with a request: no address to name
        return f"cannot reach the schema registry ({exc})"
    hint = unreachable_hint(where, "--registry-url", "SCHEMA_REGISTRY_URL")
    reason = str(exc).removeprefix("[Errno 111] ").lower() or type(exc).__name__
    return f"cannot reach the schema registry at {where} ({reason}): {hint}"


def error_code(exc: BaseException) -> int | None:
    """Confluent's error code behind a `RegistryError` raised by `call`, if any."""
    cause = exc.__cause__
    return cause.error_code if isinstance(cause, SchemaRegistryError) else None


def is_not_found(exc: BaseException) -> bool:
    cause = exc.__cause__
    return isinstance(cause, SchemaRegistryError) and (
        cause.error_code in NOT_FOUND_CODES or cause.http_status_code == 404
    )


def lookup_registered(client: SchemaRegistryClient, subject: str, schema_str: str) -> int:
    """The id under which `schema_str` is registered in `subject`; never registers it."""
    try:
        found = call(lambda: client.lookup_schema(subject, Schema(schema_str, "AVRO")), subject)
    except RegistryUnavailable:
        raise
    except RegistryError as exc:
        if is_not_found(exc):
            why = (
                "the subject does not exist"
                if error_code(exc) == SUBJECT_NOT_FOUND
                else "no version of the subject is this schema"
            )
            raise SchemaNotRegisteredError(
                f"the schema is not registered under subject {subject!r} ({why}); "
                f"register it first: {register_command(subject)}"
            ) from exc
        raise RegistryError(f"the registry refused the lookup in {exc}") from exc
    if found.schema_id is None:
        raise RegistryError(f"the registry answered the lookup in {subject!r} without an id")
    return found.schema_id


def register_command(subject: str) -> str:
    """The command that registers a schema file in `subject` (--subject unless the default)."""
    command = "python cli.py schema register FILE"
    if subject != value_subject(Settings().topic):
        command += f" --subject {shlex.quote(subject)}"
    return command


def register(client: SchemaRegistryClient, subject: str, schema_str: str) -> RegisteredSchema:
    """Register (or find again) `schema_str` in `subject`: its id and version."""
    schema = Schema(schema_str, "AVRO")
    call(lambda: client.register_schema(subject, schema), f"registering in {subject!r}")
    return call(lambda: client.lookup_schema(subject, schema), f"looking up in {subject!r}")


def delete_subject(client: SchemaRegistryClient, subject: str, *, permanent: bool) -> list[int]:
    """Soft-delete a subject; with `permanent`, then hard-delete it (Confluent's two steps)."""
    gone = call(lambda: client.delete_subject(subject), f"deleting {subject!r}")
    if permanent:
        call(lambda: client.delete_subject(subject, permanent=True), f"deleting {subject!r}")
    return list(gone)


def fetch_schema(client: SchemaRegistryClient, schema_id: int) -> Schema | None:
    """The schema with this id, or None if the registry knows no such id."""
    try:
        return call(lambda: client.get_schema(schema_id), f"schema id {schema_id}")
    except RegistryUnavailable:
        raise
    except RegistryError as exc:
        if is_not_found(exc):
            return None
        # Not a verdict on the id (a 401, say): the caller reads the message again later.
        raise RegistryUnavailable(f"the registry failed to return schema {exc}") from exc


def version_in(
    client: SchemaRegistryClient, subject: str, schema: Schema
) -> tuple[str | None, int | None]:
    """(subject, version) if `schema` is registered in `subject`, else (None, None)."""
    try:
        found = call(lambda: client.lookup_schema(subject, schema), f"looking up in {subject!r}")
    except RegistryUnavailable:
        raise
    except RegistryError:
        return None, None
    return found.subject or subject, found.version


def verbose_compatibility(
    client: SchemaRegistryClient, subject: str, schema_str: str
) -> dict[str, Any]:
    """POST /compatibility/subjects/{s}/versions?verbose=true: the verdict and its reasons.

    confluent-kafka's `test_compatibility_all_versions` keeps only the boolean, so the
    request goes through the client's own REST client: same URL, credentials, TLS and
    retries as every other call (the registry tests cover it against a real registry).
    """
    path = f"compatibility/subjects/{urllib.parse.quote(subject, safe='')}/versions?verbose=true"
    body = {"schema": schema_str}
    answer = call(
        lambda: client._rest_client.post(path, body=body), f"compatibility check in {subject!r}"
    )
    if not isinstance(answer, dict):
        raise RegistryError(
            f"compatibility check in {subject!r}: the registry's answer is not an object"
        )
    return answer
