"""The storage service end to end: produced to Kafka, consumed by the real runner, into SQLite.

Uses the broker and registry named by KAFKA_BOOTSTRAP_SERVERS / SCHEMA_REGISTRY_URL; without
a registry URL it serves the project's own registry in a thread (its own `_schemas` topic).
The topics it creates are deleted at the end. Called by `storage_bench.py --e2e`, or alone:

    python bench/storage_e2e.py [--events 1000000] [--batch 500]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import Schema

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.producer import DEFAULT_SCHEMA, ProduceOptions, produce
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.storage import StorageService
from pipeline.services.summary import RunSummary

MiB = 2**20


@contextmanager
def registry(settings: Settings) -> Iterator[Settings]:
    if os.environ.get("SCHEMA_REGISTRY_URL"):
        yield settings
        return
    from pipeline.registry.server import RegistryConfig, RegistryServer

    topic = f"_schemas-bench-{uuid.uuid4().hex[:8]}"
    server = RegistryServer(
        RegistryConfig(bootstrap_servers=settings.bootstrap_servers, port=0, topic=topic)
    )
    server.start()
    try:
        yield settings.with_(registry_url=server.url)
    finally:
        server.stop()
        drop_topics(settings, [topic])


def drop_topics(settings: Settings, topics: list[str]) -> None:
    admin = AdminClient(settings.kafka_config())
    for future in admin.delete_topics(topics, operation_timeout=30).values():
        try:
            future.result(timeout=60)
        except Exception as exc:  # a topic never created: nothing to clean up
            print(f"  (could not delete a bench topic: {exc})")


class Meter:
    """Samples RSS on every runner tick, and times from the first batch handled."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.first: tuple[float, int] | None = None
        self.rss_peak = 0.0

    def tick(self, summary: RunSummary) -> None:
        if self.first is None and summary.consumed:
            self.first = (time.monotonic(), summary.consumed)
        self.rss_peak = max(self.rss_peak, self.process.memory_info().rss / MiB)


def run_e2e(events: int, batch: int = 500) -> None:
    topic = f"bench-storage-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        base = Settings.from_env(
            topic=topic, dlq_topic=f"{topic}.dlq", db_path=Path(folder) / "a.db"
        )
        print(f"end to end through the runner ({base.bootstrap_servers}), {events:,} events:")
        try:
            with registry(base) as settings:
                consume(settings, events, batch)
        finally:
            drop_topics(base, [topic, f"{topic}.dlq"])


def consume(settings: Settings, events: int, batch: int) -> None:
    text = DEFAULT_SCHEMA.read_text(encoding="utf-8")
    registry_client.connect(settings).register_schema(
        f"{settings.topic}-value", Schema(text, "AVRO")
    )
    # Produced from another process, so that this one's memory is the service's alone.
    child = [sys.executable, __file__, "--produce-only", "--events", str(events)]
    child += ["--topic", settings.topic, "--registry-url", settings.registry_url]
    subprocess.run(child, check=True, timeout=1200)
    # The runner bounds librdkafka's prefetch itself: the service runs as `consume` runs it.
    meter, service = Meter(), StorageService(settings)
    options = RunOptions(batch_size=batch, max_events=events, idle_timeout_s=30.0)
    summary = Runner(settings, service, options, on_tick=meter.tick).run()
    ended = time.monotonic()
    began, before = meter.first or (ended, 0)
    rate = (summary.consumed - before) / (ended - began) if ended > began else 0.0
    print(
        f"  storage service, batches of {batch}: {rate:,.0f} events/s sustained "
        f"({service.summary_line()})"
    )
    print(f"  storage service memory (RSS of its process): peak {meter.rss_peak:.0f} MiB")


def produce_only(events: int, topic: str, registry_url: str) -> None:
    settings = Settings.from_env(topic=topic, registry_url=registry_url)
    sent = produce(settings, ProduceOptions(count=events, seed=1, orders=1000))
    print(f"  producer (own process): {sent.rate:,.0f} events/s ({sent.delivered:,} delivered)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--produce-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--registry-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.produce_only:
        produce_only(args.events, args.topic, args.registry_url)
    else:
        run_e2e(args.events, args.batch)


if __name__ == "__main__":
    main()
