"""PostgreSQL from the machine's own server programs: the test-session helper and the
checks around it (no Docker)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import psutil
import pytest

from pipeline.devstack import postgres
from pipeline.devstack.postgres_tools import (
    INSTALL_HINT,
    SERVER_USER,
    ServerTools,
    can_enter,
    ensure_reachable,
    find_tools,
)
from pipeline.devstack.testing import running_test_postgres
from pipeline.errors import DevStackError, MissingToolError


def psql(url: str, sql: str) -> subprocess.CompletedProcess[str]:
    command = [find_tools().program("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    return subprocess.run([*command, url, "-c", sql], capture_output=True, text=True, timeout=60)


def test_a_test_postgres_has_a_writable_database_a_read_only_role_and_is_stopped_after(
    tmp_path: Path,
) -> None:
    with running_test_postgres(tmp_path) as url:
        assert url.startswith("postgresql://pipeline@127.0.0.1:") and url.endswith("/orders")
        written = psql(url, "CREATE TABLE t (n int); INSERT INTO t VALUES (7); SELECT n FROM t")
        assert written.returncode == 0, written.stderr
        assert written.stdout.split() == ["7"]
        reader = postgres.read_only_url(url)
        assert psql(reader, "SELECT n FROM t").stdout.split() == ["7"]
        refused = psql(reader, "DELETE FROM t")
        assert refused.returncode != 0 and "read-only" in refused.stderr
        roles = psql(url, "SELECT rolname, rolsuper FROM pg_roles WHERE rolname LIKE 'pipeline%'")
        assert sorted(roles.stdout.split()) == ["pipeline_reader|f", "pipeline|f"]
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        listening = [
            c.pid
            for c in psutil.net_connections("inet")
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
        ]
        assert len(listening) == 1 and listening[0] is not None
        server = listening[0]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            assert psutil.Process(server).username() == "postgres"
    assert not psutil.pid_exists(server) or psutil.Process(server).status() == "zombie"


def test_missing_server_programs_are_one_line_saying_how_to_install_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError) as caught:
        find_tools(known_folders=())
    assert str(caught.value) == INSTALL_HINT
    assert "apt-get install postgresql" in INSTALL_HINT and "brew install" in INSTALL_HINT


def test_who_may_enter_a_folder_follows_owner_group_and_other_bits(tmp_path: Path) -> None:
    info = os.stat(tmp_path)
    owner, group = info.st_uid, info.st_gid
    tmp_path.chmod(0o710)
    info = os.stat(tmp_path)
    assert can_enter(info, owner, set())
    assert can_enter(info, owner + 1, {group})
    assert not can_enter(info, owner + 1, {group + 1})
    tmp_path.chmod(0o701)
    assert can_enter(os.stat(tmp_path), owner + 1, set())


def test_a_folder_the_server_user_cannot_enter_is_named_before_anything_starts(
    tmp_path: Path,
) -> None:
    """pytest's temporary folders are their owner's alone (0700): the `postgres` user that
    root runs the server as cannot enter them."""
    tools = ServerTools(find_tools().bindir, SERVER_USER)
    with pytest.raises(DevStackError, match=r"runs as the `postgres` user .* cannot enter /"):
        ensure_reachable(tools, tmp_path / "stack" / "postgres-data")
    reachable = Path(tempfile.mkdtemp(prefix="order-pipeline-reach-"))
    try:
        reachable.chmod(0o755)
        ensure_reachable(tools, reachable / "postgres-data")
    finally:
        reachable.rmdir()
