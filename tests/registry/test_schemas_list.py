"""`GET /schemas`: Confluent's list of schemas by subject and version, with its filters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.registry.helpers import call, field, record, register

V1 = record("ListOrder", field("id", "string"))
V2 = record("ListOrder", field("id", "string"), field("n", "int", default=0))
OTHER = record("ListOther", field("x", "int"))


def schemas(url: str, query: str) -> list[dict[str, Any]]:
    status, body = call(url, "GET", f"/schemas?{query}")
    assert status == 200, body
    return list(body)


def test_the_list_by_subject_and_version_with_its_filters(
    registry_url: str, unique: Callable[[str], str]
) -> None:
    prefix = unique("list")
    first, second = f"{prefix}-a-value", f"{prefix}-b-value"
    one = register(registry_url, first, V1)["id"]
    two = register(registry_url, first, V2)["id"]
    other = register(registry_url, second, OTHER)["id"]
    assert call(registry_url, "DELETE", f"/subjects/{first}/versions/1") == (200, 1)

    def entry(subject: str, version: int, schema_id: int, text: str) -> dict[str, Any]:
        return {"subject": subject, "version": version, "id": schema_id, "schema": text}

    live = [entry(first, 2, two, V2), entry(second, 1, other, OTHER)]
    everything = [entry(first, 1, one, V1), *live]
    assert schemas(registry_url, f"subjectPrefix={prefix}") == live
    assert schemas(registry_url, f"subjectPrefix={prefix}&deleted=true") == everything
    assert schemas(registry_url, f"subjectPrefix={prefix}&latestOnly=true") == live
    assert schemas(registry_url, f"subjectPrefix={prefix}&deleted=true&latestOnly=true") == live
    assert schemas(registry_url, f"subjectPrefix={second}") == live[1:]
    paged = f"subjectPrefix={prefix}&deleted=true&offset=1&limit=1"
    assert schemas(registry_url, paged) == everything[1:2]
    assert schemas(registry_url, f"subjectPrefix={prefix}-none") == []
    # Without a prefix: every subject's versions, in the same order, these among them.
    listed = schemas(registry_url, "")
    assert [e for e in listed if e["subject"].startswith(prefix)] == live


def test_a_bad_flag_is_400(registry_url: str) -> None:
    status, body = call(registry_url, "GET", "/schemas?latestOnly=perhaps")
    assert (status, body["error_code"]) == (400, 400)
