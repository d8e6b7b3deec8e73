"""The OpenAPI description and the router cannot drift apart, and the registry serves it."""

from __future__ import annotations

import json
import re
from typing import Any

import schemathesis
from schemathesis.core.result import Ok

from pipeline.registry.routes import OPENAPI, ROUTES
from tests.registry.helpers import call

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def description() -> dict[str, Any]:
    return dict(json.loads(OPENAPI.read_text()))


def described_operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


def routed_operations() -> set[tuple[str, str]]:
    return {(r.method, "/" + "/".join(r.parts)) for r in ROUTES}


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, kind, name = node["$ref"].removeprefix("#/").split("/")
        node = doc[section][kind][name]
    return node


def test_every_route_is_described_and_nothing_else() -> None:
    described, routed = described_operations(description()), routed_operations()
    assert sorted(routed - described) == []
    assert sorted(described - routed) == []
    assert len(routed) == len(ROUTES) == 33


def test_path_parameters_match_the_templates() -> None:
    doc = description()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            declared = {
                p["name"]
                for p in map(lambda n: resolve(doc, n), operation.get("parameters", []))
                if p["in"] == "path"
            }
            assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)


def test_every_error_response_is_confluents_error_body() -> None:
    doc = description()
    error_ref = "#/components/schemas/ErrorMessage"
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert "200" in operation["responses"] or path.startswith("/associations")
            for status, response in operation["responses"].items():
                if status.startswith("2"):
                    continue
                media = resolve(doc, response)["content"]
                schemas = {m["schema"]["$ref"] for m in media.values()}
                assert schemas == {error_ref}, (method, path, status)


def test_schemathesis_reads_every_operation() -> None:
    loaded = schemathesis.openapi.from_dict(description())
    results = list(loaded.get_all_operations())
    assert all(isinstance(r, Ok) for r in results)
    labels = {r.ok().label for r in results if isinstance(r, Ok)}
    assert labels == {f"{m} {p}" for m, p in routed_operations()}


def test_the_registry_serves_its_description(registry_url: str) -> None:
    status, served = call(registry_url, "GET", "/openapi.json")
    assert status == 200
    assert served == description()
    assert served["openapi"].startswith("3.")
