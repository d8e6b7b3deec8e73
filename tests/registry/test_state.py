"""`_schemas` record format and replaying it into state, pure (no broker)."""

from __future__ import annotations

import pytest

from pipeline.registry import admin, records
from pipeline.registry.errors import (
    StoreUnavailable,
    SubjectNotSoftDeleted,
    SubjectSoftDeleted,
    VersionNotSoftDeleted,
)
from pipeline.registry.operations import Records, Registry, SchemaRequest
from pipeline.registry.readiness import Readiness
from pipeline.registry.registration import plan_registration
from pipeline.registry.schemas import Reference
from pipeline.registry.state import State
from tests.registry.helpers import field, record

V1 = record("O", field("id", "string"))
V2 = record("O", field("id", "string"), field("n", "int", default=0))


def test_keys_match_confluents_bytes() -> None:
    assert records.schema_key("s", 3) == b'{"keytype":"SCHEMA","subject":"s","version":3,"magic":1}'
    assert records.config_key(None) == b'{"keytype":"CONFIG","subject":null,"magic":0}'
    assert records.mode_key("s") == b'{"keytype":"MODE","subject":"s","magic":0}'
    assert (
        records.delete_subject_key("s") == b'{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}'
    )


def test_values_match_confluents_shapes() -> None:
    plain = records.schema_value(subject="s", version=1, schema_id=7, schema="x", deleted=False)
    assert plain == b'{"subject":"s","version":1,"id":7,"schema":"x","deleted":false}'
    ref = Reference(name="A", subject="a", version=2)
    other = records.schema_value(
        subject="s", version=1, schema_id=7, schema="x", deleted=True,
        schema_type="JSON", references=[ref],
    )  # fmt: skip
    assert other == (
        b'{"subject":"s","version":1,"id":7,"schemaType":"JSON",'
        b'"references":[{"name":"A","subject":"a","version":2}],"schema":"x","deleted":true}'
    )
    assert records.config_value("FULL") == b'{"compatibilityLevel":"FULL"}'
    assert records.mode_value("IMPORT") == b'{"mode":"IMPORT"}'
    assert records.delete_subject_value("s", 4) == b'{"subject":"s","version":4}'


def replay(*pairs: tuple[bytes, bytes | None]) -> State:
    state = State()
    for key, value in pairs:
        decoded = records.decode(key, value)
        assert decoded is not None
        state.apply(decoded)
    return state


def schema(subject: str, version: int, schema_id: int, text: str, deleted: bool = False) -> tuple:
    value = records.schema_value(
        subject=subject, version=version, schema_id=schema_id, schema=text, deleted=deleted
    )
    return records.schema_key(subject, version), value


def test_replay_builds_subjects_ids_and_configs() -> None:
    state = replay(
        schema("a", 1, 1, V1),
        schema("a", 2, 2, V2),
        schema("b", 1, 1, V1),
        (records.config_key("a"), records.config_value("FULL")),
        (records.mode_key(None), records.mode_value("READONLY")),
        (b'{"keytype":"NOOP","magic":0}', None),
    )
    assert [v.version for v in state.versions("a")] == [1, 2]
    assert [v.schema_id for v in state.versions("b")] == [1]
    assert (state.max_id, sorted(state.schemas)) == (2, [1, 2])
    assert state.configs == {"a": "FULL"}
    assert state.modes == {None: "READONLY"}


def test_soft_and_permanent_deletes_replay() -> None:
    state = replay(
        schema("a", 1, 1, V1),
        schema("a", 2, 2, V2),
        (records.delete_subject_key("a"), records.delete_subject_value("a", 1)),
    )
    assert [v.version for v in state.versions("a")] == [2]
    assert [v.version for v in state.versions("a", deleted=True)] == [1, 2]
    state.apply(records.decode(records.schema_key("a", 1), None))  # type: ignore[arg-type]
    assert 1 not in state.schemas and state.max_id == 2


def test_undecodable_records_are_skipped() -> None:
    assert records.decode(b"not json", b"{}") is None
    assert records.decode(b'{"keytype":"SCHEMA"}', b"[1]") is None
    assert records.decode(None, b"{}") is None


