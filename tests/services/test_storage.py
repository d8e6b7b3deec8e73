"""The storage service: alone on a tmp store, then through the real runner, broker and registry."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.dlq import read_dead_letters
from pipeline.events import generate_events
from pipeline.kafka.admin import Admin, TopicSpec, ensure_topics
from pipeline.kafka.clients import close_producer
from pipeline.registry.embedded import embedded_registry
from pipeline.serde import AvroEncoder
from pipeline.services.groups import group_for
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.storage import StorageService, registry_identity
from tests.faults.helpers import ROOT, high_watermarks, offsets
from tests.order_helpers import fetch, stored_rows
from tests.store.schemas import USER_ID_AS_INT, V1, V2, event, evolve, order_value, writer

# --- the service alone ---------------------------------------------------------------


def test_constructor_opens_nothing_and_close_is_safe(tmp_path: Path) -> None:
    service = StorageService(Settings(db_path=tmp_path / "audit.db"))
    assert service.name == "storage"
    assert service.handle([]) == ()
    service.close()
    assert not (tmp_path / "audit.db").exists()


def test_start_opens_the_store_under_the_registrys_topic_id(
    settings: Settings, registry_topic: str
) -> None:
    service = StorageService(settings)
    try:
        service.start()
        service.start()  # once is enough
    finally:
        service.close()
    topic_id = Admin.from_settings(settings).topic_ids([registry_topic])[registry_topic]
    assert registry_identity(settings) == topic_id
    assert fetch(settings.db_path, "PRAGMA user_version") == [(2,)]


def test_a_registry_whose_topic_is_not_on_the_cluster_is_known_by_its_url(
    settings: Settings,
) -> None:
    elsewhere = settings.with_(registry_topic="_schemas-of-another-cluster")
    assert registry_identity(elsewhere) == settings.registry_url.rstrip("/")


def test_handle_stores_and_returns_refusals(settings: Settings) -> None:
    service = StorageService(settings)
    w1, bad = writer(1, V1), writer(3, USER_ID_AS_INT)
    batch = [event(w1, order_value(), 0), event(bad, {**order_value(), "user_id": 7}, 1)]
    try:
        refusals = service.handle(batch)
        service.handle(batch[:1])  # a redelivered batch
    finally:
        service.close()
        service.close()
    assert [(r.event.offset, "field 'user_id' changed type" in r.reason) for r in refusals] == [
        (1, True)
    ]
    assert (service.stored, service.duplicates, service.refused) == (1, 1, 1)
    assert service.summary_line().startswith("1 stored, 1 already stored (skipped), 1 refused")
    assert fetch(settings.db_path, "SELECT count(*) FROM events") == [(1,)]


# --- through the runner, against the real broker and registry --------------------------


def register(settings: Settings, definition: dict[str, Any]) -> AvroEncoder:
    client = registry_client.connect(settings)
    subject = f"{settings.topic}-value"
    text = json.dumps(definition)
    schema_id = client.register_schema(subject, Schema(text, "AVRO"))
    return AvroEncoder(schema_id, text)


def send(settings: Settings, messages: list[tuple[bytes, str]]) -> None:
    ensure_topics(settings, {settings.topic: settings.partitions})
    producer = Producer(settings.kafka_config(acks="all", **{"enable.idempotence": True}))
    try:
        for value, key in messages:
            producer.produce(settings.topic, value, key)
            producer.poll(0)
    finally:
        assert close_producer(producer, 30.0) == 0


def lifecycle_events(count: int, seed: int) -> list[dict[str, Any]]:
    return list(islice(generate_events(seed=seed, orders=20), count))


def group_of(settings: Settings) -> str:
    return f"storage-{settings.topic}"  # a group of this test's own


def run_storage(
    settings: Settings, max_events: int, idle_timeout_s: float = 20.0
) -> StorageService:
    service = StorageService(settings)
    options = RunOptions(
        group_id=group_of(settings),
        max_events=max_events,
        idle_timeout_s=idle_timeout_s,
        handle_signals=False,
    )
    Runner(settings, service, options).run()
    return service


def test_mixed_versions_evolve_the_table_and_refused_go_to_the_dlq(settings: Settings) -> None:
    client = registry_client.connect(settings)
    v1, v2 = register(settings, V1), register(settings, V2)
    client.set_compatibility(subject_name=f"{settings.topic}-value", level="NONE")
    breaking = register(settings, USER_ID_AS_INT)
    plain = lifecycle_events(300, seed=1)
    messages: list[tuple[bytes, str]] = []
    for i, value in enumerate(plain):
        if i % 3 == 1:
            messages.append(
                (v2.encode({**value, "amount": i * 1.5, "currency": "USD"}), value["order_id"])
            )
        else:
            messages.append((v1.encode(value), value["order_id"]))
    messages.append((v1.encode(plain[0]), plain[0]["order_id"]))  # a re-sent event
    messages.append((breaking.encode({**plain[1], "user_id": 42}), plain[1]["order_id"]))
    messages.append((b"not avro at all", "x"))
    send(settings, messages)

    service = run_storage(settings, max_events=len(messages))

    db = settings.db_path
    assert (service.stored, service.duplicates, service.refused) == (300, 1, 1)
    assert fetch(db, "SELECT count(*), count(DISTINCT event_id) FROM events") == [(300, 300)]
    assert fetch(
        db, "SELECT schema_id, count(*), count(amount) FROM events GROUP BY 1 ORDER BY 1"
    ) == [
        (v1.schema_id, 200, 0),
        (v2.schema_id, 100, 100),
    ]
    assert fetch(db, "SELECT schema_id, version, accepted FROM schema_versions ORDER BY 1") == [
        (v1.schema_id, 1, 1),
        (v2.schema_id, 2, 1),
        (breaking.schema_id, 3, 0),
    ]
    assert "user_id" in dict(fetch(db, "SELECT name, kind FROM event_columns"))
    assert fetch(db, "SELECT count(*) FROM pragma_table_info('events') WHERE name = 'amount'") == [
        (1,)
    ]
    letters = read_dead_letters(settings)
    kinds = sorted((r.headers["dlq.kind"], r.headers["dlq.service"]) for r in letters)
    assert kinds == [("not-wire-format", "storage"), ("refused", "storage")]
    refused = next(r for r in letters if r.headers["dlq.kind"] == "refused")
    assert "field 'user_id' changed type" in refused.headers["dlq.reason"]
    assert refused.value == messages[-2][0]  # byte for byte


def test_restart_mid_stream_leaves_no_duplicate_and_no_gap(settings: Settings) -> None:
    v1 = register(settings, V1)
    values = lifecycle_events(1000, seed=2)
    send(settings, [(v1.encode(v), v["order_id"]) for v in values])

    first = run_storage(settings, max_events=400)
    second = run_storage(settings, max_events=600)  # a restarted service, same group

    assert first.stored + second.stored == 1000
    db = settings.db_path
    assert fetch(db, "SELECT count(*), count(DISTINCT event_id) FROM events") == [(1000, 1000)]
    # No gap: every partition's offsets are 0..n-1.
    per_partition = fetch(
        db,
        "SELECT count(*), min(kafka_offset), max(kafka_offset) FROM events "
        "GROUP BY kafka_partition",
    )
    assert all(low == 0 and high == n - 1 for n, low, high in per_partition)


def test_two_instances_in_one_group_split_the_partitions(settings: Settings) -> None:
    v1 = register(settings, V1)
    services = [StorageService(settings), StorageService(settings)]
    options = RunOptions(group_id=group_of(settings), idle_timeout_s=8.0, handle_signals=False)
    runners = [Runner(settings, service, options) for service in services]
    threads = [threading.Thread(target=runner.run) for runner in runners]
    for thread in threads:
        thread.start()
    try:
        # Produce only once both hold partitions, so that both take part.
        deadline = time.monotonic() + 60
        while not all(r.summary.partitions for r in runners) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sorted(p for r in runners for p in r.summary.partitions) == list(range(6))
        values = lifecycle_events(2000, seed=3)
        send(settings, [(v1.encode(v), v["order_id"]) for v in values])
    finally:
        for thread in threads:
            thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert sum(s.stored for s in services) == 2000
    assert all(s.stored > 0 for s in services)
    assert fetch(settings.db_path, "SELECT count(DISTINCT event_id) FROM events") == [(2000,)]


_CHILD = """
import sys
from pathlib import Path
from pipeline.config import Settings
from pipeline.services.runner import RunOptions, Runner
from pipeline.services.storage import StorageService, registry_identity
bootstrap, registry, registry_topic, topic, db, group = sys.argv[1:7]
settings = Settings(bootstrap_servers=bootstrap, registry_url=registry, topic=topic,
                    dlq_topic=topic + ".dlq", db_path=Path(db), registry_topic=registry_topic,
                    client_properties={"session.timeout.ms": "6000"})
