"""Throwaway servers for test sessions: free ports, a temporary folder, stopped in `finally`.

They are tethered: a test run killed outright (SIGKILL) takes them with it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.devstack import parts, postgres, stack
from pipeline.devstack.layout import DevStackSettings
from pipeline.devstack.postgres_tools import ensure_reachable, find_tools
from pipeline.devstack.processes import free_port
from pipeline.errors import DevStackError


def test_stack_settings(home: Path, **overrides: object) -> DevStackSettings:
    """Settings for a stack of its own in `home`, on ports no one else uses."""
    values: dict[str, object] = {
        "home": home,
        "kafka_port": free_port(),
        "controller_port": free_port(),
        "registry_port": free_port(),
        "postgres_port": free_port(),
        "heap": "512m",
        "with_registry": False,
        "tethered": True,
    }
    values.update(overrides)
    return DevStackSettings(**values)  # type: ignore[arg-type]


@contextmanager
def running_test_broker(home: Path) -> Iterator[str]:
    """Start a broker in `home` and yield its bootstrap address; always stop it."""
    settings = test_stack_settings(home)
    try:
        stack.start_kafka(settings)
        yield settings.bootstrap
    finally:
        stack.down(settings)


@contextmanager
def running_test_postgres(home: Path) -> Iterator[str]:
    """Start PostgreSQL in `home` and yield the URL of its database `orders` (role `pipeline`,
    which owns it and may create throwaway databases; `pipeline_reader` reads only: see
    `postgres.read_only_url`). Always stopped and its data removed.

    Run as root, the server runs as the `postgres` user, which may not be able to enter
    `home` (pytest's temporary folders are root's alone): it then gets a folder of its own
    in the system's temporary folder.
    """
    own_folder = None
    if not _server_user_can_enter(home):
        own_folder = Path(tempfile.mkdtemp(prefix="order-pipeline-pg-"))
        own_folder.chmod(0o755)
    settings = test_stack_settings(own_folder or home)
    try:
        postgres.start(settings)
        yield postgres.url(settings)
    finally:
        parts.stop(settings, postgres.PART)
        if own_folder is not None:
            shutil.rmtree(own_folder, ignore_errors=True)


def _server_user_can_enter(home: Path) -> bool:
    tools = find_tools()
    home.mkdir(parents=True, exist_ok=True)
    try:
        ensure_reachable(tools, home / "postgres-data")
    except DevStackError:
        return False
    return os.access(home, os.W_OK)
