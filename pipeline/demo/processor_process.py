"""The demo's order processor as a process of its own, so that it can really be killed.

It runs `consume order-processor` (exactly-once, its state in the demo's state folder);
`kill()` is SIGKILL, with no chance to finish a transaction or close anything; `start()`
again resumes from the state folder and the changelog. Progress is the group's committed
input offsets.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from confluent_kafka import TopicPartition

from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin

GROUP = "order-processor"
DEFAULT_TOPIC = "order-events"


class ProcessorProcess:
    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings = settings
        self.log = log
        self.group = GROUP if settings.topic == DEFAULT_TOPIC else f"{GROUP}-{settings.topic}"
        self._process: subprocess.Popen[bytes] | None = None
        self._properties: Path | None = None

    def start(self) -> None:
        s = self.settings
        command = [sys.executable, "-c", "from pipeline.cli.main import main; main()"]
        command += ["--bootstrap-servers", s.bootstrap_servers, "--registry-url", s.registry_url]
        if s.client_properties:
            command += ["--client-properties", str(self._client_properties())]
        command += ["consume", "order-processor", "--group", self.group, "--json"]
        command += ["--state-dir", str(s.state_dir), "--interval", "0.5"]
        # Static membership: started again after the kill, it takes its own place in the group
        # at once, instead of waiting out the killed member's session timeout (45 s).
        command += ["--instance-id", f"demo-{self.group}"]
        if s.topic != DEFAULT_TOPIC:
            command += ["--topic", s.topic]
        with open(self.log, "ab") as out:
            self._process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def committed(self) -> int:
        """Input offsets the group has committed (without waiting for an open transaction)."""
        config = {"group.id": self.group, "isolation.level": "read_uncommitted"}
        consumer = clients.consumer(self.settings.kafka_config(**config))
        try:
            count = Admin.from_settings(self.settings).partitions(self.settings.topic) or 0
            parts = [TopicPartition(self.settings.topic, p) for p in range(count)]
            return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
        finally:
            consumer.close()

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)

    def stop(self) -> dict[str, Any]:
        """SIGTERM (finishes its batch); its last JSON snapshot."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                raise PipelineError("the order processor did not stop within 60 s") from None
        lines = self.log.read_text(errors="replace").strip().splitlines()
        for line in reversed(lines):
            if line.startswith("{"):
                return dict(json.loads(line))
        raise PipelineError(f"the order processor printed nothing; see {self.log}")

    def _client_properties(self) -> Path:
        if self._properties is None:
            folder = Path(tempfile.mkdtemp(prefix="demo-client-"))
            self._properties = folder / "client.properties"
            lines = (f"{k}={v}\n" for k, v in self.settings.client_properties.items())
            self._properties.write_text("".join(lines))
        return self._properties
