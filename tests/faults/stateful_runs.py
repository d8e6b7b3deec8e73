"""The stateful services as real processes, killed and restarted, for the fault tests."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from confluent_kafka import TopicPartition

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.events import generate_events
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin, ensure_topics
from pipeline.producer import DEFAULT_SCHEMA, ProduceOptions, ProduceSummary, send_events
from pipeline.schema_files import load_schema_file
from pipeline.serde import AvroEncoder
from tests.faults.helpers import ROOT, START_MS, wait_for
from tests.order_helpers import register_v1

TOTAL = 20_000
# events/s: production lasts ~33 s, longer than three kills and restarts (each waits out
# the killed member's session), so every kill falls mid-stream even on a quiet machine.
RATE = 600.0
# A killed member keeps its partitions until its session expires (6 s: the broker's minimum).
CLIENT_PROPERTIES = "session.timeout.ms=6000\n"


@dataclass(frozen=True)
class Kill:
    committed_before: int  # input offsets the group had committed when this run started
    committed: int  # ... once the process was dead
    alive_when_killed: bool


class Stream:
    """A seeded stream of order events with anomalies, sent at RATE in a thread."""

    def __init__(self, settings: Settings, seed: int) -> None:
        register_v1(settings)
        ensure_topics(settings, {settings.topic: settings.partitions})
        events = generate_events(seed=seed, orders=200, start_ms=START_MS, anomaly_rate=0.02)
        self.events = list(islice(events, TOTAL))  # duplicates, swapped steps, unknown orders
        self.sent: list[ProduceSummary] = []
        encoder = AvroEncoder.for_subject(
            registry_client.connect(settings),
            registry_client.value_subject(settings.topic),
            load_schema_file(DEFAULT_SCHEMA),
        )
        options = ProduceOptions(count=None, rate=RATE)
        self._thread = threading.Thread(
            target=lambda: self.sent.append(send_events(settings, encoder, self.events, options))
        )

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._thread.join(timeout=120)
        assert not self._thread.is_alive()
        assert self.sent and (self.sent[0].delivered, self.sent[0].failed) == (TOTAL, 0)


class ServiceProcess:
    """`python cli.py consume SERVICE` as its own process (SIGKILL is the real thing)."""

    def __init__(self, settings: Settings, service: str, tmp: Path, *extra: str) -> None:
        self.settings = settings
        self.service = service
        self.group = f"{service}-{settings.topic}"
        self.extra = extra
        self.log = tmp / f"{service}.log"
        self.properties = tmp / "client.properties"
        self.properties.write_text(CLIENT_PROPERTIES)

    def start(self, *more: str) -> subprocess.Popen[bytes]:
        s = self.settings
        command = [sys.executable, str(ROOT / "cli.py"), "--bootstrap-servers", s.bootstrap_servers]
        command += ["--registry-url", s.registry_url, "--client-properties", str(self.properties)]
        command += ["consume", self.service, "--topic", s.topic, "--group", self.group]
        command += ["--state-dir", str(s.state_dir), "--json", *self.extra, *more]
        with open(self.log, "ab") as out:
            return subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    def committed(self) -> int:
        """Input offsets the group has committed (without waiting for a transaction that a
        killed instance left open: read_committed would wait for it to end)."""
        config = {"group.id": self.group, "isolation.level": "read_uncommitted"}
        consumer = clients.consumer(self.settings.kafka_config(**config))
        try:
            parts = [
                TopicPartition(self.settings.topic, p) for p in range(self.settings.partitions)
            ]
            return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
        finally:
            consumer.close()

    def holders(self) -> int:
        """Members of the group that hold partitions: a started instance has joined once it
        is one (a backlog can be committed by the first alone before the second is up)."""
        admin = Admin.from_settings(self.settings)
        futures = admin.client().describe_consumer_groups([self.group], request_timeout=10)
        members = futures[self.group].result(timeout=10).members
        return sum(1 for m in members if m.assignment and m.assignment.topic_partitions)

    def kill_once(self, rng: random.Random) -> Kill:
        """Start, let it commit a random share more of the stream, SIGKILL it a random few
        milliseconds later: most often in the middle of a transaction."""
        before = self.committed()
        target = before + rng.randint(1_500, 4_500)
        process = self.start()
        try:
            reached = wait_for(lambda: self.committed() >= target, timeout_s=90, interval_s=0.05)
            assert reached, f"never committed {target}; log:\n{self.log.read_text()[-3000:]}"
            time.sleep(rng.uniform(0.0, 0.3))
            alive = process.poll() is None
        finally:
            process.kill()  # SIGKILL: no chance to finish a transaction or close anything
            process.wait(timeout=10)
        return Kill(before, self.committed(), alive)

    def finish(self, timeout_s: float = 180) -> dict[str, Any]:
        """Run until the topic is done (idle), return its last JSON snapshot."""
        process = self.start("--idle-timeout", "10")
        try:
            code = process.wait(timeout=timeout_s)
        finally:
            process.kill()
            process.wait(timeout=10)
        output = self.log.read_text()
        assert code == 0, output[-3000:]
        return dict(json.loads(output.strip().splitlines()[-1]))


def check_kills(kills: list[Kill]) -> None:
    """Each kill happened, to a live process, in the middle of the stream."""
    assert len(kills) == 3
    assert all(k.alive_when_killed for k in kills), kills
    assert all(k.committed_before < k.committed < TOTAL for k in kills), kills
