"""The broker stopped and restarted while the producer runs, on a broker of this test's own.

Two outages: one the producer rides out (the broker is SIGKILLed and back within the
producer's patience: every event is delivered, exactly once thanks to idempotence, even
if batches in flight at the kill are sent again), and one it cannot (the broker stops
and stays down past the producer's flush timeout: the producer gives up in bounded time and
says how many events it could not send). In both, what it reports as acknowledged is on the
topic exactly once. A third run finds the broker gone before its first event and its queue
full: it too ends in bounded time with a summary, not an exception.

The schema registry is the session's, on the session's broker: the producer looks its schema
up once, before sending, and encoding never touches Kafka, so the outage under test is the
order topic's broker alone (a registry on this broker would go down with it, which is
test_registry_restart's subject, not this one's).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message

import pipeline.producer as producer_module
from pipeline import registry_client
from pipeline.config import Settings
from pipeline.devstack import stack
from pipeline.devstack.layout import DevStackSettings
from pipeline.kafka.admin import ensure_topics
from pipeline.producer import DEFAULT_SCHEMA, ProduceOptions, ProduceSummary, send_events
from pipeline.schema_files import load_schema_file
from pipeline.serde import AvroDecoder, AvroEncoder
from tests.faults.helpers import high_watermarks, seeded_events, wait_for
from tests.killable_broker import kill_broker
from tests.order_helpers import read_all, register_v1

RATE = 3_000.0  # events/s, so that the producer is mid-run when the broker goes


class RecordingSummary(ProduceSummary):
    """The producer's own summary, also keeping the value of each acknowledged message."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acked: list[bytes] = []

    def delivery_report(self, error: KafkaError | None, message: Message) -> None:
        super().delivery_report(error, message)
        if error is None:
            self.acked.append(message.value() or b"")


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(producer_module, "ProduceSummary", RecordingSummary)


@pytest.mark.faults
@pytest.mark.usefixtures("recording")
def test_broker_killed_and_restarted_mid_run_every_event_arrives_once(
    settings: Settings, own_broker: DevStackSettings
) -> None:
    config = settings.with_(bootstrap_servers=own_broker.bootstrap)
    events = seeded_events(12_000, seed=21)  # 4 s at RATE
    run = ProducerRun(config, events)

    assert wait_for(lambda: run.delivered() >= 2_000, timeout_s=30)
    kill_broker(own_broker)
    time.sleep(1.0)  # the producer keeps going while the broker is away
    stack.start_kafka(own_broker)  # same data dir, same ports
    summary = run.join(timeout_s=90)

    # The broker came back within the producer's patience: nothing was given up.
    assert (summary.produced, summary.delivered, summary.failed) == (len(events), len(events), 0)
    arrived = event_ids(config)
    assert [i for i, n in Counter(arrived).items() if n > 1] == []  # no duplicate
    assert set(arrived) == {e["event_id"] for e in events}  # none missing
    assert sorted(arrived) == sorted(ids_of(config, summary.acked))