Runner(settings, StorageService(settings), RunOptions(group_id=group, batch_size=50)).run()
"""


@pytest.mark.faults
def test_killed_mid_stream_and_restarted_leaves_no_duplicate_and_no_gap(
    settings: Settings,
) -> None:
    v1 = register(settings, V1)
    total = 20_000
    values = lifecycle_events(total, seed=4)
    send(settings, [(v1.encode(v), v["order_id"]) for v in values])
    args = [settings.bootstrap_servers, settings.registry_url, settings.registry_topic]
    args += [settings.topic]
    args += [str(settings.db_path), group_of(settings)]
    child = subprocess.Popen([sys.executable, "-c", _CHILD, *args])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stored_rows(settings.db_path) < 3000:
            time.sleep(0.05)
    finally:
        child.kill()  # SIGKILL: no chance to commit or close anything
        child.wait(timeout=30)
    at_kill = stored_rows(settings.db_path)
    assert 3000 <= at_kill < total

    # The killed member holds its partitions until its session times out (6 s, the broker's
    # minimum): the restarted one waits for that, then redoes what was not committed.
    restarted = settings.with_(client_properties={"session.timeout.ms": "6000"})
    service = StorageService(restarted)
    options = RunOptions(group_id=group_of(settings), idle_timeout_s=20.0, handle_signals=False)
    Runner(restarted, service, options).run()

    assert at_kill + service.stored == total
    db = settings.db_path
    assert fetch(db, "SELECT count(*), count(DISTINCT event_id) FROM events") == [(total, total)]
    per_partition = fetch(
        db,
        "SELECT count(*), min(kafka_offset), max(kafka_offset) FROM events "
        "GROUP BY kafka_partition",
    )
    assert sum(n for n, _, _ in per_partition) == total
    assert all(low == 0 and high == n - 1 for n, low, high in per_partition)


# --- issue 10: nothing silently dropped, committed means durable, bad --db at start -----


def recreate_topic(settings: Settings) -> None:
    """Delete the topic and create it again under its name: its offsets start over at 0."""
    admin = Admin.from_settings(settings)
    admin.delete([settings.topic])
    admin.ensure([TopicSpec(settings.topic, settings.partitions)])
    assert admin.partitions(settings.topic) == settings.partitions


def test_a_topic_created_again_has_all_its_new_events_stored(settings: Settings) -> None:
    """`dev reset` then the demo, a recreated topic, another stack: offsets start over, and
    events at offsets an earlier topic used are new events, not replays."""
    v1 = register(settings, V1)
    first = lifecycle_events(300, seed=11)
    send(settings, [(v1.encode(v), v["order_id"]) for v in first])
    before = run_storage(settings, max_events=300)
    recreate_topic(settings)
    second = lifecycle_events(300, seed=12)
    send(settings, [(v1.encode(v), v["order_id"]) for v in second])
    after = run_storage(settings, max_events=300)

    assert (before.stored, before.duplicates) == (300, 0)
    assert (after.stored, after.duplicates) == (300, 0)
    assert fetch(settings.db_path, "SELECT count(DISTINCT event_id) FROM events") == [(600,)]


def test_schema_ids_of_another_registry_are_not_confused(settings: Settings) -> None:
    """Two registries both hand out id 1: the store's verdict on one's schema 1 says nothing
    about the other's."""
    no_event_id = evolve(V1, drop=("event_id",))  # the store refuses it: no key
    values = lifecycle_events(50, seed=13)
    with embedded_registry(settings.bootstrap_servers, delete_topic=True) as first:
        on_first = settings.with_(registry_url=first.url, registry_topic=first.config.topic)
        keyless = register(on_first, no_event_id)
        send(on_first, [(keyless.encode(v), v["order_id"]) for v in values[:10]])
        refused = run_storage(on_first, max_events=10)
    second_topic = f"{settings.topic}-2"
    with embedded_registry(settings.bootstrap_servers, delete_topic=True) as second:
        on_second = settings.with_(
            registry_url=second.url,
            registry_topic=second.config.topic,
            topic=second_topic,
            dlq_topic=f"{second_topic}.dlq",
        )
        v1 = register(on_second, V1)
        send(on_second, [(v1.encode(v), v["order_id"]) for v in values])
        stored = run_storage(on_second, max_events=50)

    assert keyless.schema_id == v1.schema_id  # the clash this test is about
    assert (refused.stored, refused.refused) == (0, 10)
    assert (stored.stored, stored.refused) == (50, 0)
    assert fetch(settings.db_path, "SELECT count(*) FROM schema_versions") == [(2,)]


