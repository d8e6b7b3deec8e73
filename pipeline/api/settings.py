"""The HTTP API's own settings: where it listens, who may call it, its limits.

Built once by the CLI (or a test) and passed to `create_app` with the pipeline's Settings.
Authentication is optional and off by default on a loopback address; serving on any other
address needs a token or users (or an explicit `allow_open`), so a laptop's API is never
opened to the network by accident.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError

DEFAULT_PORT = 8000


@dataclass(frozen=True, kw_only=True)
class ApiSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    # Bearer token, or "user:password" pairs for basic auth; either turns authentication on.
    token: str | None = None
    users: Mapping[str, str] | None = None
    allow_open: bool = False  # serve a non-loopback address without authentication
    max_body_bytes: int = 64 * 1024
    # A client has this long to send its request headers, and again its body.
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    sample_interval_s: float = 1.0
    # The groups whose lag the dashboard draws and /metrics exports; None: the three
    # services' own, named after the topic and store as the services name them.
    groups: tuple[str, ...] | None = None
    # How many recent alerts and dead letters are kept for the feeds.
    feed_size: int = 200

    @property
    def auth_enabled(self) -> bool:
        return bool(self.token or self.users)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def check(self) -> None:
        """Refuse to serve a non-loopback address openly (ConfigError, one line)."""
        if not self.auth_enabled and not self.allow_open and not is_loopback(self.host):
            raise ConfigError(
                f"refusing to serve {self.host} without authentication: set API_TOKEN or "
                "--basic-auth-file, or pass --allow-open"
            )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_users(path: Path | None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`user:password` lines from a file, else API_BASIC_AUTH_USERS="u:p,u2:p2", else none."""
    if path is not None:
        try:
            entries = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    else:
        env = os.environ if environ is None else environ
        entries = env.get("API_BASIC_AUTH_USERS", "").split(",")
    users = {}
    for raw in entries:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user or not password:
            raise ConfigError(f"expected user:password, got {line.split(':')[0]!r}...")
        users[user] = password
    return users
