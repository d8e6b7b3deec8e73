"""What the fault tests share: the storage service as a real process, and reading back
what it stored and committed (SQLite file, consumer group offsets, topic watermarks)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from itertools import islice
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from pipeline.config import Settings
from pipeline.events import generate_events
from tests.order_helpers import fetch

ROOT = Path(__file__).resolve().parents[2]
# Seeded event streams start their simulated clock here, so a seed gives the same bytes.
START_MS = 1_735_689_600_000


def seeded_events(count: int, seed: int, orders: int = 200) -> list[dict[str, Any]]:
    return list(islice(generate_events(seed=seed, orders=orders, start_ms=START_MS), count))


def stored_ids(path: Path) -> list[str]:
    return [str(row[0]) for row in fetch(path, "SELECT event_id FROM events")]


def wait_for(check: Callable[[], bool], timeout_s: float, interval_s: float = 0.02) -> bool:
    """Poll `check()` until true or the deadline passes (bounded)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval_s)
    return check()


def start_storage(
    settings: Settings, group: str, properties: Path, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    """`python cli.py consume storage` as its own process, so that SIGKILL is the real thing."""
    command = [sys.executable, str(ROOT / "cli.py")]
    command += ["--bootstrap-servers", settings.bootstrap_servers]
    command += ["--registry-url", settings.registry_url, "--client-properties", str(properties)]
    command += ["consume", "storage", "--topic", settings.topic, "--group", group]
    command += ["--db", str(settings.db_path), "--json", *extra]
    env = {**os.environ, "SCHEMA_REGISTRY_TOPIC": settings.registry_topic}
    with open(log, "ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def high_watermarks(settings: Settings, timeout_s: float = 30) -> list[int]:
    """The end offset of each partition of the topic (messages in it, as nothing is deleted).

    Right after a broker restart its partitions may not have a leader yet: asked again until
    `timeout_s` passes."""
    consumer = Consumer(settings.kafka_config(**{"group.id": "watermarks"}))
    parts = [TopicPartition(settings.topic, p) for p in range(settings.partitions)]
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                return [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts]
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        consumer.close()


def offsets(settings: Settings, group: str) -> list[tuple[int, int]]:
    """(committed offset, high watermark) of each partition of the topic, for `group`."""
    consumer = Consumer(settings.kafka_config(**{"group.id": group}))
    try:
        parts = [TopicPartition(settings.topic, p) for p in range(settings.partitions)]
        committed = consumer.committed(parts, timeout=10)
    finally:
        consumer.close()
    highs = high_watermarks(settings)
    return [(tp.offset, high) for tp, high in zip(committed, highs, strict=True)]


def duplicates(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    twice = []
    for value in values:
        if value in seen:
            twice.append(value)
        seen.add(value)
    return twice
