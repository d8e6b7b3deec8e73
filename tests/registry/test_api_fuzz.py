"""The registry's HTTP API fuzzed from its own OpenAPI description, with schemathesis.

For every operation in pipeline/registry/openapi.json, schemathesis sends the description's
examples, its boundary cases, then fuzzed requests, valid and invalid, to a real registry
(one of this module's own: a free port, a fresh `_schemas` topic, the session's broker).
Every response must not be a 5xx, and must have a documented status, content type, headers
and body shape; a method a route does not serve must get 405 with an Allow header.
Bounded: a fixed seed, `MAX_EXAMPLES` fuzzed requests per operation, a deadline per
example and a timeout per request (about 30 s in all on a 2-core machine).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from pipeline.registry.routes import OPENAPI
from pipeline.registry.server import RegistryServer
from tests.registry.avro_strategies import avro_schema_text
from tests.registry.helpers import call, field, own_server, record, register

MAX_EXAMPLES = 30
SEED = 20_260_601
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "allow_header_conformance",
)
# The description in the tree; test_openapi.py checks the registry serves the same bytes.
DESCRIPTION = json.loads(OPENAPI.read_text())
# The subject the description's examples name, so that they meet existing versions.
EXAMPLE_SUBJECT = "order-events-value"


@pytest.fixture(scope="module")
def fuzzed_registry(kafka_bootstrap: str) -> Iterator[RegistryServer]:
    with own_server(kafka_bootstrap) as server:
        seed_data(server.url)
        yield server


def seed_data(url: str) -> None:
    """The description's example schema, a second version and a reference to the first."""
    example = DESCRIPTION["components"]["schemas"]["SchemaRequest"]["example"]["schema"]
    assert register(url, EXAMPLE_SUBJECT, example) == {"id": 1, "version": 1}
    wider = json.loads(example)
    wider["fields"].append({"name": "note", "type": "string", "default": ""})
    assert register(url, EXAMPLE_SUBJECT, json.dumps(wider)) == {"id": 2, "version": 2}
    refs = [{"name": "com.example.Example", "subject": EXAMPLE_SUBJECT, "version": 1}]
    holder = record("Holder", field("example", "com.example.Example"))
    assert register(url, "holder-value", holder, references=refs) == {"id": 3, "version": 1}
    assert call(url, "GET", f"/subjects/{EXAMPLE_SUBJECT}/versions") == (200, [1, 2])


def fuzz_config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "request-timeout": 15,
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )


# Schema text that parses, so that fuzzing reaches registration and compatibility logic.
schemathesis.openapi.format("avro-schema", avro_schema_text())
schema = schemathesis.openapi.from_dict(DESCRIPTION, config=fuzz_config())


@pytest.mark.faults
@schema.parametrize()
@hypothesis.settings(deadline=5000)
def test_api_answers_as_described(case: Any, fuzzed_registry: RegistryServer) -> None:
    case.call_and_validate(base_url=fuzzed_registry.url)
