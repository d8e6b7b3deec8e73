"""The API served by uvicorn on a free port, against the session's real broker and registry.

`pipeline_under_api` (one per session; each test uses users, keys and orders of its own):
a topic of its own with the v2 order schema registered, the storage service and the order
processor running in threads under groups of their own, and the API pointed at all of it;
tests talk to it over HTTP with httpx.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline import registry_client
from pipeline.api.server import running_api
from pipeline.api.settings import ApiSettings
from pipeline.config import Settings
from pipeline.kafka.admin import ensure_topics
from pipeline.services.order_processor import OrderProcessor
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.storage import StorageService
from tests.paths import SCHEMAS

V2 = SCHEMAS / "order_event.v2.avsc"
V3 = SCHEMAS / "order_event.v3.avsc"


def register(settings: Settings, path: Path) -> int:
    subject = registry_client.value_subject(settings.topic)
    with registry_client.connected(settings) as client:
        return registry_client.register(client, subject, path.read_text()).version or 0


def pipeline_settings(kafka_bootstrap: str, registry_url: str, folder: Path) -> Settings:
    topic = f"api-orders-{uuid.uuid4().hex[:10]}"
    return Settings(
        bootstrap_servers=kafka_bootstrap,
        registry_url=registry_url,
        topic=topic,
        alerts_topic=f"{topic}.alerts",
        dlq_topic=f"{topic}.dlq",
        stats_topic=f"{topic}.stats",
        db_path=folder / "audit.db",
        state_dir=folder / "state",
    )


class Services:
    """The storage service and the order processor (or `only` those named) in threads,
    under groups of their own."""

    def __init__(
        self, settings: Settings, only: tuple[str, ...] = ("storage", "order-processor")
    ) -> None:
        suffix = uuid.uuid4().hex[:8]
        made = {"storage": StorageService, "order-processor": OrderProcessor}
        self.groups = {name: f"{name}-{suffix}" for name in only}
        options = {"handle_signals": False, "poll_timeout_s": 0.2, "batch_size": 200}
        self.runners = [
            Runner(settings, made[name](settings), RunOptions(group_id=group, **options))
            for name, group in self.groups.items()
        ]
        self.threads = [threading.Thread(target=r.run, daemon=True) for r in self.runners]

    def __enter__(self) -> Services:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        for runner in self.runners:
            runner.stop()
        for thread in self.threads:
            thread.join(timeout=60)


@dataclass
class ApiUnderTest:
    settings: Settings
    url: str
    http: httpx.Client
    groups: dict[str, str]


@pytest.fixture(scope="session")
def pipeline_under_api(
    kafka_bootstrap: str, registry_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiUnderTest]:
    settings = pipeline_settings(kafka_bootstrap, registry_url, tmp_path_factory.mktemp("api"))
    register(settings, V2)
    ensure_topics(settings, {settings.topic: 3})
    with Services(settings) as services:
        api = ApiSettings(
            port=0,
            groups=tuple(services.groups.values()),
            sample_interval_s=0.5,
            header_timeout_s=3,
            body_timeout_s=3,
        )
        with running_api(settings, api) as url, httpx.Client(base_url=url, timeout=30) as http:
            yield ApiUnderTest(settings, url, http, services.groups)


def eventually(check: Callable[[], Any], timeout_s: float = 30.0, what: str = "") -> Any:
    """The first truthy result of `check()` within `timeout_s` (a bounded loop)."""
    deadline = time.monotonic() + timeout_s
    result = None
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout_s:.0f} s: {what} (last: {result!r})")


def new_order(http: httpx.Client, **overrides: Any) -> dict[str, Any]:
    body = {"user_id": f"user-{uuid.uuid4().hex[:6]}", "source": "WEB", "amount": 12.5, **overrides}
    answer = http.post("/orders", json=body)
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def timeline_of(http: httpx.Client, order_id: str, events: int) -> list[dict[str, Any]] | None:
    answer = http.get(f"/orders/{order_id}")
    if answer.status_code != 200:
        return None
    found = answer.json()["timeline"]
    return found if len(found) >= events else None