def test_messages_it_could_not_read_are_dead_lettered_once_across_restarts(
    settings: Settings,
) -> None:
    """Undecodable messages never reach the store, so the store's position cannot pass
    them by itself; when they are a partition's last messages, a restarted service must
    not read them again and write their dead letters a second time."""
    v1 = register(settings, V1)
    values = lifecycle_events(50, seed=21)
    send(settings, [(v1.encode(v), "same-key") for v in values])
    send(settings, [(b"not avro at all", "same-key"), (b"\x00\x00", "same-key")])
    run_storage(settings, max_events=52)

    restarted = run_storage(settings, max_events=1, idle_timeout_s=6.0)

    letters = read_dead_letters(settings, limit=100)
    assert sorted(r.headers["dlq.kind"] for r in letters) == ["not-wire-format"] * 2
    assert restarted.stored == restarted.duplicates == 0


def test_batches_a_power_cut_took_from_the_store_are_read_again(settings: Settings) -> None:
    """A power cut under synchronous=NORMAL may roll the store back a few transactions after
    their offsets were committed to Kafka. Simulated by putting back a copy of the file taken
    earlier: the restarted service must read those events again."""
    v1 = register(settings, V1)
    values = lifecycle_events(1000, seed=14)
    send(settings, [(v1.encode(v), v["order_id"]) for v in values])
    run_storage(settings, max_events=400)
    snapshot = settings.db_path.with_name("snapshot.db")
    with sqlite3.connect(settings.db_path) as live, sqlite3.connect(snapshot) as copy:
        live.backup(copy)
    run_storage(settings, max_events=600)  # stored and committed to Kafka
    for suffix in ("-wal", "-shm"):
        settings.db_path.with_name(settings.db_path.name + suffix).unlink(missing_ok=True)
    snapshot.replace(settings.db_path)  # the power cut: the last batches never reached disk

    restarted = run_storage(settings, max_events=600, idle_timeout_s=8.0)

    assert restarted.stored == 600
    assert fetch(settings.db_path, "SELECT count(DISTINCT event_id) FROM events") == [(1000,)]


