"""1,000 poisoned payloads mixed into 5,000 valid events, read by one run of the storage service.

Five kinds of poison, 200 of each, at seeded random places in the stream: random bytes,
a wrong magic byte, an unknown schema id, truncated Avro, and corrupt Avro (an enum index out
of range, bytes left over, invalid UTF-8, an event_id that is no UUID). Every one must land in
the dead-letter topic byte for byte with the kind and reason the runner gives it, every valid
event must be stored, and the service must go through it all in one run that ends on its
idle timeout (no crash, no restart, no rebalance).

The service runs in-process through the real runner, broker and registry: the `consume` CLI
has no flag for the dead-letter topic, and a subprocess would dead-letter into the shared
default `order-events.dlq` rather than this test's own topic.
"""

from __future__ import annotations

import random
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from confluent_kafka import Producer

from pipeline.config import Settings
from pipeline.dlq import read_dead_letters
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.clients import close_producer
from pipeline.producer import DEFAULT_SCHEMA
from pipeline.schema_files import load_schema_file
from pipeline.serde import AvroEncoder
from pipeline.services.runner import Runner, RunOptions
from pipeline.services.storage import StorageService
from tests.faults.helpers import duplicates, offsets, seeded_events, stored_ids
from tests.order_helpers import fetch, register_v1

VALID, PER_KIND, SEED = 5_000, 200, 77
HEADER = struct.Struct(">bI")
Poison = Callable[[random.Random, bytes], bytes]


def random_bytes(rng: random.Random, _valid: bytes) -> bytes:
    size = rng.randint(0, 300)
    if size == 0:
        return b""
    return bytes([rng.randint(1, 255)]) + rng.randbytes(size - 1)  # never magic byte 0


def wrong_magic(rng: random.Random, valid: bytes) -> bytes:
    return bytes([rng.randint(1, 255)]) + valid[1:]


def unknown_schema_id(rng: random.Random, valid: bytes) -> bytes:
    # Ids the registry never handed out (it counts up from 1); a few repeat, most do not.
    return HEADER.pack(0, rng.randint(1_000_000, 1_000_150)) + valid[HEADER.size :]


def truncated(rng: random.Random, valid: bytes) -> bytes:
    return valid[: rng.randint(HEADER.size, len(valid) - 1)]


def corrupt(rng: random.Random, valid: bytes) -> bytes:
    body = valid[HEADER.size :]
    way = rng.randrange(4)
    if way == 0:  # `source` is the last field: an enum index past its 3 symbols
        body = body[:-1] + bytes([2 * rng.randint(3, 63)])
    elif way == 1:  # a whole record, then bytes that belong to nothing
        body += rng.randbytes(rng.randint(1, 20))
    else:  # event_id is the first field: a length byte, then 36 characters of a UUID
        bad = b"\xff" if way == 2 else b"z"  # not UTF-8 / not a UUID
        body = body[:1] + bad * 36 + body[37:]
    return valid[: HEADER.size] + body


# What each poison is, and the dead-letter kind the runner must give it.
POISONS: dict[str, tuple[Poison, str]] = {
    "random-bytes": (random_bytes, "not-wire-format"),
    "wrong-magic": (wrong_magic, "not-wire-format"),
    "unknown-schema-id": (unknown_schema_id, "unknown-schema-id"),
    "truncated": (truncated, "corrupt-avro"),
    "corrupt": (corrupt, "corrupt-avro"),
}


@pytest.mark.faults
def test_poison_goes_to_the_dlq_and_every_valid_event_is_stored_in_one_run(
    settings: Settings,
) -> None:
    schema_id = register_v1(settings)
    encoder = AvroEncoder(schema_id, load_schema_file(DEFAULT_SCHEMA))
    events = seeded_events(VALID, SEED)
    rng = random.Random(SEED)
    stream: list[tuple[bytes, bytes]] = [
        (e["order_id"].encode(), encoder.encode(e)) for e in events
    ]
    poison: dict[bytes, tuple[str, bytes]] = {}  # key → (poison kind, payload)
    for name, (make, _) in POISONS.items():
        for i in range(PER_KIND):
            key = f"poison-{name}-{i}".encode()
            poison[key] = (name, make(rng, encoder.encode(rng.choice(events))))
            stream.insert(rng.randint(0, len(stream)), (key, poison[key][1]))
    ensure_topics(settings, {settings.topic: settings.partitions})
    ensure_topics(settings, {settings.dlq_topic: 1})

    sender = threading.Thread(target=send, args=(settings, stream))
    sender.start()  # the service reads while the mixed traffic arrives
    runner = Runner(
        settings,
        StorageService(settings),
        RunOptions(group_id=f"storage-{settings.topic}", idle_timeout_s=6, handle_signals=False),
    )
    try:
        summary = runner.run()  # one run: an exception here is a crash of the service
    finally:
        sender.join(timeout=60)
    assert not sender.is_alive()

    expected_kinds = Counter(kind for _, kind in POISONS.values() for _ in range(PER_KIND))
    assert summary.stopped_by == "idle"
    assert (summary.consumed, summary.handled) == (VALID + len(poison), VALID)
    assert summary.dead_lettered == expected_kinds
    assert (summary.assignments, summary.commit_failures) == (1, 0)  # no rebalance, no loss

    letters = read_dead_letters(settings, limit=2 * len(poison))
    assert len(letters) == len(poison)
    by_poison: Counter[tuple[str, str]] = Counter()
    for letter in letters:
        name, payload = poison[letter.key or b""]
        assert (letter.value or b"") == payload  # byte for byte
        assert letter.headers["dlq.service"] == "storage"
        assert letter.headers["dlq.topic"] == settings.topic
        assert letter.headers["dlq.reason"].strip() != ""
        by_poison[(name, letter.headers["dlq.kind"])] += 1
    assert by_poison == {(name, kind): PER_KIND for name, (_, kind) in POISONS.items()}

    ids = stored_ids(settings.db_path)
    assert duplicates(ids) == []
    assert set(ids) == {e["event_id"] for e in events}
    assert fetch(settings.db_path, "SELECT count(*) FROM events") == [(VALID,)]
    committed = offsets(settings, f"storage-{settings.topic}")
    assert [c for c, _ in committed] == [high for _, high in committed]


def send(settings: Settings, stream: list[tuple[bytes, bytes]]) -> None:
    """The mixed stream, as it is, at about 3,000 messages/s (raw bytes: no serializer)."""
    producer = Producer(settings.kafka_config(acks="all", **{"enable.idempotence": True}))
    try:
        for index, (key, value) in enumerate(stream):
            producer.produce(settings.topic, value, key)
            if index % 300 == 299:
                producer.poll(0)
                time.sleep(0.1)
    finally:
        assert close_producer(producer, 30.0) == 0
