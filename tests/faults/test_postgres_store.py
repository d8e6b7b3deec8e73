"""Several storage instances on one PostgreSQL audit store, under kills, mixed schema
versions and a restart of the database itself.

- three instances in one group, SIGKILLed in turn while 30,000 events arrive: exactly
  30,000 rows, every partition's offsets without a gap;
- three instances while v1, v2 and v3 producers write at once: every event stored once, each
  new column added once (evolution serialized across instances);
- PostgreSQL restarted under a running instance: it waits, tries the batch again and goes
  on: nothing dead-lettered, nothing lost or doubled.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.devstack import parts, postgres
from pipeline.devstack import testing as devstack_testing
from pipeline.dlq import read_dead_letters
from pipeline.kafka.admin import ensure_topics
from pipeline.producer import ProduceOptions, ProduceSummary, send_events
from pipeline.schema_files import load_schema_file
from pipeline.serde import AvroEncoder
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.storage import StorageService
from tests.faults.helpers import ROOT, seeded_events, wait_for
from tests.paths import SCHEMAS
from tests.store.targets import throwaway_schema

pytestmark = pytest.mark.faults
CLIENT = {"session.timeout.ms": "6000"}  # a killed member's partitions move after 6 s

_CHILD = """
import sys
from pipeline.config import Settings
from pipeline.services.runner import RunOptions, Runner
from pipeline.services.storage import StorageService
bootstrap, registry, registry_topic, topic, url, group, idle = sys.argv[1:8]
settings = Settings(bootstrap_servers=bootstrap, registry_url=registry, topic=topic,
                    dlq_topic=topic + ".dlq", registry_topic=registry_topic, store_url=url,
                    client_properties={"session.timeout.ms": "6000"})
