"""`produce` against the real broker and registry."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import defaultdict
from itertools import islice

import pytest
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient

import pipeline.producer as producer_module
from pipeline import registry_client
from pipeline.cli.main import cli
from pipeline.config import Settings
from pipeline.devstack.processes import free_port
from pipeline.events import LIFECYCLE, generate_events
from pipeline.producer import ProduceError, ProduceOptions, produce, send_events
from pipeline.registry_client import SchemaNotRegisteredError
from pipeline.serde import AvroDecoder, AvroEncoder
from tests.order_helpers import V1, read_all, register_v1


def test_produces_keyed_lifecycles_that_read_back_exactly(settings: Settings) -> None:
    schema_id = register_v1(settings)
    options = ProduceOptions(count=500, orders=20, seed=9, start_ms=1_000_000)
    summary = produce(settings, options)
    assert (summary.produced, summary.delivered, summary.failed) == (500, 500, 0)
    assert summary.schema_id == schema_id
    messages = read_all(settings, settings.topic, 500)
    assert len(messages) == 500
    decoder = AvroDecoder(registry_client.connect(settings), f"{settings.topic}-value")
    expected = {
        e["event_id"]: e
        for e in islice(generate_events(seed=9, orders=20, start_ms=1_000_000), 500)
    }
    partitions: dict[str, set[int]] = defaultdict(set)
    statuses: dict[str, list[str]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: (m.partition(), m.offset())):
        _, value = decoder.decode(message.value())
        sent = expected[str(value["event_id"])]
        assert message.key() == sent["order_id"].encode()
        assert value["status"] == sent["status"]
        partitions[sent["order_id"]].add(message.partition())
        statuses[sent["order_id"]].append(sent["status"])
    assert all(len(p) == 1 for p in partitions.values())  # one order, one partition
    order = [s.value for s in LIFECYCLE]
    assert all(s == order[: len(s)] for s in statuses.values())  # and in order
    assert len({m.partition() for m in messages}) == settings.partitions


def test_unregistered_schema_sends_nothing_and_creates_no_topic(settings: Settings) -> None:
    with pytest.raises(SchemaNotRegisteredError, match=r"python cli\.py schema register"):
        produce(settings, ProduceOptions(count=10))
    topics = AdminClient(settings.kafka_config()).list_topics(timeout=10).topics
    assert settings.topic not in topics


def test_rate_and_duration_limit_the_run(settings: Settings) -> None:
    register_v1(settings)
    started = time.monotonic()
    summary = produce(settings, ProduceOptions(count=300, rate=1000))
    assert summary.delivered == 300
    assert time.monotonic() - started >= 0.25
    timed = produce(settings, ProduceOptions(count=None, rate=500, duration_s=0.5))
    assert 150 <= timed.delivered <= 400
    assert timed.failed == 0


def test_cli_produce_prints_a_summary(settings: Settings) -> None:
    register_v1(settings)
    args = [
        "--bootstrap-servers",
        settings.bootstrap_servers,
        "--registry-url",
        settings.registry_url,
    ]
    result = CliRunner().invoke(
        cli, [*args, "produce", "--count", "40", "--seed", "1", "--topic", settings.topic]
    )
    assert result.exit_code == 0, result.output
    assert f"sent 40 events to {settings.topic}" in result.output
    missing = CliRunner().invoke(
        cli, [*args, "produce", "--count", "5", "--topic", f"{settings.topic}-nowhere"]
    )
    assert missing.exit_code == 1
    assert f"subject '{settings.topic}-nowhere-value'" in missing.output


def test_cancellations_need_a_schema_that_can_say_cancelled(settings: Settings) -> None:
    with pytest.raises(ProduceError, match=r"order_event.v1.avsc has no CANCELLED status"):
        produce(settings, ProduceOptions(count=10, cancel_rate=0.1))
    args = [
        "--bootstrap-servers",
        settings.bootstrap_servers,
        "--registry-url",
        settings.registry_url,
    ]
    refused = CliRunner().invoke(
        cli, [*args, "produce", "--topic", settings.topic, "--cancellations", "0.1"]
    )
    assert refused.exit_code == 1
    lines = [line for line in refused.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "has no CANCELLED status" in lines[0]


class HugeEncoder:
    """Values over the client's 1,000,000-byte message limit: produce() raises."""

    schema_id = 1

    def encode(self, record: dict[str, object]) -> bytes:
        return b"\x00" * 1_500_000


def test_a_kafka_exception_from_produce_ends_in_the_summary(settings: Settings) -> None:
    events = islice(generate_events(seed=1), 5)
    summary = send_events(settings, HugeEncoder(), events, ProduceOptions(count=5))
    assert not summary.ok
    assert summary.stopped_by_error
    assert summary.produced == 0
    lines = summary.describe()
    assert any("the producer stopped: " in line and "too large" in line for line in lines), lines


def test_ctrl_c_while_the_queue_is_full_stops_within_a_second(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A broker that is not there (a port nobody listens on): the queue fills and stays full.
    monkeypatch.setitem(producer_module.PRODUCER_CONFIG, "queue.buffering.max.messages", 2_000)
    gone = settings.with_(bootstrap_servers=f"127.0.0.1:{free_port()}")
    interrupted_at: list[float] = []

    def ctrl_c() -> None:
        interrupted_at.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(2.0, ctrl_c)  # the 2,000 events are queued well before that
    timer.start()
    try:
        summary = send_events(
            gone, AvroEncoder(1, V1.read_text()), generate_events(seed=2), ProduceOptions()
        )
    finally:
        timer.cancel()
    took = time.monotonic() - interrupted_at[0]
    assert took < 5, took  # what the user waits for after Ctrl-C (the old code: 2 minutes)
    assert summary.interrupted and summary.produced == 2_000
    assert summary.failed == 2_000 and not summary.ok  # dropped, and said so
