"""The API fuzzed from its own OpenAPI description with schemathesis: never a 5xx.

For every operation, schemathesis sends the description's examples, boundary cases and
fuzzed requests (valid and invalid) to the real API on a live stack (this module's own
topic, the services running). Every answer must not be a 5xx and must have a documented
status and content type. The live stream (`/events/stream`) never ends, so it is left to
test_reading. Bounded: a fixed seed, MAX_EXAMPLES per operation, a timeout per request.
"""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from pipeline.api.app import create_app
from pipeline.config import Settings
from tests.api.conftest import ApiUnderTest

MAX_EXAMPLES = 25
SEED = 20_261_127
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
# The description the application serves; building the app does no I/O (its state starts
# in the lifespan), so this is the same document /openapi.json answers with.
DESCRIPTION = create_app(Settings()).openapi()


def fuzz_config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "request-timeout": 20,
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


schema = schemathesis.openapi.from_dict(DESCRIPTION, config=fuzz_config()).exclude(
    path="/events/stream"
)


def test_the_description_is_served(pipeline_under_api: ApiUnderTest) -> None:
    assert pipeline_under_api.http.get("/openapi.json").json() == DESCRIPTION
    assert pipeline_under_api.http.get("/docs").status_code == 200


@pytest.mark.faults
@schema.parametrize()
@hypothesis.settings(deadline=10_000)
def test_api_never_answers_5xx(case: Any, pipeline_under_api: ApiUnderTest) -> None:
    case.call_and_validate(base_url=pipeline_under_api.url)
