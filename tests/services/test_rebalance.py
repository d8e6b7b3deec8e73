"""Rebalances lose and repeat nothing, on the real broker: a member joining while the first
has work in hand, and static members (`group.instance.id`) restarting."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from pipeline.config import Settings
from pipeline.kafka import clients
from pipeline.model import Event, Refusal
from pipeline.producer import ProduceOptions, produce
from pipeline.services.runner import Runner, RunOptions
from tests.faults.helpers import high_watermarks
from tests.order_helpers import register_v1


class Recorder:
    name = "recorder"

    def __init__(self, pause_s: float = 0.0) -> None:
        self.pause_s = pause_s
        self.seen: list[tuple[int, int]] = []

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        time.sleep(self.pause_s)  # work in hand while the group rebalances
        self.seen.extend((e.partition, e.offset) for e in batch)
        return ()

    def close(self) -> None:
        pass


def committed(settings: Settings, group: str) -> list[int]:
    consumer = Consumer(settings.kafka_config(**{"group.id": group}))
    try:
        parts = [TopicPartition(settings.topic, p) for p in range(settings.partitions)]
        return [max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10)]
    finally:
        consumer.close()


def settled(state: Callable[[], object], quiet_s: float, timeout_s: float) -> None:
    """Until `state()` has not changed for `quiet_s` (bounded by `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    last, since = state(), time.monotonic()
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() < deadline, f"still changing after {timeout_s} s: {last}"
        time.sleep(0.2)
        now = state()
        if now != last:
            last, since = now, time.monotonic()


def wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Members:
    """Runners of one group in threads; `stop()` stops them all (bounded joins)."""

    def __init__(self) -> None:
        self.runners: list[Runner] = []
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, runner: Runner) -> Runner:
        thread = threading.Thread(target=self._run, args=(runner,))
        self.runners.append(runner)
        self.threads.append(thread)
        thread.start()
        return runner

    def _run(self, runner: Runner) -> None:
        try:
            runner.run()
        except BaseException as exc:
            self.errors.append(exc)

    def stop(self, runner: Runner, timeout_s: float = 60) -> None:
        runner.stop()
        self.threads[self.runners.index(runner)].join(timeout_s)

    def stop_all(self) -> None:
        for runner in self.runners:
            runner.stop()
        for thread in self.threads:
            thread.join(60)
        assert not any(t.is_alive() for t in self.threads)
        assert self.errors == []


class WindowedConsumer(Consumer):
    """The real consumer; once armed, it runs `window` just before the second consume() of a
    batch: the moment when a rebalance revokes partitions the batch already has a message
    of (the first consume() returned it), which is what this test needs to happen."""

    window: Callable[[], None] | None = None

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        if timeout == 0 and WindowedConsumer.window is not None:
            window, WindowedConsumer.window = WindowedConsumer.window, None
            window()
        return super().consume(num_messages, timeout)


def test_a_member_joining_while_work_is_in_hand_loses_and_repeats_nothing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clients, "consumer", lambda config: WindowedConsumer(dict(config)))
    monkeypatch.setattr(WindowedConsumer, "window", None)
    quick = settings.with_(client_properties={"heartbeat.interval.ms": "300"})
    register_v1(settings)
    produce(settings, ProduceOptions(count=600, seed=51))
    group = f"{settings.topic}-join"
    # Slow batches: the new owner has read a partition before the old owner is done.
    first, second = Recorder(pause_s=0.5), Recorder(pause_s=0.5)
    options = RunOptions(group_id=group, batch_size=50, handle_signals=False)
    members = Members()

    def second_joins() -> None:
        members.start(Runner(quick, second, options))
        time.sleep(3.0)  # it has joined; the first member's revocation is queued by now

    try:
        members.start(Runner(quick, first, options))
        wait_until(lambda: len(first.seen) >= 100, 60)
        WindowedConsumer.window = second_joins
        wait_until(lambda: len(members.runners) == 2, 30)
        # More events while the group rebalances: uncommitted work on both sides.
        produce(settings, ProduceOptions(count=200, seed=52))
        wait_until(lambda: len(set(first.seen + second.seen)) >= 800, 120)
        time.sleep(2.0)  # anything handled twice would show up by now
    finally:
        members.stop_all()
    both = first.seen + second.seen
    twice = [where for where, n in Counter(both).items() if n > 1]
    assert twice == []
    assert len(set(both)) == 800
    assert second.seen  # the second member did take part
    assert committed(settings, group) == high_watermarks(settings)  # none moved backwards


def test_a_static_member_restarting_gets_its_partitions_back_without_moving_the_others(
    settings: Settings,
) -> None:
    register_v1(settings)
    group = f"{settings.topic}-static"
    # The broker's minimum; a restart well within it keeps the member's place.
    static = settings.with_(client_properties={"session.timeout.ms": "30000"})

    def options(instance: str) -> RunOptions:
        return RunOptions(group_id=group, instance_id=instance, handle_signals=False)

    members = Members()
    try:
        stays = members.start(Runner(static, Recorder(), options("stays")))
        leaves = members.start(Runner(static, Recorder(), options("restarts")))
        wait_until(lambda: bool(stays.summary.partitions and leaves.summary.partitions), 60)
        wait_until(
            lambda: (
                sorted(stays.summary.partitions + leaves.summary.partitions)
                == list(range(settings.partitions))
            ),
            60,
        )
        # A cooperative rebalance ends in a round that may still reach a member after the
        # partitions are all placed: count from when the group has been quiet for a while.
        settled(lambda: (stays.summary.assignments, leaves.summary.assignments), 5, 60)
        kept, given = list(stays.summary.partitions), list(leaves.summary.partitions)
        changes_before = stays.summary.assignments
        members.stop(leaves)

        restarted_service = Recorder()
        restarted = members.start(Runner(static, restarted_service, options("restarts")))
        wait_until(lambda: bool(restarted.summary.partitions), 20)  # far less than 30 s
        assert restarted.summary.partitions == given
        produce(settings, ProduceOptions(count=600, seed=53))
        wait_until(lambda: len(restarted_service.seen) > 0, 30)
        # The member that stayed never gave anything up, nor took anything new.
        assert stays.summary.partitions == kept
        assert stays.summary.assignments == changes_before
    finally:
        members.stop_all()
