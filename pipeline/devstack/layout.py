"""Where the local stack lives on disk and on which ports it listens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Kafka's pinned jars, as a Maven project carried in the package.
POM = Path(__file__).resolve().parent / "pom.xml"


@dataclass(frozen=True, kw_only=True)
class DevStackSettings:
    """The local Kafka broker and registry: folder, ports and heap. Built once, passed down."""

    # Relative to where commands run, like the audit store's data/audit.db: the project
    # folder when the README's commands are followed.
    home: Path = Path(".devstack")
    data_dir: Path | None = None  # defaults to home/kafka-data
    host: str = "127.0.0.1"
    kafka_port: int = 9092
    controller_port: int = 9093
    registry_port: int = 8081
    heap: str = "512m"
    start_timeout_s: float = 90.0
    stop_timeout_s: float = 30.0
    with_registry: bool = True
    with_postgres: bool = False
    postgres_port: int = 5432
    # Test sessions only: processes stop when the process that started them dies, so a
    # killed test run leaves nothing behind (`dev up`'s processes outlive the CLI).
    tethered: bool = False

    @property
    def kafka_data(self) -> Path:
        return self.data_dir or self.home / "kafka-data"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def registry_url(self) -> str:
        return f"http://{self.host}:{self.registry_port}"

    @property
    def postgres_data(self) -> Path:
        return self.home / "postgres-data"

    # Files of the running stack, all under `home` (git-ignored).
    @property
    def state_file(self) -> Path:
        return self.home / "stack.json"

    @property
    def server_properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j_config(self) -> Path:
        return self.home / "log4j2.properties"

    @property
    def cluster_id_file(self) -> Path:
        return self.home / "cluster.id"

    @property
    def classpath_file(self) -> Path:
        return self.home / "classpath.txt"

    def pid_file(self, part: str) -> Path:
        return self.home / f"{part}.pid"

    def log_file(self, part: str) -> Path:
        return self.home / f"{part}.log"
