"""Prometheus metrics at /metrics, read from the sampler's last sample and the feeds.

Events in and lag come from the groups' committed offsets and the topics' end offsets, so
they describe services running in any process; the API only looks at Kafka. The registry
is per application (no process-wide default registry), built in the lifespan.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from pipeline.api.sampler import stats_topic

if TYPE_CHECKING:
    from pipeline.api.app import AppState

PREFIX = "order_pipeline"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.orders: Counter[str] = Counter()  # the API's own requests, by outcome

    def bind(self, state: AppState) -> None:
        self.registry.register(PipelineCollector(state))
        ProcessCollector(registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class PipelineCollector(Collector):
    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Any]:
        state = self.state
        sample = state.sampler.latest
        settings = state.settings
        up = GaugeMetricFamily(f"{PREFIX}_up", "1 if the part answers", labels=["part"])
        for name, part in sample.health.items():
            up.add_metric([name], 1.0 if part.up else 0.0)
        yield up
        ends = CounterMetricFamily(
            f"{PREFIX}_topic_messages",
            "Records written to each topic (end offsets)",
            labels=["topic"],
        )
        for topic, end in sample.topic_ends.items():
            ends.add_metric([topic], end)
        yield ends
        yield from self._groups(sample)
        outputs = {"order-processor": settings.alerts_topic, "analytics": stats_topic(settings)}
        out = CounterMetricFamily(
            f"{PREFIX}_service_events_out",
            "Records a service wrote to its output topic",
            labels=["service", "topic"],
        )
        for service, topic in outputs.items():
            out.add_metric([service, topic], sample.topic_ends.get(topic, 0))
        yield out
        yield from self._feeds()
        rows = GaugeMetricFamily(
            f"{PREFIX}_store_rows", "Rows in the audit store", labels=["table"]
        )
        for table, count in sample.store_rows.items():
            rows.add_metric([table], count)
        yield rows
        requests = CounterMetricFamily(
            f"{PREFIX}_registry_requests", "Registry requests made by this API", labels=["purpose"]
        )
        requests.add_metric(["health"], state.sampler.registry_requests)
        requests.add_metric(["schema"], state.writer.registry_requests)
        yield requests
        orders = CounterMetricFamily(
            f"{PREFIX}_api_orders", "Order requests answered by this API", labels=["outcome"]
        )
        for outcome, count in state.metrics.orders.items():
            orders.add_metric([outcome], count)
        yield orders

    def _groups(self, sample: Any) -> Iterator[Any]:
        topic = self.state.settings.topic
        consumed = CounterMetricFamily(
            f"{PREFIX}_group_consumed",
            "Events a service's group consumed (committed offsets)",
            labels=["group", "topic"],
        )
        lag = GaugeMetricFamily(
            f"{PREFIX}_group_lag", "Events not yet consumed", labels=["group", "topic"]
        )
        partition_lag = GaugeMetricFamily(
            f"{PREFIX}_group_partition_lag",
            "Lag per partition",
            labels=["group", "topic", "partition"],
        )
        for group, found in sample.groups.items():
            consumed.add_metric([group, topic], found.consumed)
            lag.add_metric([group, topic], found.lag)
            for partition, behind in found.partitions.items():
                partition_lag.add_metric([group, topic, str(partition)], behind)
        yield from (consumed, lag, partition_lag)

    def _feeds(self) -> Iterator[Any]:
        feeds = self.state.feeds
        letters = CounterMetricFamily(
            f"{PREFIX}_dead_letters", "Records on the dead-letter topic, by kind", labels=["kind"]
        )
        for kind, count in feeds.dead_letters.counts().items():
            letters.add_metric([kind], count)
        alerts = CounterMetricFamily(
            f"{PREFIX}_alerts", "Alerts on the alerts topic, by kind", labels=["kind"]
        )
        for kind, count in feeds.alerts.counts().items():
            alerts.add_metric([kind], count)
        yield from (letters, alerts)
