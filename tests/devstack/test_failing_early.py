"""The local stack fails early and cleanly (issue 10, item 11): a taken port is found before
anything starts, nothing half-started stays, `dev status` says when a part is missing,
`dev reset` wipes only this stack's data, and a process is this stack's only if its marker
names this very folder."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.devstack import processes, stack
from pipeline.devstack.layout import DevStackSettings
from pipeline.devstack.processes import free_port


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def ports() -> list[str]:
    return ["--kafka-port", str(free_port()), "--controller-port", str(free_port())]


def test_a_taken_registry_port_is_found_before_kafka_starts(tmp_path: Path) -> None:
    home = str(tmp_path / "stack")
    try:
        with socket.socket() as blocker:
            blocker.bind(("127.0.0.1", 0))
            blocker.listen()
            taken = blocker.getsockname()[1]
            code, out = run("dev", "up", "--home", home, *ports(), "--registry-port", str(taken))
        assert code == 1, out
        assert f"Error: port {taken} (schema registry) is already in use" in out
        assert "Traceback" not in out
        # Kafka was never started: no pid file, not even a log.
        assert not (tmp_path / "stack" / "kafka.pid").exists()
        assert not (tmp_path / "stack" / "kafka.log").exists()
        code, out = run("dev", "status", "--home", home)
        assert code == 0 and "kafka     stopped" in out
    finally:
        run("dev", "down", "--home", home)


def test_status_fails_while_a_part_the_last_up_started_is_missing(tmp_path: Path) -> None:
    settings = DevStackSettings(
        home=tmp_path / "stack",
        kafka_port=free_port(),
        controller_port=free_port(),
        registry_port=free_port(),
    )
    try:
        stack.up(settings)
        home = str(settings.home)
        code, out = run("dev", "status", "--home", home)
        assert code == 0, out
        # The registry stopped and its pid file removed, as a failed start leaves it.
        registry_pid = int((settings.home / "registry.pid").read_text())
        processes.stop_process(registry_pid, 30)
        (settings.home / "registry.pid").unlink()
        code, out = run("dev", "status", "--home", home)
        assert code == 1
        assert "registry  stopped" in out
        assert "registry is not running though the last `dev up` started it." in out
    finally:
        stack.down(settings)


def test_reset_refuses_a_data_folder_that_is_not_this_stacks(tmp_path: Path) -> None:
    home, data = tmp_path / "stack", tmp_path / "my-documents"
    data.mkdir()
    (data / "thesis.txt").write_text("years of work")
    code, out = run("dev", "reset", "--yes", "--home", str(home), "--data-dir", str(data))
    assert code == 1
    assert f"Error: refusing to wipe {data}: it does not hold this stack's Kafka data" in out
    assert (data / "thesis.txt").read_text() == "years of work"


def test_reset_refuses_a_postgres_folder_that_is_not_this_stacks(tmp_path: Path) -> None:
    home = tmp_path / "stack"
    (home / "postgres-data").mkdir(parents=True)
    (home / "postgres-data" / "PG_VERSION").write_text("15\n")  # someone else's cluster
    code, out = run("dev", "reset", "--yes", "--home", str(home))
    assert code == 1
    assert "refusing to wipe" in out and "not this stack's PostgreSQL data" in out
    assert (home / "postgres-data" / "PG_VERSION").exists()


def test_a_process_is_this_stacks_only_if_its_marker_names_this_very_folder(
    tmp_path: Path,
) -> None:
    ours, neighbour = tmp_path / "stack", tmp_path / "stack2"
    ours.mkdir()
    # The neighbour stack's process, its pid written (by mistake or reuse) in our pid file.
    mark = processes.marker(neighbour)
    sleeper = subprocess.Popen([sys.executable, "-X", mark, "-c", "import time; time.sleep(60)"])
    try:
        pid_file = ours / "registry.pid"
        pid_file.write_text(f"{sleeper.pid}\n")
        assert processes.find_running(pid_file, processes.marker(ours)) is None
        pid_file.write_text(f"{sleeper.pid}\n")
        assert processes.find_running(pid_file, mark) is not None
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        (["java", "-Dorderpipeline.devstack=/a/stack", "kafka.Kafka"], True),
        (["java", "-Dorderpipeline.devstack=/a/stack2", "kafka.Kafka"], False),
        (["java", "-Dorderpipeline.devstack=/a/stack/sub", "kafka.Kafka"], False),
        (["python", "-X", "orderpipeline.devstack=/a/stack", "-m", "pipeline.registry"], True),
        (["python", "-X", "orderpipeline.devstack=/a/stack-old", "-m", "x"], False),
    ],
)
def test_the_marker_is_matched_as_a_whole_argument(cmdline: list[str], expected: bool) -> None:
    assert processes.carries_marker(cmdline, "orderpipeline.devstack=/a/stack") is expected
