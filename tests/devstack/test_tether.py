"""A test run killed outright (SIGKILL: no `finally` runs) leaves no server behind: the test
session's broker and PostgreSQL die with it. `dev up`'s own processes outlive the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.devstack.processes import free_port, wait_until
from tests.paths import REPO_ROOT

SESSION = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pipeline.devstack import testing

    helper = getattr(testing, sys.argv[1])
    with helper(Path(sys.argv[2])):
        print("ready", flush=True)
        time.sleep(600)
    """
)


def descendants(parent: int) -> list[int]:
    return [child.pid for child in psutil.Process(parent).children(recursive=True)]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.faults
@pytest.mark.parametrize("helper", ["running_test_broker", "running_test_postgres"])
def test_a_killed_test_session_takes_its_server_with_it(tmp_path: Path, helper: str) -> None:
    session = subprocess.Popen(
        [sys.executable, "-c", SESSION, helper, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    servers: list[int] = []
    try:
        assert session.stdout is not None
        assert session.stdout.readline().strip() == "ready"
        servers = descendants(session.pid)
        assert servers, "the helper started no process"
        session.send_signal(signal.SIGKILL)
        session.wait(timeout=10)
        assert wait_until(lambda: all(gone(pid) for pid in servers), 60), (
            f"still running after the session was killed: {servers}"
        )
    finally:
        session.kill()
        for pid in servers:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_dev_ups_broker_outlives_the_command_that_started_it(tmp_path: Path) -> None:
    home = str(tmp_path / "stack")
    ports = ["--kafka-port", str(free_port()), "--controller-port", str(free_port())]
    try:
        command = [sys.executable, str(REPO_ROOT / "cli.py"), "dev", "up", "--home", home]
        command += ["--no-registry", *ports]
        code = subprocess.run(command, capture_output=True, timeout=300).returncode
        assert code == 0
        pid = int((Path(home) / "kafka.pid").read_text())
        assert not gone(pid)
    finally:
        CliRunner().invoke(cli, ["dev", "down", "--home", home])
