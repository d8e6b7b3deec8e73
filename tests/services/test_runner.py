"""The shared consume loop on the real broker and registry: DLQ, commits, rebalances, signals."""

from __future__ import annotations

import gc
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from click.testing import CliRunner
from confluent_kafka import Consumer, TopicPartition

from pipeline.cli.main import cli
from pipeline.config import Settings
from pipeline.dlq import read_dead_letters
from pipeline.kafka.admin import ensure_topics
from pipeline.model import Event, Refusal
from pipeline.producer import ProduceOptions, produce
from pipeline.services.analytics import Analytics
from pipeline.services.runner import Runner, RunOptions
from tests.order_helpers import produce_raw, read_all, register_v1

ROOT = Path(__file__).resolve().parents[2]


def committed_total(settings: Settings, group: str) -> int:
    consumer = Consumer(settings.kafka_config(**{"group.id": group}))
    try:
        parts = [TopicPartition(settings.topic, p) for p in range(settings.partitions)]
        return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
    finally:
        consumer.close()


def run(settings: Settings, service: object, **options: object) -> Runner:
    defaults: dict[str, object] = {"idle_timeout_s": 15.0, "handle_signals": False}
    runner = Runner(settings, service, RunOptions(**(defaults | options)))  # type: ignore[arg-type]
    runner.run()
    return runner


def test_bad_messages_are_dead_lettered_and_the_service_goes_on(settings: Settings) -> None:
    schema_id = register_v1(settings)
    produce(settings, ProduceOptions(count=100, seed=1))
    bad = [
        (b"k1", b"plain text, not Avro"),
        (b"k2", b"\x00" + struct.pack(">I", 99_999_999) + b"\x02ab"),
        (b"k3", b"\x00" + struct.pack(">I", schema_id) + b"\xff\xff\xff"),
        (b"k4", None),
    ]
    produce_raw(settings, settings.topic, bad)
    produce(settings, ProduceOptions(count=100, seed=2))
    analytics = Analytics(settings)
    runner = run(settings, analytics, max_events=204, group_id=f"{settings.topic}-a")
    summary = runner.summary
    assert (summary.consumed, summary.handled, summary.stopped_by) == (204, 200, "max-events")
    assert dict(summary.dead_lettered) == {
        "not-wire-format": 2,
        "unknown-schema-id": 1,
        "corrupt-avro": 1,
    }
    assert analytics.counts["events"] == 200
    assert committed_total(settings, f"{settings.topic}-a") == 204

    letters = read_all(settings, settings.dlq_topic, 4)
    assert sorted((m.key(), m.value()) for m in letters) == sorted(bad, key=lambda kv: kv[0])
    for message in letters:
        headers = {k: v.decode() for k, v in message.headers()}
        assert headers["dlq.service"] == "analytics"
        assert headers["dlq.topic"] == settings.topic
        assert int(headers["dlq.partition"]) in range(settings.partitions)
        assert int(headers["dlq.offset"]) >= 0
        assert headers["dlq.kind"] in summary.dead_lettered
        assert headers["dlq.reason"]
    kinds = {m.key(): dict(m.headers())["dlq.kind"] for m in letters}
    assert kinds == {
        b"k1": b"not-wire-format",
        b"k2": b"unknown-schema-id",
        b"k3": b"corrupt-avro",
        b"k4": b"not-wire-format",
    }
    listed = read_dead_letters(settings, limit=10)
    assert [r.headers["dlq.kind"] for r in listed].count("not-wire-format") == 2
    args = [
        "--bootstrap-servers",
        settings.bootstrap_servers,
        "--registry-url",
        settings.registry_url,
    ]
    shown = CliRunner().invoke(cli, [*args, "dlq", "--topic", settings.dlq_topic])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(f"4 dead letters on {settings.dlq_topic}")
    assert shown.output.count(" analytics not-wire-format from ") == 2
    assert f"analytics corrupt-avro from {settings.topic}[" in shown.output


class Refuser:
    name = "refuser"

    def __init__(self) -> None:
        self.closed = False

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        return [Refusal(e, "odd order") for e in batch if e.value["status"] == "CONFIRMED"]

    def close(self) -> None:
        self.closed = True


def test_refusals_are_copied_to_the_dlq_byte_for_byte(settings: Settings) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=60, seed=3))
    service = Refuser()
    runner = run(settings, service, max_events=60, group_id=f"{settings.topic}-r")
    refused = runner.summary.dead_lettered["refused"]
    assert refused > 0
    assert service.closed
    originals = {
        (m.partition(), m.offset()): m.value() for m in read_all(settings, settings.topic, 60)
    }
    letters = read_all(settings, settings.dlq_topic, refused)
    assert len(letters) == refused
    for letter in letters:
        headers = {k: v.decode() for k, v in letter.headers()}
        assert (headers["dlq.kind"], headers["dlq.reason"]) == ("refused", "odd order")
        assert headers["dlq.service"] == "refuser"
        assert (
            letter.value() == originals[(int(headers["dlq.partition"]), int(headers["dlq.offset"]))]
        )


