"""`dev up --postgres` as a user drives it, and the running stack's addresses as every
command's defaults (issue 14 item 4, issue 11 item 4): one real stack, through the CLI."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.devstack.postgres_tools import find_tools
from pipeline.devstack.processes import free_port
from tests.paths import REPO_ROOT


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    # The user's own addresses must not leak in: the stack's are what is tested.
    clean = {"KAFKA_BOOTSTRAP_SERVERS": "", "SCHEMA_REGISTRY_URL": "", **(env or {})}
    result = CliRunner().invoke(cli, list(args), env=clean)
    return result.exit_code, result.output


def psql(url: str, sql: str) -> str:
    command = [find_tools().program("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    done = subprocess.run([*command, url, "-c", sql], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def project_folder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder to run commands in, like the project's; one the `postgres` user can enter
    when the tests run as root (pytest's own temporary folders are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="order-pipeline-cli-"))
    folder.chmod(0o755)
    monkeypatch.chdir(folder)
    try:
        yield folder
    finally:
        run("dev", "down")
        shutil.rmtree(folder, ignore_errors=True)


def test_dev_up_postgres_and_the_stacks_addresses_for_every_command(project_folder: Path) -> None:
    kport, rport, pport = free_port(), free_port(), free_port()
    code, out = run(
        "dev", "up", "--kafka-port", str(kport), "--controller-port", str(free_port()),
        "--registry-port", str(rport), "--postgres", "--postgres-port", str(pport),
    )  # fmt: skip
    assert code == 0, out
    url = f"postgresql://pipeline@127.0.0.1:{pport}/orders"
    assert f"PostgreSQL at {url} (read-only role: pipeline_reader)" in out

    code, out = run("dev", "status")
    assert code == 0, out
    assert f"postgres  running        {url}  pid " in out
    assert f"export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{kport}" in out.splitlines()[-3]
    assert f"export SCHEMA_REGISTRY_URL=http://127.0.0.1:{rport}" in out
    assert f"export AUDIT_STORE_URL={url}" in out

    # No flag, no environment: every command finds the stack on its own ports.
    code, out = run("schema", "list")
    assert code == 0, out
    code, out = run("schema", "register", str(REPO_ROOT / "schemas" / "order_event.v1.avsc"))
    assert code == 0, out
    code, out = run("produce", "--count", "5")
    assert code == 0, out
    # An explicit flag or environment variable still wins.
    closed = f"http://127.0.0.1:{free_port()}"
    code, out = run("schema", "list", env={"SCHEMA_REGISTRY_URL": closed})
    assert code == 1 and "Traceback" not in out
    code, out = run("--registry-url", closed, "schema", "list")
    assert code == 1

    # PostgreSQL keeps its data across down and up (`up` remembers --postgres).
    psql(url, "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('survives')")
    code, out = run("dev", "down")
    assert code == 0 and "postgres: stopped (pid " in out
    code, out = run("dev", "up")
    assert code == 0 and "postgres: started" in out, out
    assert psql(url, "SELECT note FROM kept") == "survives"

    code, out = run("dev", "reset", "--yes")
    assert code == 0, out
    assert f"data wiped: {Path('.devstack') / 'postgres-data'}" in out
    assert not (project_folder / ".devstack" / "postgres-data").exists()


def test_dev_up_on_native_windows_refuses_with_one_line_naming_both_ways(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pipeline.devstack import stack

    monkeypatch.setattr(stack, "current_platform", lambda: "win32")
    code, out = run("dev", "up", "--home", str(tmp_path / "stack"))
    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and len(out.strip().splitlines()) == 2  # "Starting..." and it
    assert "native Windows" in errors[0]
    assert "Docker Desktop" in errors[0] and "WSL" in errors[0]
    assert not (tmp_path / "stack").exists()
