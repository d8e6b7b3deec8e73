"""With nothing listening at the configured address, every Kafka command says so in one line,
naming that address and what to run, in seconds (librdkafka alone retries for 10-20 s)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from tests.paths import REPO_ROOT

COMMANDS = [
    ["produce", "--count", "1"],
    ["consume", "storage", "--idle-timeout", "1"],
    ["dlq"],
    ["groups"],
    ["dlq", "replay", "--service", "storage", "--yes"],
    ["registry", "serve", "--port", "0"],
]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_a_down_broker_is_one_line_naming_the_address_and_dev_up(
    command: list[str], tmp_path
) -> None:
    address = f"127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "cli.py"), "--bootstrap-servers", address, *command],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "SCHEMA_REGISTRY_URL": "http://127.0.0.1:9"},
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: Kafka is not reachable at {address} (connection refused): start the local "
        "stack with `python cli.py dev up` (or set --bootstrap-servers / "
        "KAFKA_BOOTSTRAP_SERVERS)\n"
    )
    assert "%3|" not in result.stderr
    # Generous for a loaded machine; before, each of these waited out librdkafka's 10-15 s.
    assert elapsed < 12.0
    assert list(tmp_path.iterdir()) == []


def test_another_host_is_named_without_suggesting_the_local_stack(tmp_path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "cli.py"),
            "--bootstrap-servers",
            "kafka.invalid:9092",
            "dlq",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "Error: Kafka is not reachable at kafka.invalid:9092 (unknown host): check "
        "--bootstrap-servers / KAFKA_BOOTSTRAP_SERVERS and that the server runs\n"
    )


def test_a_down_registry_names_its_url_and_dev_up(tmp_path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "cli.py"), "--registry-url", url, "schema", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: reading the global level: cannot reach the schema registry at {url} "
        "(connection refused): start the local stack with `python cli.py dev up` (or set "
        "--registry-url / SCHEMA_REGISTRY_URL)\n"
    )
