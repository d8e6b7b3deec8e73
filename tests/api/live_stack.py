"""A whole pipeline with traffic, for the browser tests and the README's screenshots.

A broker of its own (or the session's), the project's registry, the three services in
threads under groups of their own (their own topics and state folders), a producer sending
realistic lifecycles with anomalies at a steady rate, and the API in front of it all.

The traffic starts a few minutes in the past and catches up with the clock within seconds,
then keeps to it: analytics' one-minute windows close on event time, so the first ones
are there to see at once, and a new one each minute after.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from itertools import takewhile
from pathlib import Path
from typing import Any

from pipeline.api.server import running_api
from pipeline.api.settings import ApiSettings
from pipeline.config import Settings
from pipeline.events import generate_events
from pipeline.kafka.admin import ensure_topics
from pipeline.producer import ProduceOptions, send_events
from pipeline.schema_files import ORDER_EVENT_V2, load_schema_file
from pipeline.serde import AvroEncoder
from pipeline.services.analytics import Analytics
from pipeline.services.order_processor import OrderProcessor
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.storage import StorageService
from tests.api.conftest import V2, register
from tests.order_helpers import produce_raw


@dataclass
class LiveStack:
    settings: Settings
    url: str
    groups: dict[str, str]
    traffic: Traffic


class Traffic:
    """Generated events at `rate` per second on a thread, until stopped."""

    def __init__(
        self, settings: Settings, rate: float, seed: int = 7, backdate_s: float = 180
    ) -> None:
        self.settings = settings
        self.rate = rate
        self.seed = seed
        self.backdate_s = backdate_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        with_v2 = ORDER_EVENT_V2
        from pipeline import registry_client

        with registry_client.connected(self.settings) as client:
            encoder = AvroEncoder.for_subject(
                client,
                registry_client.value_subject(self.settings.topic),
                load_schema_file(with_v2),
            )
        start_ms = int((time.time() - self.backdate_s) * 1000)
        events = not_ahead_of_now(
            generate_events(seed=self.seed, orders=200, anomaly_rate=0.01, start_ms=start_ms)
        )
        # One producer for the whole run (a steady rate); the events end when stop() is called.
        until_stopped = takewhile(lambda _: not self._stop.is_set(), events)
        send_events(
            self.settings, encoder, until_stopped, ProduceOptions(count=None, rate=self.rate)
        )

    def poison(self, count: int = 3) -> None:
        """Messages that are not order events: each service dead-letters them."""
        produce_raw(
            self.settings,
            self.settings.topic,
            [(b"careless", f"not avro {i}".encode()) for i in range(count)],
        )


def not_ahead_of_now(events: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The events with no timestamp later than the wall clock (a backdated run catches up
    at the generator's pace, then keeps to the clock)."""
    for event in events:
        yield {**event, "timestamp": min(event["timestamp"], int(time.time() * 1000))}


@contextmanager
def live_stack(
    kafka_bootstrap: str,
    registry_url: str,
    folder: Path,
    *,
    rate: float = 500,
    api: ApiSettings | None = None,
) -> Iterator[LiveStack]:
    topic = f"live-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        bootstrap_servers=kafka_bootstrap,
        registry_url=registry_url,
        db_path=folder / "audit.db",
        state_dir=folder / "state",
    ).reading(topic)
    register(settings, V2)
    ensure_topics(settings, {topic: 3})
    suffix = uuid.uuid4().hex[:6]
    services = {
        f"storage-{suffix}": StorageService(settings),
        f"order-processor-{suffix}": OrderProcessor(settings),
        f"analytics-{suffix}": Analytics(settings),
    }
    options = {"handle_signals": False, "poll_timeout_s": 0.2}
    runners = [
        Runner(settings, service, RunOptions(group_id=group, **options))
        for group, service in services.items()
    ]
    threads = [threading.Thread(target=r.run, daemon=True) for r in runners]
    traffic = Traffic(settings, rate)
    api = replace(api or ApiSettings(port=0), groups=tuple(services))
    with ExitStack() as stack:
        for thread in threads:
            thread.start()
        stack.callback(_stop_all, runners, threads)
        traffic.start()
        stack.callback(traffic.stop)
        url = stack.enter_context(running_api(settings, api))
        yield LiveStack(settings, url, {g.split("-")[0]: g for g in services}, traffic)


def _stop_all(runners: list[Runner], threads: list[threading.Thread]) -> None:
    for runner in runners:
        runner.stop()
    for thread in threads:
        thread.join(timeout=60)
