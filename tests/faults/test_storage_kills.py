"""The storage service killed with SIGKILL three times mid-stream, and restarted each time.

Its promise: each batch's rows and its partitions' positions go into SQLite in one
transaction, a restart reads on from those positions (whatever Kafka's committed offsets say),
and the store ignores an event it already holds, so however often it dies, every event ends up
stored exactly once, and nothing stored is read again.
The service runs as `python cli.py consume storage` in a process of its own; each kill falls
at a seeded random point of the stream (a random number of rows after each start) and at one
of three moments of the loop (see MOMENTS), the first ones while the producer still sends.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.kafka.admin import ensure_topics
from pipeline.producer import DEFAULT_SCHEMA, ProduceOptions, ProduceSummary, send_events
from pipeline.schema_files import load_schema_file
from pipeline.serde import AvroEncoder
from tests.faults.helpers import (
    duplicates,
    offsets,
    seeded_events,
    start_storage,
    stored_ids,
    wait_for,
)
from tests.order_helpers import fetch, register_v1, stored_rows

TOTAL = 20_000
RATE = 2_500.0  # events/s: production lasts 8 s, so the first kills fall while it runs
SEED = 6_2024
# A killed member keeps its partitions until its session expires; 6 s is the broker's
# minimum, so each restart resumes after ~6 s instead of librdkafka's default 45 s.
CLIENT_PROPERTIES = "session.timeout.ms=6000\n"
# Where in the service's loop a kill falls, one kill each, in a seeded random order:
# mid-write     as a batch is being written to SQLite (the transaction must vanish whole);
# after-write   the moment a batch is in SQLite, often before its offsets are committed
#               (the restart reads it again and must not store it twice);
# anywhere      a random few milliseconds after a batch, wherever the loop is.
MOMENTS = ["mid-write", "after-write", "anywhere"]


@dataclass(frozen=True)
class Kill:
    moment: str
    rows_before: int  # rows in the store when this run started
    rows: int  # rows in the store once the process was dead
    committed: int  # messages the group had committed by then


@pytest.mark.faults
def test_storage_killed_three_times_stores_every_event_exactly_once(
    settings: Settings, tmp_path: Path
) -> None:
    register_v1(settings)
    events = seeded_events(TOTAL, SEED)
    produced_ids = {event["event_id"] for event in events}
    assert len(produced_ids) == TOTAL
    encoder = AvroEncoder.for_subject(
        registry_client.connect(settings),
        f"{settings.topic}-value",
        load_schema_file(DEFAULT_SCHEMA),
    )
    ensure_topics(settings, {settings.topic: settings.partitions})
    properties = tmp_path / "client.properties"
    properties.write_text(CLIENT_PROPERTIES)
    group, log = f"storage-{settings.topic}", tmp_path / "storage.log"

    sent: list[ProduceSummary] = []
    producer = threading.Thread(
        target=lambda: sent.append(
            send_events(settings, encoder, events, ProduceOptions(count=None, rate=RATE))
        )
    )
    producer.start()
    try:
        rng = random.Random(SEED)
        kills = [
            kill_once(settings, group, properties, log, rng, m) for m in rng.sample(MOMENTS, 3)
        ]
        final = start_storage(settings, group, properties, log, "--idle-timeout", "8")
        try:
            code = final.wait(timeout=150)
        finally:
            final.kill()
            final.wait(timeout=10)
    finally:
        producer.join(timeout=120)
    output = log.read_text()

    assert not producer.is_alive()
    assert sent, "the producer thread failed"
    assert (sent[0].delivered, sent[0].failed) == (TOTAL, 0)
    # Each kill fell mid-stream: after some rows were stored, before all of them were.
    assert all(0 <= k.rows_before < k.rows < TOTAL for k in kills), kills
    assert all(k.committed <= k.rows for k in kills), kills
    assert code == 0, output[-2000:]
    last = json.loads(output.strip().splitlines()[-1])
    assert last["run"]["stopped_by"] == "idle"
    # The last run stored exactly what the killed ones had not, and read nothing they had
    # stored, even what was stored but not yet committed to Kafka when the last kill fell.
    stored = TOTAL - kills[-1].rows
    assert last["detail"].startswith(f"{stored} stored, 0 already stored"), last["detail"]

    db = settings.db_path
    assert fetch(db, "SELECT count(*), count(DISTINCT event_id) FROM events") == [(TOTAL, TOTAL)]
    ids = stored_ids(db)
    assert duplicates(ids) == []
    assert set(ids) == produced_ids  # no gap: every produced event is there
    per_partition = fetch(
        db,
        "SELECT count(*), min(kafka_offset), max(kafka_offset) FROM events "
        "GROUP BY kafka_partition",
    )
    assert all(low == 0 and high == n - 1 for n, low, high in per_partition), per_partition
    # The committed offsets cover the whole topic, which holds exactly the produced events.
    committed = offsets(settings, group)
    assert [c for c, _ in committed] == [high for _, high in committed]
    assert sum(high for _, high in committed) == TOTAL
    # The store's own positions cover the whole topic too.
    positions = fetch(db, "SELECT kafka_partition, next_offset FROM positions ORDER BY 1")
    assert positions == [(p, high) for p, (_, high) in enumerate(committed)]


def kill_once(
    settings: Settings, group: str, properties: Path, log: Path, rng: random.Random, moment: str
) -> Kill:
    """Start the service, let it store a random number of rows, then SIGKILL it at `moment`."""
    before = stored_rows(settings.db_path)
    target = before + rng.randint(1_000, 4_000)
    pause = rng.uniform(0.0, 0.05)
    wal = settings.db_path.with_name(settings.db_path.name + "-wal")
    proc = start_storage(settings, group, properties, log)
    try:
        reached = wait_for(lambda: stored_rows(settings.db_path) >= target, timeout_s=60)
        assert reached, f"the service never stored {target} rows; log:\n{log.read_text()[-2000:]}"
        # Rows remain to be stored (target < TOTAL), so a next batch comes: the moment must.
        if moment == "anywhere":
            time.sleep(pause)
            happened = proc.poll() is None
        elif moment == "mid-write":
            happened = wal_grows(wal, timeout_s=10)
        else:
            happened = batch_lands(settings.db_path, timeout_s=10)
        assert happened, f"the kill moment {moment!r} never came; log:\n{log.read_text()[-2000:]}"
    finally:
        proc.kill()  # SIGKILL: no chance to finish a batch, commit or close anything
        proc.wait(timeout=10)
    committed = sum(max(c, 0) for c, _ in offsets(settings, group))
    return Kill(moment, before, stored_rows(settings.db_path), committed)


def wal_grows(wal: Path, timeout_s: float) -> bool:
    """True as soon as the write-ahead log changes (the next batch is being committed);
    False if it did not within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    first = wal.stat()
    while time.monotonic() < deadline:  # a tight loop of stat calls, a few µs each
        now = wal.stat()
        if (now.st_size, now.st_mtime_ns) != (first.st_size, first.st_mtime_ns):
            return True
    return False


def batch_lands(db: Path, timeout_s: float) -> bool:
    """True as soon as the next batch is committed to SQLite (False if none was within
    `timeout_s`). The service commits its offsets to Kafka under a millisecond later, so
    the kill often falls in between."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        # max(rowid) is one b-tree descent: tens of µs, so the poll sees a commit at once.
        last = conn.execute("SELECT max(rowid) FROM events").fetchone()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if conn.execute("SELECT max(rowid) FROM events").fetchone() != last:
                return True
        return False
    finally:
        conn.close()
