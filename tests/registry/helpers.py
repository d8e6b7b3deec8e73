"""Small helpers shared by the registry tests: schema builders, raw HTTP, own servers."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from pipeline.registry.embedded import embedded_registry
from pipeline.registry.server import RegistryServer
from tests.paths import REPO_ROOT


def record(name: str, *fields: dict[str, Any]) -> str:
    """An Avro record schema as text."""
    return json.dumps({"type": "record", "name": name, "fields": list(fields)})


def field(name: str, type_: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def call(
    url: str,
    method: str,
    path: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, Any]:
    """One HTTP request; returns (status, parsed JSON body or raw text)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        raw = body if isinstance(body, bytes | None) else json.dumps(body).encode()
        sent = {"Content-Type": "application/vnd.schemaregistry.v1+json", **(headers or {})}
        conn.request(method, path, body=raw, headers=sent)
        response = conn.getresponse()
        text = response.read().decode()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text
    finally:
        conn.close()


def register(url: str, subject: str, schema: str, **extra: Any) -> dict[str, Any]:
    status, body = call(url, "POST", f"/subjects/{subject}/versions", {"schema": schema, **extra})
    assert status == 200, body
    return dict(body)


@contextmanager
def own_server(bootstrap: str, topic: str | None = None, **config: Any) -> Iterator[RegistryServer]:
    """A registry of this test's own, on a free port and (by default) a fresh topic."""
    with embedded_registry(bootstrap, topic=topic, **config) as server:
        yield server


@contextmanager
def serving_process(command: list[str]) -> Iterator[subprocess.Popen[str]]:
    """`command` (one that serves a registry) run from the repository as a process of its
    own, unbuffered, without basic auth; killed at the end if it still runs."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SCHEMA_REGISTRY_BASIC_AUTH_USERS", None)
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
