"""The local stack as a user drives it, through the CLI, against a real broker of its own."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.config import Settings
from pipeline.devstack.processes import free_port
from tests.order_helpers import produce_raw, read_all


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def kafka_pid(home: Path) -> int:
    return int((home / "kafka.pid").read_text())


def test_broker_lifecycle_up_status_down_restart_and_reset(tmp_path: Path) -> None:
    home = str(tmp_path / "stack")
    kport, cport = free_port(), free_port()
    ports = ["--kafka-port", str(kport), "--controller-port", str(cport)]
    bootstrap = f"127.0.0.1:{kport}"

    code, out = run("dev", "up", "--home", home, *ports, "--no-registry")
    assert code == 0, out
    assert "kafka: started" in out
    code, out = run("dev", "up", "--home", home, "--no-registry")
    assert code == 0 and "kafka: already running" in out

    kept = Settings(bootstrap_servers=bootstrap)
    produce_raw(kept, "kept", [(None, b"survives restarts")])
    code, out = run("dev", "status", "--home", home)
    assert code == 0
    assert f"kafka     running        {bootstrap}  pid {kafka_pid(Path(home))}" in out
    assert "topics: kept" in out

    pid = kafka_pid(Path(home))
    code, out = run("dev", "down", "--home", home)
    assert code == 0 and f"kafka: stopped (pid {pid})" in out
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    code, out = run("dev", "up", "--home", home, "--no-registry")
    assert code == 0 and "kafka: started" in out
    assert [m.value() for m in read_all(kept, "kept", 1)] == [b"survives restarts"]

    # A broker that dies behind our back: status says so, and `up` recovers.
    os.kill(kafka_pid(Path(home)), signal.SIGKILL)
    psutil.Process(kafka_pid(Path(home))).wait(timeout=10)
    code, out = run("dev", "status", "--home", home)
    assert code == 1 and "kafka     died" in out
    code, out = run("dev", "up", "--home", home, "--no-registry")
    assert code == 0 and "kafka: started" in out

    code, out = run("dev", "reset", "--home", home)
    assert code == 2 and "--yes" in out
    code, out = run("dev", "reset", "--home", home, "--yes")
    assert code == 0 and "data wiped" in out
    assert not (Path(home) / "kafka-data").exists()
    assert not (Path(home) / "kafka.pid").exists()


def test_a_taken_port_is_named_and_nothing_is_left_running(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        code, out = run(
            "dev",
            "up",
            "--home",
            str(tmp_path),
            "--no-registry",
            "--kafka-port",
            str(taken),
            "--controller-port",
            str(free_port()),
        )
    assert code == 1
    assert f"Error: port {taken} (Kafka broker) is already in use by " in out
    assert f"(pid {os.getpid()})" in out
    assert "Traceback" not in out
    assert not (tmp_path / "kafka.pid").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JAVA_HOME": "", "PATH": "/nonexistent"}, "Error: Java not found"),
        ({"PATH": "/nonexistent"}, "Error: Maven (mvn) not found"),
    ],
)
def test_missing_tools_get_one_clear_line(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    env = {"JAVA_HOME": os.environ.get("JAVA_HOME") or "/usr/lib/jvm/java-17-openjdk-amd64", **env}
    ports = ["--kafka-port", str(free_port()), "--controller-port", str(free_port())]
    code, out = run("dev", "up", "--home", str(tmp_path), "--no-registry", *ports, env=env)
    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and errors[0].startswith(message)
    assert "Traceback" not in out
    assert not (tmp_path / "classpath.txt").exists()
