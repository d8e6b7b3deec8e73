"""A single-node Apache Kafka broker in KRaft mode (combined broker and controller), no Docker."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from pipeline.devstack import processes
from pipeline.devstack.layout import DevStackSettings
from pipeline.errors import DevStackError, PipelineError
from pipeline.kafka import clients
from pipeline.kafka.admin import Admin

PART = "kafka"

_LOG4J = """\
status = warn
appender.file.type = Console
appender.file.name = out
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
# The broker prints every config at start; keep the log readable.
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
"""


def server_properties(settings: DevStackSettings) -> str:
    host, port, cport = settings.host, settings.kafka_port, settings.controller_port
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{cport}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(settings.kafka_data.resolve()),
        "num.partitions": "3",
        # One node: every internal topic has a single replica.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # A laptop stack: consumers should not wait for more members to join.
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


def new_cluster_id() -> str:
    """Kafka's cluster id format: a UUID as unpadded URL-safe base64.

    Like Kafka's own `Uuid.randomUuid()`, never one that starts with "-": a command line
    would take it for an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def prepare(settings: DevStackSettings, java: str, classpath: str) -> list[str]:
    """Write the configuration, format storage once, and return the broker's command line.

    `java` and `classpath` come from `jars` (checked and resolved before the ports are).
    """
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.server_properties.write_text(server_properties(settings))
    settings.log4j_config.write_text(_LOG4J)
    base = [java, f"-Dlog4j2.configurationFile={settings.log4j_config.resolve()}", "-cp", classpath]
    if not (settings.kafka_data / "meta.properties").exists():
        format_storage(settings, base)
    return [
        java,
        f"-Xms{min_heap(settings.heap)}",
        f"-Xmx{settings.heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-D{processes.marker(settings.home)}",
        *base[1:],
        "kafka.Kafka",
        str(settings.server_properties.resolve()),
    ]


def min_heap(heap: str) -> str:
    """Start small; the JVM grows the heap up to -Xmx only if the broker needs it."""
    return "128m" if heap.lower().endswith(("g", "m")) else heap


def format_storage(settings: DevStackSettings, base: list[str]) -> None:
    """Format the KRaft log directory with the stack's cluster id (kept across resets)."""
    if settings.cluster_id_file.exists():
        cluster_id = settings.cluster_id_file.read_text().strip()
    else:
        cluster_id = new_cluster_id()
        settings.cluster_id_file.write_text(cluster_id + "\n")
    command = [*base, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}"]
    command += ["-c", str(settings.server_properties.resolve())]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-5:])
        raise DevStackError(f"formatting Kafka storage failed:\n{tail}")


def _probe(bootstrap: str, timeout_s: float) -> Admin:
    # librdkafka logs connection refusals while the broker starts; they are expected.
    config = {"bootstrap.servers": bootstrap, "log_level": 0, "logger": clients.silent_logger()}
    return Admin(config, timeout_s=timeout_s)


def answers_metadata(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """True if a broker at `bootstrap` answers a metadata request."""
    try:
        return bool(_probe(bootstrap, timeout_s).metadata().brokers)
    except PipelineError:  # any failure means "not answering yet"
        return False


def topic_names(bootstrap: str, timeout_s: float = 5.0) -> list[str]:
    return _probe(bootstrap, timeout_s).names()


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def ensure_wipeable(settings: DevStackSettings) -> None:
    """Refuse to wipe a data folder that is not this stack's Kafka storage (a mistyped
    `--data-dir` must never cost the user a folder): it must be empty, or formatted with
    this stack's cluster id."""
    data = settings.kafka_data
    if not data.exists() or not any(data.iterdir()):
        return
    id_file = settings.cluster_id_file
    ours = id_file.read_text().strip() if id_file.exists() else ""
    meta = data / "meta.properties"
    theirs = _property(meta.read_text(errors="replace"), "cluster.id") if meta.is_file() else None
    if not ours or theirs != ours:
        raise DevStackError(
            f"refusing to wipe {data}: it does not hold this stack's Kafka data "
            f"(no meta.properties with cluster id {ours or '(none recorded)'}); "
            "remove it yourself if you mean to"
        )


def _property(text: str, key: str) -> str | None:
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == key:
            return value.strip()
    return None
