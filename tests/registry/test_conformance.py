"""Conformance: confluent-kafka's own SchemaRegistryClient and serializers drive the server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka.schema_registry import (
    Schema,
    SchemaReference,
    SchemaRegistryClient,
    SchemaRegistryError,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.registry.helpers import call, field, record


@dataclass(frozen=True)
class History:
    """One test's schemas: a record name of its own, so no other test shares their ids."""

    v1: str
    v2: str
    v3_required: str
    type_changed: str


def history(name: str) -> History:
    return History(
        v1=record(name, field("id", "string")),
        v2=record(name, field("id", "string"), field("note", "string", default="")),
        v3_required=record(name, field("id", "string"), field("note", "string")),
        type_changed=record(name, field("id", "int")),
    )


def avro(text: str, references: list[SchemaReference] | None = None) -> Schema:
    return Schema(text, "AVRO", references or [])


@pytest.fixture
def client(registry_url: str) -> Iterator[SchemaRegistryClient]:
    # A fresh client per test; its cache would hide the server's answers otherwise.
    with SchemaRegistryClient({"url": registry_url}) as sr:
        yield sr


@pytest.fixture
def subject(unique: Callable[[str], str]) -> str:
    return unique("conf") + "-value"


@pytest.fixture
def h(subject: str) -> History:
    return history("Order_" + subject.split("-")[1])


def test_register_twice_gives_same_id_and_version(
    h: History, client: SchemaRegistryClient, subject: str
) -> None:
    first = client.register_schema_full_response(subject, avro(h.v1))
    client.clear_caches()
    again = client.register_schema_full_response(subject, avro(h.v1))
    assert (again.schema_id, again.version) == (first.schema_id, 1)
    assert client.get_versions(subject) == [1]


def test_same_schema_in_another_subject_reuses_its_id(
    h: History, client: SchemaRegistryClient, subject: str
) -> None:
    schema_id = client.register_schema(subject, avro(h.v1))
    other = subject.replace("-value", "-key")
    assert client.register_schema(other, avro(h.v1)) == schema_id
    assert sorted(client.get_subjects_by_schema_id(schema_id)) == sorted([subject, other])
    versions = client.get_schema_versions(schema_id)
    assert {(v.subject, v.version) for v in versions} == {(subject, 1), (other, 1)}


def test_new_schemas_get_new_ids_and_versions(
    h: History, client: SchemaRegistryClient, subject: str
) -> None:
    id1 = client.register_schema(subject, avro(h.v1))
    id2 = client.register_schema(subject, avro(h.v2))
    assert id2 > id1
    latest = client.get_latest_version(subject)
    assert (latest.version, latest.schema_id, latest.subject) == (2, id2, subject)
    assert client.get_version(subject, 1).schema.schema_str == h.v1
    assert client.get_schema(id2).schema_str == h.v2
    assert client.get_schema(id1, subject_name=subject).schema_str == h.v1


def test_lookup_and_listing(h: History, client: SchemaRegistryClient, subject: str) -> None:
    schema_id = client.register_schema(subject, avro(h.v1))
    found = client.lookup_schema(subject, avro(h.v1))
    assert (found.schema_id, found.version, found.subject) == (schema_id, 1, subject)
    with pytest.raises(SchemaRegistryError) as missing:
        client.lookup_schema(subject, avro(h.v2))
    assert missing.value.error_code == 40403
    assert subject in client.get_subjects()
    assert client.get_subjects(subject_prefix=subject) == [subject]
    assert client.get_schema_types() == ["AVRO"]


def test_compatibility_checks_and_verbose_reasons(
    h: History, client: SchemaRegistryClient, subject: str
) -> None:
    client.register_schema(subject, avro(h.v1))
    assert client.test_compatibility(subject, avro(h.v2)) is True
    assert client.test_compatibility(subject, avro(h.type_changed), version=1) is False
    assert client.test_compatibility_all_versions(subject, avro(h.type_changed)) is False
    with pytest.raises(SchemaRegistryError) as rejected:
        client.register_schema(subject, avro(h.type_changed))
    assert (rejected.value.http_status_code, rejected.value.error_code) == (409, 409)
    assert "field 'id'" in rejected.value.error_message
    assert "TYPE_MISMATCH" in rejected.value.error_message


@pytest.mark.parametrize(
    ("level", "accepts_required_field", "accepts_type_change"),
    [
        ("BACKWARD", True, False),
        ("BACKWARD_TRANSITIVE", False, False),
        ("FORWARD", True, False),
        ("FORWARD_TRANSITIVE", True, False),
        ("FULL", True, False),
        ("FULL_TRANSITIVE", False, False),
        ("NONE", True, True),
    ],
)
def test_every_level_through_the_client(
    h: History,
    client: SchemaRegistryClient,
    subject: str,
    level: str,
    accepts_required_field: bool,
    accepts_type_change: bool,
) -> None:
    # History h.v1, h.v2 (adds 'note' with a default); V3 makes 'note' required: fine against
    # h.v2 for every level, but h.v1's data lacks it, so backward transitive levels refuse.
    assert client.set_compatibility(subject, level) == {"compatibility": level}
    assert client.get_compatibility(subject) == level
    client.register_schema(subject, avro(h.v1))
    client.register_schema(subject, avro(h.v2))
    assert client.test_compatibility_all_versions(subject, avro(h.v3_required)) is (
        accepts_required_field
    )
    assert client.test_compatibility(subject, avro(h.v3_required), version=2) is True
    assert client.test_compatibility_all_versions(subject, avro(h.type_changed)) is (
        accepts_type_change
    )