def test_permanent_delete_needs_a_soft_delete_first() -> None:
    state = replay(schema("a", 1, 1, V1))
    with pytest.raises(SubjectNotSoftDeleted):
        admin.delete_subject(state, "a", permanent=True)
    with pytest.raises(VersionNotSoftDeleted):
        admin.delete_version(state, "a", 1, permanent=True)
    change = admin.delete_subject(state, "a", permanent=False)
    assert change.result == [1]
    assert change.records == (
        (records.delete_subject_key("a"), records.delete_subject_value("a", 1)),
    )


def test_soft_deleting_twice_is_refused_and_permanent_writes_tombstones() -> None:
    state = replay(
        schema("a", 1, 1, V1, deleted=True),
        (records.config_key("a"), records.config_value("NONE")),
    )
    with pytest.raises(SubjectSoftDeleted):
        admin.delete_subject(state, "a", permanent=False)
    change = admin.delete_subject(state, "a", permanent=True)
    assert change.result == [1]
    mark = (records.REGISTRY_KEY, records.registry_value(max_schema_id=1, writer=None))
    assert change.records == (
        mark,
        (records.schema_key("a", 1), None),
        (records.config_key("a"), None),
    )


def test_the_high_water_mark_outlives_the_records_of_the_highest_id() -> None:
    """What a replay sees once compaction has kept only the mark and the tombstones."""
    state = replay(schema("a", 1, 1, V1), schema("b", 1, 2, V2, deleted=True))
    change = admin.delete_version(state, "b", 1, permanent=True)
    assert change.records[0] == (
        records.REGISTRY_KEY,
        records.registry_value(max_schema_id=2, writer=None),
    )
    compacted = replay(schema("a", 1, 1, V1), *change.records)
    assert (compacted.max_id, sorted(compacted.schemas)) == (2, [1])
    # Confluent's own NOOP records (a null value) change nothing.
    assert replay(*change.records, (b'{"keytype":"NOOP","magic":0}', None)).max_id == 2
    # Once the mark is stored, a hard delete below it writes no new mark.
    marked = replay(schema("a", 1, 1, V1, deleted=True), *change.records)
    again = admin.delete_version(marked, "a", 1, permanent=True)
    assert again.records == ((records.schema_key("a", 1), None),)


class RecordingStore:
    """Stands in for Kafka in a test of the write protocol only (not of Kafka)."""

    def __init__(self, state: State, refuse: bool = False) -> None:
        self.state, self.refuse, self.calls = state, refuse, []  # type: ignore[var-annotated]

    def prepare(self) -> None:
        self.calls.append("prepare")
        if self.refuse:
            raise StoreUnavailable("an earlier write is still pending; retry")

    def write(self, batch: Records) -> None:
        for key, value in batch:
            self.calls.append(key)
            decoded = records.decode(key, value)
            assert decoded is not None
            self.state.apply(decoded)

    def readiness(self) -> Readiness:
        return Readiness(True, "", "test", "test", 0)


def test_writes_prepare_then_decide_then_apply() -> None:
    state = State()
    store = RecordingStore(state)
    registry = Registry(state, store)
    candidate = registry.candidate(SchemaRequest(schema=V1))
    entry = registry.change(lambda s: plan_registration(s, "a", candidate, normalize=False))
    assert (entry.schema_id, entry.version) == (1, 1)
    assert store.calls == ["prepare", records.schema_key("a", 1)]
    again = registry.change(lambda s: plan_registration(s, "a", candidate, normalize=False))
    assert (again.schema_id, again.version) == (1, 1)
    assert store.calls[2:] == ["prepare"]  # nothing new to write


def test_a_refused_prepare_decides_and_writes_nothing() -> None:
    state = State()
    store = RecordingStore(state, refuse=True)
    registry = Registry(state, store)
    candidate = registry.candidate(SchemaRequest(schema=V1))
    with pytest.raises(StoreUnavailable):
        registry.change(lambda s: plan_registration(s, "a", candidate, normalize=False))
    assert store.calls == ["prepare"] and state.subjects == {}
