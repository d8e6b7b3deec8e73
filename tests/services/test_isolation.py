"""One event a service fails on is dead-lettered (`handler-error`) and the rest of the batch is
done; a failure that is not about an event stops the service without committing. Real broker."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from confluent_kafka import Consumer, TopicPartition

from pipeline.config import Settings
from pipeline.errors import StoreError
from pipeline.model import Event, Refusal
from pipeline.producer import ProduceOptions, produce
from pipeline.services.isolation import describe_failure, is_systemic
from pipeline.services.runner import Runner, RunOptions
from tests.order_helpers import read_all, register_v1


class Picky:
    """Fails on every CONFIRMED event; like every service, a batch that raises did nothing."""

    name = "picky"

    def __init__(self) -> None:
        self.done: list[str] = []

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        taken = []
        for event in batch:
            if event.value["status"] == "CONFIRMED":
                raise ValueError(f"cannot take {event.value['event_id']}")
            taken.append(str(event.value["event_id"]))
        self.done.extend(taken)
        return ()

    def close(self) -> None:
        pass


class Broken:
    """Its store is gone: every batch fails, whatever is in it."""

    name = "broken"

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        raise StoreError("cannot write to the audit store: database or disk is full")

    def close(self) -> None:
        pass


def committed_total(settings: Settings, group: str) -> int:
    consumer = Consumer(settings.kafka_config(**{"group.id": group}))
    try:
        parts = [TopicPartition(settings.topic, p) for p in range(settings.partitions)]
        return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
    finally:
        consumer.close()


def test_an_event_the_service_fails_on_is_dead_lettered_and_the_rest_is_done(
    settings: Settings,
) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=120, orders=15, seed=41))
    service, group = Picky(), f"{settings.topic}-picky"
    options = RunOptions(group_id=group, max_events=120, idle_timeout_s=15, handle_signals=False)
    summary = Runner(settings, service, options).run()

    failed = summary.dead_lettered["handler-error"]
    assert failed > 5
    assert dict(summary.dead_lettered) == {"handler-error": failed}
    assert summary.handled == len(service.done) == 120 - failed
    assert len(set(service.done)) == len(service.done)  # none done twice by the retry
    assert committed_total(settings, group) == 120

    originals = {
        (m.partition(), m.offset()): m.value() for m in read_all(settings, settings.topic, 120)
    }
    letters = read_all(settings, settings.dlq_topic, failed)
    assert len(letters) == failed
    for letter in letters:
        headers = {k: v.decode() for k, v in letter.headers()}
        assert headers["dlq.kind"] == "handler-error"
        assert headers["dlq.reason"].startswith("ValueError: cannot take ")
        assert headers["dlq.service"] == "picky"
        where = (int(headers["dlq.partition"]), int(headers["dlq.offset"]))
        assert letter.value() == originals[where]


def test_a_failure_that_is_not_about_an_event_stops_without_committing(
    settings: Settings,
) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=30, seed=42))
    group = f"{settings.topic}-broken"
    options = RunOptions(group_id=group, idle_timeout_s=15, handle_signals=False)
    with pytest.raises(StoreError, match="disk is full"):
        Runner(settings, Broken(), options).run()
    assert committed_total(settings, group) == 0
    assert read_all(settings, settings.dlq_topic, 1, timeout=3) == []


class Marked(Exception):
    systemic = True


def test_which_failures_are_systemic() -> None:
    assert is_systemic(StoreError("locked"))
    assert is_systemic(OSError(28, "No space left on device"))
    assert is_systemic(Marked())
    assert not is_systemic(KeyError("CANCELLED"))
    assert not is_systemic(ValueError("bad amount"))
    assert describe_failure(KeyError("CANCELLED")) == "KeyError: 'CANCELLED'"
    assert len(describe_failure(ValueError("x" * 5000))) == 1000
