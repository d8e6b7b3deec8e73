"""Matrix verdicts on known pairs, and the decoded-data evidence agreeing with each verdict."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.registry.compatibility import Level
from pipeline.schema_lab.matrix import compatibility_matrix


def record(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": "R", "fields": [{"name": "id", "type": "string"}, *fields]}


STATUS = {"type": "enum", "name": "S", "symbols": ["A", "B"]}
STATUS_PLUS = {"type": "enum", "name": "S", "symbols": ["A", "B", "C"]}

# (old, new, accepted when the new schema reads old data, accepted when the old reads new)
PAIRS = {
    "added field with default": (
        record(),
        record({"name": "amount", "type": ["null", "double"], "default": None}),
        True,
        True,
    ),
    "removed field without default": (
        record({"name": "note", "type": "string"}),
        record(),
        True,
        False,
    ),
    "new enum symbol": (
        record({"name": "s", "type": STATUS}),
        record({"name": "s", "type": STATUS_PLUS}),
        True,
        False,
    ),
    "type promotion int to long": (
        record({"name": "n", "type": "int"}),
        record({"name": "n", "type": "long"}),
        True,
        False,
    ),
    "renamed field with alias": (
        record({"name": "email", "type": "string"}),
        record({"name": "mail", "type": "string", "aliases": ["email"]}),
        True,
        False,
    ),
    "renamed field without alias": (
        record({"name": "email", "type": "string"}),
        record({"name": "mail", "type": "string"}),
        False,
        False,
    ),
}


@pytest.mark.parametrize("case", PAIRS)
def test_verdicts_per_level_and_evidence_agree(case: str) -> None:
    old, new, backward_ok, forward_ok = PAIRS[case]
    matrix = compatibility_matrix(old, new)
    verdicts = {row.level: row.accepted for row in matrix.rows}
    assert verdicts == {
        Level.BACKWARD: backward_ok,
        Level.BACKWARD_TRANSITIVE: backward_ok,
        Level.FORWARD: forward_ok,
        Level.FORWARD_TRANSITIVE: forward_ok,
        Level.FULL: backward_ok and forward_ok,
        Level.FULL_TRANSITIVE: backward_ok and forward_ok,
        Level.NONE: True,
    }
    # What really happens to data matches the checker's verdict in each direction.
    assert matrix.backward.ok is backward_ok
    assert matrix.forward.ok is forward_ok
    for row in matrix.rows:
        assert row.accepted == all(evidence.ok for evidence in row.evidence)
        assert bool(row.reasons) is not row.accepted


def test_refusal_reasons_name_the_field() -> None:
    old, new, _, _ = PAIRS["new enum symbol"]
    forward = next(row for row in compatibility_matrix(old, new).rows if row.level is Level.FORWARD)
    assert "field 's'" in forward.reasons[0]
    assert "enum symbols" in forward.reasons[0]
    assert forward.evidence[0].failed == 20  # every third sample record carries the new symbol
    assert "C" in (forward.evidence[0].first_error or "")