def consume_storage_cli(settings: Settings, db: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(ROOT / "cli.py"), "--bootstrap-servers"]
    command += [settings.bootstrap_servers, "--registry-url", settings.registry_url]
    command += ["consume", "storage", "--topic", settings.topic, "--group", group_of(settings)]
    command += ["--db", str(db), "--idle-timeout", "5"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("problem", ["not a database", "no such folder"])
def test_a_bad_db_is_refused_at_start(settings: Settings, tmp_path: Path, problem: str) -> None:
    """Refused before consuming anything, even with nothing to read (not at the first event)."""
    if problem == "not a database":
        db = tmp_path / "notes.txt"
        db.write_text("these are my notes, not an audit store\n" * 50)
    else:
        db = tmp_path / "typo" / "audit.db"
    ensure_topics(settings, {settings.topic: settings.partitions})

    result = consume_storage_cli(settings, db)

    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0, output
    assert "Traceback" not in output
    assert output.splitlines()[-1].startswith("Error: ") and str(db) in output.splitlines()[-1]
    assert not (tmp_path / "typo").exists()


# --- the PostgreSQL store (issue 14) ----------------------------------------------------


def consume_cli(settings: Settings, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(ROOT / "cli.py"), "--bootstrap-servers"]
    command += [settings.bootstrap_servers, "--registry-url", settings.registry_url]
    command += ["consume", "storage", "--topic", settings.topic, "--group", group_of(settings)]
    command += ["--idle-timeout", "5", *extra]
    env = {**os.environ, "SCHEMA_REGISTRY_TOPIC": settings.registry_topic}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def test_consume_storage_into_postgresql(settings: Settings, pg_store_url: str) -> None:
    v1 = register(settings, V1)
    values = lifecycle_events(300, seed=15)
    send(settings, [(v1.encode(v), v["order_id"]) for v in values])

    result = consume_cli(settings, "--store", pg_store_url)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "300 stored, 0 already stored (skipped), 0 refused, in 127.0.0.1:" in result.stdout
    with psycopg.connect(pg_store_url) as conn:
        rows = conn.execute("SELECT count(DISTINCT event_id), count(*) FROM events").fetchall()
        positions = conn.execute("SELECT sum(next_offset) FROM positions").fetchall()
    assert rows == [(300, 300)]
    assert positions == [(300,)]


def test_an_unreachable_store_is_one_line_naming_host_and_port(settings: Settings) -> None:
    ensure_topics(settings, {settings.topic: settings.partitions})
    url = "postgresql://pipeline:secret-password@127.0.0.1:1/orders"

    result = consume_cli(settings, "--store", url)

    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0, output
    assert output.splitlines()[-1] == (
        "Error: cannot connect to PostgreSQL at 127.0.0.1:1/orders: Connection refused"
    )
    assert "secret-password" not in output and "Traceback" not in output


def test_storage_into_postgresql_gets_a_group_of_its_own() -> None:
    """Off the default store, the default group would move the default store's offsets."""
    writer_url = "postgresql://pipeline:secret@127.0.0.1:5432/orders"
    group = group_for("storage", Settings(store_url=writer_url))
    assert group.startswith("storage.order-events.orders-") and "secret" not in group
    other_user = "postgresql://someone@127.0.0.1:5432/orders"
    assert group_for("storage", Settings(store_url=other_user)) == group  # same rows, same group
    assert group_for("analytics", Settings(store_url=writer_url)) == "analytics"


def test_a_group_behind_the_stores_positions_commits_them(settings: Settings) -> None:
    """The store's own positions win at assignment (it skips what it holds); the group's
    Kafka offsets follow them, so its lag reads right though it read nothing: here a new
    group on a full store (as after a partition was lost and given back under load)."""
    v1 = register(settings, V1)
    values = lifecycle_events(300, seed=9)
    send(settings, [(v1.encode(v), v["order_id"]) for v in values])
    assert run_storage(settings, max_events=300).stored == 300

    service = StorageService(settings)
    later = RunOptions(group_id=f"{group_of(settings)}-later", idle_timeout_s=5.0)
    runner = Runner(settings, service, replace(later, handle_signals=False))
    summary = runner.run()
    assert (summary.consumed, service.stored) == (0, 0)  # nothing read twice
    # Before: nothing committed, so the group showed the whole topic as lag.
    assert [c for c, _ in offsets(settings, later.group_id or "")] == high_watermarks(settings)