options = RunOptions(group_id=group, batch_size=300, idle_timeout_s=float(idle))
summary = Runner(settings, StorageService(settings), options).run()
print("STOPPED", summary.stopped_by, flush=True)
"""


def rows(url: str, sql: str = "SELECT count(*) FROM events") -> Any:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            return conn.execute(sql).fetchall()
    except psycopg.errors.UndefinedTable:
        return [(0,)]


def count(url: str) -> int:
    return int(rows(url)[0][0])


def encoder_for(settings: Settings, version: str) -> AvroEncoder:
    text = load_schema_file(SCHEMAS / f"order_event.{version}.avsc")
    with registry_client.connected(settings) as client:
        subject = registry_client.value_subject(settings.topic)
        registry_client.register(client, subject, text)
        return AvroEncoder.for_subject(client, subject, text)


def produce_in_background(
    settings: Settings, encoder: AvroEncoder, events: list[dict[str, Any]], rate: float
) -> tuple[threading.Thread, list[ProduceSummary]]:
    sent: list[ProduceSummary] = []
    options = ProduceOptions(count=None, rate=rate)
    thread = threading.Thread(
        target=lambda: sent.append(send_events(settings, encoder, events, options))
    )
    thread.start()
    return thread, sent


def start_child(settings: Settings, url: str, group: str, log: Path, idle: float) -> Any:
    args = [settings.bootstrap_servers, settings.registry_url, settings.registry_topic]
    args += [settings.topic, url, group, str(idle)]
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", _CHILD, *args], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )


def assert_exactly_once(url: str, total: int) -> None:
    assert rows(url, "SELECT count(*), count(DISTINCT event_id) FROM events") == [(total, total)]
    per_partition = rows(
        url,
        "SELECT count(*), min(kafka_offset), max(kafka_offset) FROM events "
        "GROUP BY kafka_partition",
    )
    assert sum(n for n, _, _ in per_partition) == total
    assert all(low == 0 and high == n - 1 for n, low, high in per_partition), per_partition


def test_three_instances_killed_in_turn_store_30000_events_exactly_once(
    settings: Settings, pg_store_url: str, tmp_path: Path
) -> None:
    total, url, group = 30_000, pg_store_url, f"storage-{settings.topic}"
    settings = settings.with_(client_properties=CLIENT)
    encoder = encoder_for(settings, "v1")
    ensure_topics(settings, {settings.topic: settings.partitions})
    log = tmp_path / "storage.log"
    producer, sent = produce_in_background(settings, encoder, seeded_events(total, 30), 2_500)
    children = [start_child(settings, url, group, log, idle=15.0) for _ in range(3)]
    try:
        for turn, target in enumerate((4_000, 11_000, 18_000)):
            reached = wait_for(lambda t=target: count(url) >= t, timeout_s=120, interval_s=0.1)
            assert reached, f"never {target} rows; log:\n{log.read_text()[-3000:]}"
            victim = children[turn]
            assert victim.poll() is None, f"instance {turn} died by itself:\n{log.read_text()}"
            victim.kill()  # SIGKILL: mid-batch, mid-commit, wherever it is
            victim.wait(timeout=10)
            at_kill = count(url)
            assert target <= at_kill < total, (turn, at_kill)  # the kill fell mid-stream
            children[turn] = start_child(settings, url, group, log, idle=15.0)
        for child in children:
            assert child.wait(timeout=240) == 0, log.read_text()[-3000:]
    finally:
        for child in children:
            child.kill()
            child.wait(timeout=10)
        producer.join(timeout=120)
    assert sent and (sent[0].delivered, sent[0].failed) == (total, 0)
    assert log.read_text().count("STOPPED idle") == 3
    assert_exactly_once(url, total)


def test_three_instances_take_v1_v2_and_v3_writers_at_once(
    settings: Settings, pg_store_url: str
) -> None:
    url, each = pg_store_url, 3_000
    encoders = [encoder_for(settings, version) for version in ("v1", "v2", "v3")]
    ensure_topics(settings, {settings.topic: settings.partitions})
    store_settings = settings.with_(store_url=url)
    services = [StorageService(store_settings) for _ in range(3)]
    options = RunOptions(
        group_id=f"storage-{settings.topic}", idle_timeout_s=10.0, handle_signals=False
    )
    runners = [Runner(store_settings, service, options) for service in services]
    threads = [threading.Thread(target=runner.run) for runner in runners]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: all(r.summary.partitions for r in runners), timeout_s=60)
        writers = []
        for number, encoder in enumerate(encoders):
            events = seeded_events(each, 40 + number)
            if number:  # v2 and v3 carry an amount
                events = [
                    {**e, "amount": float(i), "currency": "EUR"} for i, e in enumerate(events)
                ]
            writers.append(produce_in_background(settings, encoder, events, 1_500))
        for thread, sent in writers:
            thread.join(timeout=120)
            assert sent and sent[0].delivered == each
    finally:
        for thread in threads:
            thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads)
    assert sum(service.stored for service in services) == 3 * each
    assert sum(service.refused for service in services) == 0
    assert rows(url, "SELECT count(*), count(DISTINCT event_id), count(amount) FROM events") == [
        (3 * each, 3 * each, 2 * each)
    ]
    ids = sorted(encoder.schema_id for encoder in encoders)
    assert rows(url, "SELECT schema_id, accepted FROM schema_versions ORDER BY 1") == [
        (schema_id, True) for schema_id in ids
    ]
    assert (
        rows(url, "SELECT name, count(*) FROM event_columns GROUP BY 1 HAVING count(*) > 1") == []
    )
    assert {name for (name,) in rows(url, "SELECT name FROM event_columns")} >= {
        "amount",
        "currency",
    }


@contextmanager
def own_postgres() -> Iterator[tuple[Any, str]]:
    """A PostgreSQL of this test's own (it is restarted), in a folder its user can enter."""
    home = Path(tempfile.mkdtemp(prefix="order-pipeline-pg-restart-"))
    home.chmod(0o755)
    stack = devstack_testing.test_stack_settings(home)
    try:
        postgres.start(stack)
        yield stack, postgres.url(stack)
    finally:
        parts.stop(stack, postgres.PART)
        shutil.rmtree(home, ignore_errors=True)


def test_postgresql_restarted_under_a_running_instance(settings: Settings) -> None:
    total = 8_000
    encoder = encoder_for(settings, "v1")
    ensure_topics(settings, {settings.topic: settings.partitions})
    with own_postgres() as (stack, server_url), throwaway_schema(server_url) as url:
        service = StorageService(settings.with_(store_url=url))
        options = RunOptions(
            group_id=f"storage-{settings.topic}", idle_timeout_s=12.0, handle_signals=False
        )
        runner = Runner(settings.with_(store_url=url), service, options)
        summary: list[Any] = []
        consuming = threading.Thread(target=lambda: summary.append(runner.run()))
        consuming.start()
        producer, sent = produce_in_background(settings, encoder, seeded_events(total, 50), 1_000)
        try:
            assert wait_for(lambda: count(url) >= 1_500, timeout_s=60, interval_s=0.1)
            parts.stop(stack, postgres.PART)  # fast shutdown: open transactions are cut off
            time.sleep(2.0)  # batches arrive meanwhile; the service waits for the database
            assert service.stored < total
            postgres.start(stack)
        finally:
            producer.join(timeout=120)
            consuming.join(timeout=180)
    assert not consuming.is_alive()
    assert summary and summary[0].stopped_by == "idle"
    assert sent and sent[0].delivered == total
    assert service.stored == total and service.refused == 0
    assert read_dead_letters(settings) == []