def test_a_restart_resumes_where_the_commit_left_off(settings: Settings) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=150, seed=4))
    group = f"{settings.topic}-g"
    first, second = Analytics(settings), Analytics(settings)
    run(settings, first, max_events=70, group_id=group, batch_size=20)
    assert committed_total(settings, group) == 70
    run(settings, second, group_id=group, idle_timeout_s=2.0)
    assert (first.counts["events"], second.counts["events"]) == (70, 80)
    assert committed_total(settings, group) == 150


class SlowRecorder:
    name = "recorder"

    def __init__(self, seen: list[tuple[int, int]], lock: threading.Lock) -> None:
        self.seen, self.lock = seen, lock
        self.partitions: set[int] = set()

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        time.sleep(0.05)  # slow enough that the second instance joins mid-stream
        with self.lock:
            self.seen.extend((e.partition, e.offset) for e in batch)
        self.partitions.update(e.partition for e in batch)
        return ()

    def close(self) -> None:
        pass


def test_two_instances_of_one_group_split_the_partitions(settings: Settings) -> None:
    register_v1(settings)
    ensure_topics(settings, {settings.topic: settings.partitions})
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()
    services = [SlowRecorder(seen, lock), SlowRecorder(seen, lock)]
    options = RunOptions(group_id=f"{settings.topic}-split", batch_size=10, handle_signals=False)
    runners = [Runner(settings, s, options) for s in services]
    threads = [threading.Thread(target=r.run) for r in runners]
    for thread in threads:
        thread.start()
    try:
        # Produce once the group has settled on two members sharing the partitions.
        wait_until(lambda: split_between(runners) == set(range(settings.partitions)), 30)
        produce(settings, ProduceOptions(count=600, seed=5))
        wait_until(lambda: len(set(seen)) >= 600, 40)
    finally:
        for runner in runners:
            runner.stop()
        for thread in threads:
            thread.join(20)
    assert len(set(seen)) == len(seen) == 600  # nothing lost, nothing done twice
    assert all(r.summary.handled > 0 for r in runners)
    assert services[0].partitions.isdisjoint(services[1].partitions)
    assert committed_total(settings, f"{settings.topic}-split") == 600


def split_between(runners: list[Runner]) -> set[int]:
    """The partitions of the two runners if they hold disjoint non-empty shares, else nothing."""
    mine, theirs = (set(r.summary.partitions) for r in runners)
    return mine | theirs if mine and theirs and not mine & theirs else set()


def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_sigterm_finishes_the_batch_commits_and_exits(settings: Settings) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=120, seed=6))
    env = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "SCHEMA_REGISTRY_URL": settings.registry_url,
    }
    command = [sys.executable, "cli.py", "consume", "analytics", "--json", "--interval", "0.2"]
    command += ["--topic", settings.topic, "--group", f"{settings.topic}-sig"]
    command += ["--state-dir", str(settings.state_dir)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        last: dict[str, object] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            last = json.loads(process.stdout.readline() or "{}")
            if last.get("run", {}).get("consumed") == 120:  # type: ignore[union-attr]
                break
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    final = json.loads(out.strip().splitlines()[-1])
    assert final["run"]["stopped_by"] == "stop-request"
    assert final["analytics"]["totals"]["events"] == 120
    assert final["run"]["guarantee"] == "exactly-once" and final["run"]["transactions"] >= 1
    assert committed_total(settings, f"{settings.topic}-sig") == 120


class SignalledAdmin:
    """The runner's real topic admin, but Ctrl-C arrives while it ensures the topics: the
    service is still starting (a stateful one may restore state for a long while here)."""

    def __init__(self, admin: object) -> None:
        self._admin = admin

    def __getattr__(self, name: str) -> object:
        return getattr(self._admin, name)

    def ensure(self, specs: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        self._admin.ensure(specs)  # type: ignore[attr-defined]


def test_a_stop_asked_for_while_starting_ends_the_run_cleanly(settings: Settings) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=50, seed=61))
    service = Analytics(settings)
    runner = Runner(settings, service, RunOptions(idle_timeout_s=15.0, handle_signals=True))
    runner._admin = SignalledAdmin(runner._admin)  # type: ignore[assignment]
    previous = signal.getsignal(signal.SIGINT)
    summary = runner.run()  # before: KeyboardInterrupt out of the start, nothing closed
    assert summary.stopped_by == "stop-request"
    assert summary.consumed == 0  # stopped before reading anything
    assert signal.getsignal(signal.SIGINT) is previous  # handlers given back


class CollectorWatcher:
    """Notes whether Python's cyclic collector runs while each batch is handled."""

    name = "collector-watcher"

    def __init__(self) -> None:
        self.enabled_in_batches: list[bool] = []

    def handle(self, batch: Sequence[Event]) -> Sequence[Refusal]:
        self.enabled_in_batches.append(gc.isenabled())
        return ()

    def close(self) -> None:
        pass


def test_the_collector_waits_while_a_batch_is_handled_and_runs_after(settings: Settings) -> None:
    register_v1(settings)
    produce(settings, ProduceOptions(count=30, seed=4))
    service = CollectorWatcher()
    assert gc.isenabled()
    run(settings, service, max_events=30, group_id=f"{settings.topic}-gc")
    assert service.enabled_in_batches and not any(service.enabled_in_batches)
    assert gc.isenabled()
