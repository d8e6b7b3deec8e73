"""The runner's side of `PartitionAware`, on the real broker: topic ids, the service's own
start offsets, and the order of assigned → handle → revoked, with one member and with two."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

from confluent_kafka import Consumer, TopicPartition

from pipeline.config import Settings
from pipeline.kafka.admin import Admin
from pipeline.model import Event, PartitionRef, Refusal
from pipeline.producer import ProduceOptions, produce
from pipeline.services.base import PartitionAware
from pipeline.services.runner import Runner, RunOptions
from tests.order_helpers import register_v1

Call = tuple[str, tuple[int, ...]]


class Positions:
    """Remembers every call; starts the partitions named in `starts` at those offsets."""

    name = "positions"

    def __init__(self, starts: Mapping[int, int] | None = None, pause_s: float = 0.0) -> None:
        self.starts = dict(starts or {})
        self.pause_s = pause_s
        self.calls: list[Call] = []
        self.handled: list[tuple[int, int]] = []
        self.topic_ids: set[str] = set()
        self.owned: set[int] = set()
        self.violations: list[str] = []
        self.lock = threading.Lock()

    def assigned(self, partitions: Sequence[PartitionRef]) -> Mapping[PartitionRef, int]:
        with self.lock:
            self.calls.append(("assigned", tuple(sorted(p.partition for p in partitions))))
            self.topic_ids.update(p.topic_id for p in partitions)
            self.owned.update(p.partition for p in partitions)
        return {p: self.starts[p.partition] for p in partitions if p.partition in self.starts}

    def revoked(self, partitions: Sequence[PartitionRef]) -> None:
        with self.lock:
            self.calls.append(("revoked", tuple(sorted(p.partition for p in partitions))))
            self.owned.difference_update(p.partition for p in partitions)

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        time.sleep(self.pause_s)
        with self.lock:
            self.calls.append(("handle", tuple(sorted({e.partition for e in batch}))))
            for event in batch:
                if event.partition not in self.owned:
                    self.violations.append(f"event of {event.partition} handled, not assigned")
                self.topic_ids.add(event.topic_id)
                self.handled.append((event.partition, event.offset))
        return ()

    def close(self) -> None:
        pass


def test_the_test_service_is_partition_aware() -> None:
    assert isinstance(Positions(), PartitionAware)


def highs(settings: Settings) -> list[int]:
    consumer = Consumer(settings.kafka_config(**{"group.id": "hooks-watermarks"}))
    try:
        parts = [TopicPartition(settings.topic, p) for p in range(settings.partitions)]
        return [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts]
    finally:
        consumer.close()


def committed(settings: Settings, group: str) -> list[int]:
    consumer = Consumer(settings.kafka_config(**{"group.id": group}))
    try:
        parts = [TopicPartition(settings.topic, p) for p in range(settings.partitions)]
        return [tp.offset for tp in consumer.committed(parts, timeout=10)]
    finally:
        consumer.close()


def test_assigned_before_events_at_the_offsets_it_returns_and_revoked_at_the_end(
    settings: Settings,
) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=240, seed=11))
    ends = highs(settings)
    fullest = max(range(settings.partitions), key=lambda p: ends[p])
    assert ends[fullest] > 5
    service = Positions(starts={fullest: ends[fullest] - 3})
    group = f"{settings.topic}-hooks"
    options = RunOptions(group_id=group, idle_timeout_s=3.0, handle_signals=False)
    summary = Runner(settings, service, options).run()

    everything = tuple(range(settings.partitions))
    assert service.calls[0] == ("assigned", everything)
    assert service.calls[-1] == ("revoked", everything)
    assert [c for c in service.calls if c[0] != "handle"] == [
        ("assigned", everything),
        ("revoked", everything),
    ]
    assert service.violations == []
    # The service's own position wins for its partition; the others start at the beginning.
    assert sorted(o for p, o in service.handled if p == fullest) == [
        ends[fullest] - 3,
        ends[fullest] - 2,
        ends[fullest] - 1,
    ]
    assert len(service.handled) == sum(ends) - (ends[fullest] - 3) == summary.consumed
    # Every event carries its topic's id, the one the admin client reports.
    topic_id = Admin.from_settings(settings).topic_ids([settings.topic])[settings.topic]
    assert service.topic_ids == {topic_id}
    assert committed(settings, group) == ends


def wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_second_member_moves_partitions_with_revoked_after_their_last_batch(
    settings: Settings,
) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=3000, seed=12))
    group = f"{settings.topic}-hooks2"
    first, second = Positions(pause_s=0.01), Positions(pause_s=0.01)
    options = RunOptions(group_id=group, batch_size=20, idle_timeout_s=6.0, handle_signals=False)
    runners = [Runner(settings, first, options), Runner(settings, second, options)]
    threads = [threading.Thread(target=r.run) for r in runners]
    threads[0].start()
    try:
        wait_until(lambda: len(first.handled) >= 300, 60)  # the first is mid-stream
        threads[1].start()
        wait_until(lambda: len(first.handled) + len(second.handled) >= 3000, 90)
    finally:
        for thread in threads:
            if thread.is_alive():
                thread.join(60)
    assert not any(t.is_alive() for t in threads)
    assert first.violations == second.violations == []
    # Cooperative: the first gave up only some partitions, the second got exactly those.
    revoked = [c[1] for c in first.calls if c[0] == "revoked"]
    moved = set(revoked[0])
    assert moved and moved != set(range(settings.partitions))
    assert next(c for c in second.calls if c[0] == "assigned")[1] == tuple(sorted(moved))
    # Nothing lost, nothing done twice.
    both = first.handled + second.handled
    assert len(both) == len(set(both)) == 3000
    assert sum(committed(settings, group)) == 3000
