"""CPU per event of each in-process stage of the hot path, in whichever tree is on
PYTHONPATH (`before_after.py` starts it as it starts `probe.py`; it is never imported).

    PYTHONPATH=<tree> python -P pipeline/benchmark/stage_probe.py stages '<json config>'

generate  the producer's event generator
encode    the tree's `AvroEncoder` (Confluent wire format)
decode    the tree's `AvroDecoder`, built as the storage service's runner builds it (plain
          values where the tree's storage service takes them so)
store     the tree's audit store: rows, orders and positions into SQLite, one transaction per
          batch of the tree's default batch size

Decode and store are timed as the tree's runner runs a batch: with Python's cyclic
collector paused in a tree whose runner pauses it (`services/collector.py`).

What the Kafka client, the producer's loop and the runner cost (produce; consume, commit,
the runner's per-message work) is the rest of the producer's and the storage service's CPU
per event, which `before_after` measures through the broker and subtracts these from. It
calls only what both trees have, like `probe.py`.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from itertools import islice
from pathlib import Path
from typing import Any

import pipeline
from pipeline import registry_client

# The tree on the path's own reading of the config (both trees have it, the same).
from pipeline.benchmark.worker import settings_from
from pipeline.config import Settings
from pipeline.events import generate_events
from pipeline.model import Event
from pipeline.serde import AvroDecoder, AvroEncoder
from pipeline.services.runner import RunOptions
from pipeline.services.storage import StorageService
from pipeline.store.audit import AuditStore
from pipeline.store.positions import PositionBook

PARTITIONS = 3


def run_stages(settings: Settings, config: dict[str, Any]) -> dict[str, Any]:
    count, cpu = config["events"], time.process_time
    began = cpu()
    orders = generate_events(seed=config["seed"], orders=1000)
    events = list(islice(orders, count))
    generate = cpu() - began
    with registry_client.connected(settings) as client:
        subject = registry_client.value_subject(settings.topic)
        encoder = AvroEncoder.for_subject(client, subject, config["schema_str"])
        began = cpu()
        values = [encoder.encode(event) for event in events]
        encode = cpu() - began
        plain = {"plain": True} if getattr(StorageService, "plain_values", False) else {}
        decoder = AvroDecoder(client, subject, **plain)
        decoder.decode(values[0])  # the writer schema fetched before the clock runs
        batch = RunOptions().batch_size
        decoded: list[Any] = []
        began = cpu()
        for start in range(0, count, batch):
            with _as_in_a_batch():
                decoded += [decoder.decode(value) for value in values[start : start + batch]]
        decode = cpu() - began
    store_s = _store(settings, events, values, decoded, batch)
    return {
        "events": count,
        "batch": batch,
        "generate_us": generate / count * 1e6,
        "encode_us": encode / count * 1e6,
        "decode_us": decode / count * 1e6,
        "store_us": store_s / count * 1e6,
    }


def _as_in_a_batch() -> AbstractContextManager[None]:
    """What the tree's runner wraps a batch's decoding and handling in: the cyclic collector
    paused where the tree's runner pauses it (this tree's does, batch by batch, collecting
    between them; the release before ran batches with it on), so the stages cost here what
    they cost in the service."""
    try:
        from pipeline.services.collector import collector_paused
    except ImportError:
        return nullcontext()
    return collector_paused()


def _store(
    settings: Settings,
    events: list[dict[str, Any]],
    values: list[bytes],
    decoded: list[Any],
    batch: int,
) -> float:
    """CPU seconds of writing the decoded events in batches (the Event objects, the
    runner's work, are made before the clock runs)."""
    stored = [
        Event(
            topic=settings.topic,
            partition=index % PARTITIONS,
            offset=index // PARTITIONS,
            key=str(source["order_id"]).encode(),
            raw=raw,
            headers=(),
            timestamp_ms=0,
            value=value,
            schema=writer,
            topic_id="stage-probe",
        )
        for index, (source, raw, (writer, value)) in enumerate(
            zip(events, values, decoded, strict=True)
        )
    ]
    book = PositionBook()
    book.start({})
    store = AuditStore.open(settings.db_path)
    try:
        began = time.process_time()
        for start in range(0, len(stored), batch):
            with _as_in_a_batch():
                store.write(stored[start : start + batch], book)
        return time.process_time() - began
    finally:
        store.close()


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    print(f"TREE {Path(pipeline.__file__).resolve().parent.parent}", flush=True)
    settings = settings_from(config)
    print("RESULT " + json.dumps(run_stages(settings, config)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
