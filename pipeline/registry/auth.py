"""HTTP basic auth for the registry: credentials from a file or the environment, and the check.

File: one `user:password` a line; blank lines and lines starting with '#' are skipped.
Environment: SCHEMA_REGISTRY_BASIC_AUTH_USERS="user:password,user2:password2".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from pipeline.errors import ConfigError

ENV_USERS = "SCHEMA_REGISTRY_BASIC_AUTH_USERS"


def parse_pair(text: str, where: str) -> tuple[str, str]:
    user, sep, password = text.strip().partition(":")
    if not sep or not user or not password:
        raise ConfigError(f"{where}: expected user:password")
    return user, password


def load_users_file(path: Path) -> Mapping[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read basic-auth file {path}: {exc.strerror}") from exc
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            user, password = parse_pair(line, f"{path}:{number}")
            users[user] = password
    if not users:
        raise ConfigError(f"basic-auth file {path} names no users")
    return MappingProxyType(users)


def load_users_env(environ: Mapping[str, str] | None = None) -> Mapping[str, str] | None:
    """Users from SCHEMA_REGISTRY_BASIC_AUTH_USERS, or None when it is unset or empty."""
    raw = (os.environ if environ is None else environ).get(ENV_USERS, "").strip()
    if not raw:
        return None
    pairs = [parse_pair(item, ENV_USERS) for item in raw.split(",") if item.strip()]
    return MappingProxyType(dict(pairs))


def load_users(
    path: Path | None, environ: Mapping[str, str] | None = None
) -> Mapping[str, str] | None:
    """The file wins over the environment; None means the registry runs without auth."""
    return load_users_file(path) if path is not None else load_users_env(environ)


class BasicAuth:
    """Checks an Authorization header against the allowed users in constant time: digests of
    equal length, and every user compared whichever matches, so the time taken says nothing
    about which users exist, where they stand in the list, or how much of a guess was right."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._expected = [
            _digest(f"Basic {base64.b64encode(f'{u}:{p}'.encode()).decode()}")
            for u, p in users.items()
        ]

    def allows(self, header: str | None) -> bool:
        given = _digest((header or "").strip())
        matched = False
        for expected in self._expected:
            matched |= hmac.compare_digest(given, expected)
        return matched and bool(header)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()
