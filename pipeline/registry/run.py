"""`cli.py registry serve`: settings → a running registry until Ctrl-C or SIGTERM → a summary."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Settings
from pipeline.registry.auth import load_users
from pipeline.registry.server import RegistryConfig, RegistryServer


@dataclass(frozen=True)
class ServeSummary:
    url: str
    seconds: float
    subjects: int
    schemas: int


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    topic: str,
    basic_auth_file: Path | None,
    on_started: Callable[[str], None],
) -> ServeSummary:
    """Serve until stopped; basic-auth users from the file, else from the environment."""
    config = RegistryConfig(
        bootstrap_servers=settings.bootstrap_servers,
        host=host,
        port=port,
        topic=topic,
        client_properties=settings.client_properties,
        basic_auth=load_users(basic_auth_file),
    )
    server = RegistryServer(config)
    began = time.monotonic()
    server.serve_forever(on_started=on_started)
    subjects, schemas = server.counts()
    return ServeSummary(server.url, time.monotonic() - began, subjects, schemas)
