"""The one textbook baseline: like for like with ours on the wire, every event stored once,
and its registry clients closed after."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from itertools import islice
from pathlib import Path

from pipeline import registry_client
from pipeline.benchmark.decoded import decoded_batches
from pipeline.benchmark.stack import Target, workspace
from pipeline.benchmark.textbook import (
    TextbookEncoder,
    TextbookTable,
    count_rows,
    textbook_consume,
    textbook_produce,
)
from pipeline.config import Settings
from pipeline.events import generate_events
from pipeline.serde import AvroEncoder
from tests.benchmark.conftest import OpenedClients


def test_the_stock_encoder_writes_the_bytes_ours_writes(
    settings: Settings, opened_clients: OpenedClients
) -> None:
    with workspace(Target(settings, own_broker=False, own_registry=False)) as ws:
        lane = ws.lane("textbook")
        topic, schema = lane.settings.topic, lane.schema_str
        with registry_client.connected(lane.settings) as client:
            ours = AvroEncoder.for_subject(client, registry_client.value_subject(topic), schema)
            stock = TextbookEncoder(client, topic, schema)
            for event in islice(generate_events(seed=3, orders=10), 50):
                assert stock.encode(event) == ours.encode(event)
    assert opened_clients.clients and opened_clients.left_open() == 0


def test_the_textbook_producer_and_consumer_store_every_event_once(
    settings: Settings, opened_clients: OpenedClients
) -> None:
    ready, seen = threading.Event(), []
    with workspace(Target(settings, own_broker=False, own_registry=False)) as ws:
        lane = ws.lane("textbook")
        events = islice(generate_events(seed=4, orders=20), 60)
        produced = textbook_produce(lane.settings, lane.schema_str, events, rate=2_000.0)
        assert (produced.delivered, produced.failed) == (60, 0)
        stored = textbook_consume(
            lane.settings,
            lane.group,
            lane.schema_str,
            60,
            on_ready=ready.set,
            on_stored=seen.append,
            stop=threading.Event(),
            idle_timeout_s=30.0,
        )
        rows = count_rows(lane.settings.db_path)
    assert stored == 60 and rows == 60 and len(seen) == 60
    assert ready.is_set()
    assert opened_clients.left_open() == 0


def test_the_textbook_table_commits_each_row_on_a_default_connection(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    table = TextbookTable.open(path)
    try:
        for (event,) in decoded_batches(3, 1):
            table.store(event.value)
            assert count_rows(path) == event.offset + 1  # committed: another connection sees it
    finally:
        table.close()
    with closing(sqlite3.connect(str(path))) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
