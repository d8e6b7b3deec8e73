"""The schema files the package carries, and reading one (pure: no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import SchemaError
from pipeline.schema_files import ORDER_EVENT_V1, SCHEMAS_DIR, load_schema_file
from tests.paths import SCHEMAS


def test_load_schema_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="cannot read schema file"):
        load_schema_file(tmp_path / "missing.avsc")
    (tmp_path / "bad.avsc").write_text("{not json")
    with pytest.raises(SchemaError, match="not a valid Avro schema"):
        load_schema_file(tmp_path / "bad.avsc")
    (tmp_path / "wrong.avsc").write_text('{"type": "record", "name": "X", "fields": [{"a": 1}]}')
    with pytest.raises(SchemaError, match="not a valid Avro schema"):
        load_schema_file(tmp_path / "wrong.avsc")
    assert json.loads(load_schema_file(ORDER_EVENT_V1))["name"] == "OrderEvent"


def test_the_package_carries_the_repository_schemas_byte_for_byte() -> None:
    """`schemas/` is what users edit and the README names; the package's copy must follow."""
    repository = {p.name: p.read_bytes() for p in SCHEMAS.glob("*.avsc")}
    packaged = {p.name: p.read_bytes() for p in SCHEMAS_DIR.glob("*.avsc")}
    assert sorted(repository) == sorted(packaged)
    changed = [name for name in repository if repository[name] != packaged[name]]
    assert changed == [], f"copy schemas/{changed[0]} to pipeline/schemas/" if changed else ""
