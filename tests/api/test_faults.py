"""A dependency down: 503 with the reason and Retry-After, within seconds; back when it is.

Each test stops a server of its own (a broker in a temporary folder, a registry in a
thread), never the session's.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from pipeline.api.health import PROBE_TIMEOUT_S
from pipeline.api.server import running_api
from pipeline.api.settings import ApiSettings
from pipeline.config import Settings
from pipeline.devstack import stack
from pipeline.devstack import testing as devstack_testing
from pipeline.registry.embedded import embedded_registry
from tests.api.conftest import V2, eventually, register

FAST = ApiSettings(port=0, sample_interval_s=0.5)


def _settings(bootstrap: str, registry: str, folder: Path) -> Settings:
    topic = f"faults-{uuid.uuid4().hex[:8]}"
    return Settings(
        bootstrap_servers=bootstrap,
        registry_url=registry,
        topic=topic,
        alerts_topic=f"{topic}.alerts",
        dlq_topic=f"{topic}.dlq",
        db_path=folder / "audit.db",
    )


@pytest.mark.faults
def test_a_stopped_broker_gives_503_within_seconds_and_recovers(
    registry_url: str, tmp_path: Path
) -> None:
    own = devstack_testing.test_stack_settings(tmp_path / "kafka")
    stack.start_kafka(own)
    try:
        settings = _settings(own.bootstrap, registry_url, tmp_path)
        register(settings, V2)
        with running_api(settings, FAST) as url, httpx.Client(base_url=url, timeout=30) as http:
            assert http.post("/orders", json={"user_id": "u1"}).status_code == 202
            stack.down(own)  # returns once the broker's process is gone
            stopped = time.monotonic()
            # Readiness names the broker down (any 503 will not do: the store is absent
            # here, so /ready was 503 all along). Nothing listens at its address any more,
            # which is known at once: no waiting out a metadata request's timeout.
            ready = eventually(lambda: _broker_refused(http), timeout_s=15, what="broker down")
            seen = time.monotonic() - stopped
            assert ready.status_code == 503 and ready.headers["Retry-After"]
            broker = ready.json()["parts"]["broker"]
            assert broker["address"] == own.bootstrap and own.bootstrap in broker["reason"]
            assert own.bootstrap in ready.json()["error"]
            # Well under the two probe timeouts a stale sample took before (a loaded machine).
            assert seen < 2 * PROBE_TIMEOUT_S, f"the broker's stop took {seen:.1f} s to show"
            # Orders are refused at once, naming Kafka and where it was looked for.
            began = time.monotonic()
            answer = http.post("/orders", json={"user_id": "u2"})
            took = time.monotonic() - began
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"]
            assert "Kafka" in answer.json()["error"] and own.bootstrap in answer.json()["error"]
            assert took < 10
            # Reading what needs the broker says so too; what does not still answers.
            assert http.get("/groups").status_code == 503
            assert http.get("/health").status_code == 200

            stack.start_kafka(own)
            eventually(
                lambda: http.post("/orders", json={"user_id": "u3"}).status_code == 202,
                timeout_s=60,
                what="orders accepted again",
            )
            back = http.get("/ready").json()["parts"]["broker"]
            assert back == {"up": True, "address": own.bootstrap, "reason": ""}
    finally:
        stack.down(own)


def _broker_refused(http: httpx.Client) -> httpx.Response | None:
    """/ready once it shows the broker down because nothing accepts connections there."""
    answer = http.get("/ready")
    broker = answer.json()["parts"]["broker"]
    return answer if not broker["up"] and "refused" in broker["reason"] else None


@pytest.mark.faults
def test_a_stopped_registry_gives_503_naming_it(kafka_bootstrap: str, tmp_path: Path) -> None:
    with embedded_registry(kafka_bootstrap) as registry:
        settings = _settings(kafka_bootstrap, registry.url, tmp_path)
        register(settings, V2)
        with running_api(settings, FAST) as url, httpx.Client(base_url=url, timeout=30) as http:
            assert http.post("/orders", json={"user_id": "u1"}).status_code == 202
            registry.stop()
            began = time.monotonic()
            answer = eventually(
                lambda: (
                    (r := http.post("/orders", json={"user_id": "u2"})).status_code == 503 and r
                ),
                timeout_s=20,
                what="503 once the cached schema expires",
            )
            assert time.monotonic() - began < 15
            assert answer.headers["Retry-After"]
            assert "schema registry" in answer.json()["error"]
            schemas = http.get("/schemas")
            assert schemas.status_code == 503 and "schema registry" in schemas.json()["error"]
            ready = eventually(
                lambda: (r := http.get("/ready")).status_code == 503 and r.json(), what="not ready"
            )
            assert ready["parts"]["registry"]["up"] is False
            assert registry.url in ready["parts"]["registry"]["address"]
