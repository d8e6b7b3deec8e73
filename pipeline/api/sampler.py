"""One background sampler for every client: health, throughput per topic, lag per service.

Each interval it asks the broker for the end offsets of the pipeline's topics and the
committed offsets of the services' groups, and derives rates from the change since the
last sample. Those come from Kafka itself, so they hold for services in any process, and
the cost is the same for one open dashboard or twenty. The broker, the registry and the
store are probed by a `HealthWatch` on threads of their own; a part going up or down
replaces the latest sample's health at once, so /ready never answers from before it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pipeline import registry_client
from pipeline.api.health import CONNECT_TIMEOUT_S, PROBE_TIMEOUT_S, HealthWatch
from pipeline.api.sample import Sample, group_lag, rate_of
from pipeline.api.settings import ApiSettings
from pipeline.api.store_probe import StoreProbe
from pipeline.api.store_queries import store_address
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin
from pipeline.kafka.groups import CommittedOffsets, end_offsets, topic_partitions
from pipeline.services.groups import group_for

SERVICES = ("storage", "order-processor", "analytics")
STORE_EVERY = 5  # samples between store row counts (a count(*) of a large table is not free)


def stats_topic(settings: Settings) -> str:
    """The analytics output topic (`T.stats` for an input topic T other than the default)."""
    return settings.stats_topic


def service_groups(settings: Settings, api: ApiSettings) -> tuple[str, ...]:
    """The groups whose lag is followed: those named, else the three services' own."""
    return api.groups or tuple(group_for(service, settings) for service in SERVICES)


class Sampler:
    """Samples on its own thread every `interval`; `latest` is the last complete sample."""

    def __init__(
        self,
        settings: Settings,
        api: ApiSettings,
        publish: Callable[[Sample], None] = lambda sample: None,
    ) -> None:
        self.settings = settings
        self.api = api
        self.topics = (
            settings.topic,
            settings.alerts_topic,
            settings.dlq_topic,
            stats_topic(settings),
        )
        self.groups = service_groups(settings, api)
        self._publish = publish
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._admin: Admin | None = None
        self._committed: CommittedOffsets | None = None
        self._registry: Any = None
        self._store = StoreProbe(settings)
        self._rows: dict[str, int] = {}
        self._store_checks = 0
        self.registry_requests = 0
        self.health = HealthWatch(
            {
                "broker": (settings.bootstrap_servers, self._probe_broker),
                "registry": (settings.registry_url, self._probe_registry),
                "store": (store_address(settings), self._probe_store),
            },
            api.sample_interval_s,
            changed=self._health_changed,
        )
        self._latest_lock = threading.Lock()
        self.latest = Sample(time.time(), self.health.current())

    @property
    def admin(self) -> Admin:
        """The sampler's admin client (thread-safe), for requests that ask Kafka directly."""
        assert self._admin is not None, "the sampler is not started"
        return self._admin

    def start(self) -> None:
        self._admin = Admin.from_settings(self.settings, timeout_s=PROBE_TIMEOUT_S)
        self._committed = CommittedOffsets(self.settings.kafka_config(), timeout_s=PROBE_TIMEOUT_S)
        self._registry = registry_client.connect(self.settings, timeout_s=PROBE_TIMEOUT_S)
        self.health.start()
        self._thread = threading.Thread(target=self._run, name="api-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=PROBE_TIMEOUT_S * 3)
        self.health.stop()
        if self._registry is not None:
            self._registry.close()
        if self._committed is not None:
            self._committed.close()
        self._store.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            with contextlib.suppress(Exception):  # a dead sampler would freeze every page
                self._publish(self._keep(self.sample_once()))
            self._stop.wait(max(0.05, self.api.sample_interval_s - (time.monotonic() - began)))

    def _keep(self, sample: Sample) -> Sample:
        """`sample` as the latest, with the health as it is now (a probe may have answered
        while the offsets were asked for)."""
        with self._latest_lock:
            self.latest = replace(sample, health=self.health.current())
            return self.latest

    def _health_changed(self) -> None:
        with self._latest_lock:
            self.latest = replace(self.latest, health=self.health.current())

    def sample_once(self) -> Sample:
        now = time.time()
        previous = self.latest
        health = self.health.current()
        rows = self._rows if health["store"].up else {}
        sample = Sample(now, health, store_rows=rows)
        if health["broker"].up:
            try:
                sample = self._offsets(sample, previous)
            except (PipelineError, TimeoutError):
                # A partition without a leader for a moment (a topic just created), or the
                # broker gone in the middle: keep the last figures; ask the broker again
                # now, so a broker that went away is shown down without waiting a round.
                self.health.check("broker")
                sample = Sample(
                    now, health, previous.topic_ends, {}, previous.groups, store_rows=rows
                )
        return sample

    def _probe_broker(self) -> str:
        # A stopped broker: refused, at once (the Kafka client's own reading of the list).
        clients.require_reachable(self.settings, CONNECT_TIMEOUT_S)
        assert self._admin is not None
        try:
            self._admin.metadata()  # one that accepts but does not answer: its timeout
        except PipelineError:
            clients.require_reachable(self.settings, CONNECT_TIMEOUT_S)  # gone: say that
            raise
        return ""

    def _probe_registry(self) -> str:
        self.registry_requests += 1
        try:
            registry_client.call(self._registry.get_subjects, "listing subjects")
        except registry_client.RegistryUnavailable:
            raise  # down: the watch says why
        except PipelineError as exc:  # it answers (a 401, say): up, but say what it said
            return str(exc)
        return ""

    def _probe_store(self) -> str:
        self._store_checks += 1
        due = self._store_checks % STORE_EVERY == 1 or not self._rows
        try:
            counted = self._store.check(count_rows=due)
        except PipelineError:
            self._rows = {}
            raise
        self._rows = counted or self._rows
        return ""

    def _offsets(self, sample: Sample, previous: Sample) -> Sample:
        assert self._admin is not None
        partitions = topic_partitions(self._admin, self.topics)
        ends = end_offsets(self._admin, partitions)
        totals: dict[str, int] = {}
        for (name, _), end in ends.items():
            totals[name] = totals.get(name, 0) + end
        elapsed = sample.taken_at - previous.taken_at
        rates = {t: rate_of(n, previous.topic_ends.get(t), elapsed) for t, n in totals.items()}
        groups = {}
        assert self._committed is not None
        topic = self.settings.topic
        own = [(t, p) for t, p in partitions if t == topic]
        for group in self.groups:
            committed = self._committed.of(group, own)
            before = previous.groups.get(group)
            groups[group] = group_lag(group, topic, committed, ends, before, elapsed)
        return Sample(sample.taken_at, sample.health, totals, rates, groups, sample.store_rows)
