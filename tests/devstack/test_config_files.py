"""Pure checks of what the dev stack writes and parses (no broker needed)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from pipeline.config import DEFAULT_BOOTSTRAP, DEFAULT_REGISTRY_URL
from pipeline.devstack import jars, kafka, postgres
from pipeline.devstack.layout import DevStackSettings
from pipeline.errors import MissingToolError
from tests.paths import REPO_ROOT as PROJECT_ROOT


def test_server_properties_describe_one_kraft_node_on_the_chosen_ports(tmp_path: Path) -> None:
    settings = DevStackSettings(home=tmp_path, kafka_port=19092, controller_port=19093)
    props = dict(
        line.split("=", 1) for line in kafka.server_properties(settings).splitlines() if line
    )
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["log.dirs"] == str((tmp_path / "kafka-data").resolve())
    assert props["offsets.topic.replication.factor"] == "1"


def test_cluster_id_is_a_uuid_in_kafkas_base64_form_never_starting_with_a_dash() -> None:
    # One random id in 64 would start with "-", which the storage tool takes for an option.
    for _ in range(2_000):
        cluster_id = kafka.new_cluster_id()
        assert len(cluster_id) == 22
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
        assert not cluster_id.startswith("-")


def test_java_version_is_read_from_both_version_styles(tmp_path: Path) -> None:
    for printed, major in (
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_392"', 8),
    ):
        fake = tmp_path / f"java{major}"
        fake.write_text(f"#!/bin/sh\necho '{printed}' >&2\n")
        fake.chmod(0o755)
        assert jars.java_major_version(str(fake)) == major


def test_old_java_is_refused_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\"' >&2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(MissingToolError, match=r"Java 11 found .* needs Java 17 or newer"):
        jars.java_executable()


def test_pinned_kafka_is_a_4x_release() -> None:
    pom = (PROJECT_ROOT / "pipeline/devstack/pom.xml").read_text()
    version = pom.split("<kafka.version>")[1].split("<")[0]
    assert version.startswith("4.")


def test_docker_compose_agrees_with_the_cli_defaults() -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    kafka_port = DEFAULT_BOOTSTRAP.rsplit(":", 1)[1]
    registry_port = DEFAULT_REGISTRY_URL.rsplit(":", 1)[1]
    assert f"{kafka_port}:{kafka_port}" in services["kafka"]["ports"]
    assert f"{registry_port}:{registry_port}" in services["schema-registry"]["ports"]
    kafka_env = services["kafka"]["environment"]
    assert f"PLAINTEXT://localhost:{kafka_port}" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert "confluentinc/cp-schema-registry" in services["schema-registry"]["image"]
    registry_env = services["schema-registry"]["environment"]
    assert registry_env["SCHEMA_REGISTRY_KAFKASTORE_TOPIC"] == "_schemas"
    assert DevStackSettings().kafka_port == int(kafka_port)
    assert DevStackSettings().registry_port == int(registry_port)


def test_docker_composes_postgres_agrees_with_dev_up_postgres() -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["postgres"]
    port = DevStackSettings().postgres_port
    assert port == 5432
    assert service["ports"] == [f"127.0.0.1:{port}:{port}"]  # trust auth: loopback only
    assert service["environment"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    assert service["environment"]["POSTGRES_USER"] == postgres.SUPERUSER
    # The same script makes the database and roles in both stacks.
    script, target = service["volumes"][1].split(":")[:2]
    assert (PROJECT_ROOT / script).resolve() == postgres.INIT_SQL
    assert target.startswith("/docker-entrypoint-initdb.d/")
    sql = postgres.INIT_SQL.read_text()
    assert f"CREATE DATABASE {postgres.DATABASE} OWNER {postgres.WRITER}" in sql
    assert f"GRANT pg_read_all_data TO {postgres.READER}" in sql
    assert int(service["image"].split(":")[1]) >= 14  # pg_read_all_data