def test_config_subject_and_global(client: SchemaRegistryClient, subject: str) -> None:
    assert client.get_compatibility() in {"BACKWARD", "NONE", "FULL"}
    with pytest.raises(SchemaRegistryError) as unset:
        client.get_compatibility(subject)
    assert unset.value.error_code == 40408
    status, body = call(client.config()["url"], "GET", f"/config/{subject}?defaultToGlobal=true")
    assert (status, body) == (200, {"compatibilityLevel": client.get_compatibility()})
    client.set_compatibility(subject, "full")
    assert client.get_config(subject).compatibility_level.value == "FULL"
    assert client.delete_config(subject).compatibility_level.value == "FULL"
    with pytest.raises(SchemaRegistryError):
        client.get_compatibility(subject)


def test_modes(h: History, client: SchemaRegistryClient, subject: str) -> None:
    assert client.get_global_mode() == "READWRITE"
    client.register_schema(subject, avro(h.v1))
    assert client.update_mode(subject, "READONLY") == "READONLY"
    assert client.get_mode(subject) == "READONLY"
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(subject, avro(h.v2))
    assert refused.value.error_code == 42205
    assert client.delete_mode(subject) == "READONLY"
    assert client.register_schema(subject, avro(h.v2)) > 0


def test_import_mode_keeps_given_id_and_version(
    h: History, client: SchemaRegistryClient, subject: str
) -> None:
    url = client.config()["url"]
    client.register_schema(subject, avro(h.v1))
    with pytest.raises(SchemaRegistryError) as non_empty:
        client.update_mode(subject, "IMPORT")
    assert non_empty.value.error_code == 42205
    fresh = subject + "-import"
    assert client.update_mode(fresh, "IMPORT") == "IMPORT"
    body = {"schema": h.v3_required, "id": 987654, "version": 7}
    status, answer = call(url, "POST", f"/subjects/{fresh}/versions", body)
    assert (status, answer) == (200, {"id": 987654, "version": 7})
    registered = client.get_version(fresh, 7)
    assert (registered.schema_id, registered.schema.schema_str) == (987654, h.v3_required)
    client.delete_mode(fresh)


def test_soft_then_permanent_delete(h: History, client: SchemaRegistryClient, subject: str) -> None:
    id1 = client.register_schema(subject, avro(h.v1))
    client.register_schema(subject, avro(h.v2))
    assert client.delete_version(subject, 2) == 2
    assert client.get_versions(subject) == [1]
    assert client.get_versions(subject, deleted=True) == [1, 2]
    assert client.delete_subject(subject) == [1]
    assert subject not in client.get_subjects()
    assert subject in client.get_subjects(deleted=True)
    # Soft-deleted schemas stay readable by id: old records must still decode.
    assert client.get_schema(id1).schema_str == h.v1
    assert client.delete_subject(subject, permanent=True) == [1, 2]
    assert subject not in client.get_subjects(deleted=True)
    with pytest.raises(SchemaRegistryError) as gone:
        client.get_versions(subject, deleted=True)
    assert gone.value.error_code == 40401


def test_re_registering_after_soft_delete_keeps_the_id(
    h: History, client: SchemaRegistryClient, subject: str
) -> None:
    schema_id = client.register_schema(subject, avro(h.v1))
    client.delete_subject(subject)
    client.clear_caches()
    again = client.register_schema_full_response(subject, avro(h.v1))
    assert (again.schema_id, again.version) == (schema_id, 2)


def test_references_and_referenced_by(client: SchemaRegistryClient, subject: str) -> None:
    address_subject = subject + "-address"
    address = record("Address", field("city", "string"))
    client.register_schema(address_subject, avro(address))
    order = record("OrderWithAddress", field("ship_to", "Address"))
    ref = SchemaReference("Address", address_subject, 1)
    order_id = client.register_schema(subject, avro(order, [ref]))
    assert client.get_referenced_by(address_subject, 1) == [order_id]
    fetched = client.get_schema(order_id)
    assert [(r.name, r.subject, r.version) for r in fetched.references] == [
        ("Address", address_subject, 1)
    ]
    with pytest.raises(SchemaRegistryError) as in_use:
        client.delete_version(address_subject, 1)
    assert in_use.value.error_code == 42206


def test_serializers_round_trip_through_the_registry(
    h: History, registry_url: str, subject: str
) -> None:
    topic = subject.removesuffix("-value")
    with SchemaRegistryClient({"url": registry_url}) as sr:
        # Default settings: the association lookup (which must 404), then auto-registration.
        serializer = AvroSerializer(sr, h.v2)
        deserializer = AvroDeserializer(sr)
        ctx = SerializationContext(topic, MessageField.VALUE)
        payload = serializer({"id": "o-1", "note": "hi"}, ctx)
        assert payload is not None and payload[0] == 0
        assert deserializer(payload, ctx) == {"id": "o-1", "note": "hi"}
        schema_id = int.from_bytes(payload[1:5], "big")
        assert sr.get_latest_version(f"{topic}-value").schema_id == schema_id