@pytest.mark.faults
@pytest.mark.usefixtures("recording")
def test_broker_down_past_the_flush_timeout_the_producer_reports_what_it_could_not_send(
    settings: Settings, own_broker: DevStackSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 60 s in the product; shortened so the test waits 5 s for a broker that is not coming.
    monkeypatch.setattr(producer_module, "FLUSH_TIMEOUT_S", 5.0)
    config = settings.with_(bootstrap_servers=own_broker.bootstrap)
    events = seeded_events(9_000, seed=22)  # 3 s at RATE
    run = ProducerRun(config, events)

    assert wait_for(lambda: run.delivered() >= 1_000, timeout_s=30)
    stack.down(own_broker)  # a clean stop this time; it stays down until the producer quits
    summary = run.join(timeout_s=40)

    # Bounded: sending (3 s) plus the flush timeout (5 s), with room for a busy machine.
    assert summary.elapsed_s < 18, summary.elapsed_s
    undelivered = summary.produced - summary.delivered - summary.failed
    assert summary.produced == len(events)
    assert summary.delivered + summary.failed + undelivered == summary.produced
    # Stronger: every event got its verdict (what was left at the timeout was purged and
    # reported as failed), so none is "undelivered at exit" without a word.
    assert undelivered == 0
    assert 1_000 <= summary.delivered < summary.produced
    report = "\n".join(summary.describe())
    assert f"failed: {summary.failed}, undelivered at exit: {undelivered}" in report

    stack.start_kafka(own_broker)
    arrived = event_ids(config)
    acked = ids_of(config, summary.acked)
    assert len(acked) == summary.delivered
    counts = Counter(arrived)
    assert [i for i, n in counts.items() if n > 1] == []  # no duplicate
    assert all(counts[i] == 1 for i in acked)  # every acknowledged event, exactly once
    # Beyond those, at most what was in flight when the broker stopped (stored, not acked).
    assert set(arrived) <= {e["event_id"] for e in events}


@pytest.mark.faults
@pytest.mark.usefixtures("recording")
def test_broker_gone_and_the_queue_full_the_producer_still_reports_instead_of_raising(
    settings: Settings, own_broker: DevStackSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The product's queue holds 500,000 events and waits 60 s; the same, smaller and shorter.
    monkeypatch.setitem(producer_module.PRODUCER_CONFIG, "queue.buffering.max.messages", 2_000)
    monkeypatch.setattr(producer_module, "FLUSH_TIMEOUT_S", 3.0)
    config = settings.with_(bootstrap_servers=own_broker.bootstrap)
    register_v1(config)
    ensure_topics(config, {config.topic: config.partitions})
    encoder = AvroEncoder.for_subject(
        registry_client.connect(config), f"{config.topic}-value", load_schema_file(DEFAULT_SCHEMA)
    )
    stack.down(own_broker)  # gone before the first event, and not coming back

    started = time.monotonic()
    summary = send_events(config, encoder, seeded_events(10_000, seed=23), ProduceOptions())
    took = time.monotonic() - started

    # Bounded: the full queue is waited on for 3 s, then the flush for 3 s more.
    assert took < 15, took
    # A summary, not an exception: the queue's 2,000 events, each reported as failed.
    assert (summary.produced, summary.delivered, summary.failed) == (2_000, 0, 2_000)
    assert summary.interrupted
    report = summary.describe()
    assert report[1:3] == [
        "failed: 2000, undelivered at exit: 0",
        "  error: the producer queue stayed full for 3 s",
    ]


class ProducerRun:
    """The pipeline's producer sending `events` at RATE in a thread of its own."""

    def __init__(self, settings: Settings, events: list[dict[str, Any]]) -> None:
        register_v1(settings)
        ensure_topics(settings, {settings.topic: settings.partitions})
        encoder = AvroEncoder.for_subject(
            registry_client.connect(settings),
            f"{settings.topic}-value",
            load_schema_file(DEFAULT_SCHEMA),
        )
        self._summaries: list[ProduceSummary] = []
        options = ProduceOptions(count=None, rate=RATE)
        self._progress: ProduceSummary | None = None
        self._thread = threading.Thread(
            target=lambda: self._summaries.append(
                send_events(settings, encoder, events, options, self._seen)
            )
        )
        self._thread.start()

    def _seen(self, summary: ProduceSummary) -> None:
        self._progress = summary

    def delivered(self) -> int:
        return 0 if self._progress is None else self._progress.delivered

    def join(self, timeout_s: float) -> RecordingSummary:
        self._thread.join(timeout=timeout_s)
        assert not self._thread.is_alive(), f"the producer still runs after {timeout_s} s"
        assert self._summaries, "the producer failed (see the exception above)"
        summary = self._summaries[0]
        assert isinstance(summary, RecordingSummary)
        return summary


def event_ids(settings: Settings) -> list[str]:
    """The event ids of every message on the topic, read from the start to its end."""
    size = sum(high_watermarks(settings))
    messages = read_all(settings, settings.topic, size, timeout=30)
    assert len(messages) == size
    return ids_of(settings, [m.value() or b"" for m in messages])


def ids_of(settings: Settings, values: list[bytes]) -> list[str]:
    decoder = AvroDecoder(registry_client.connect(settings), f"{settings.topic}-value")
    return [str(decoder.decode(value)[1]["event_id"]) for value in values]
