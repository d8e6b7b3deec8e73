"""Loading basic-auth users and checking headers, pure."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.registry.auth import BasicAuth, load_users, load_users_env, load_users_file


def header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_file_lines_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("# admins\nalice:s3cret:with:colons\n\nbob:pw\n")
    assert dict(load_users_file(path)) == {"alice": "s3cret:with:colons", "bob": "pw"}


def test_bad_file_line_names_its_place(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("alice\n")
    with pytest.raises(ConfigError, match=r"users:1: expected user:password"):
        load_users_file(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read basic-auth file"):
        load_users_file(tmp_path / "absent")


def test_environment_and_precedence(tmp_path: Path) -> None:
    env = {"SCHEMA_REGISTRY_BASIC_AUTH_USERS": "u:p, u2:p2"}
    assert dict(load_users_env(env) or {}) == {"u": "p", "u2": "p2"}
    assert load_users_env({}) is None
    path = tmp_path / "users"
    path.write_text("file:user\n")
    assert dict(load_users(path, env) or {}) == {"file": "user"}
    assert dict(load_users(None, env) or {}) == {"u": "p", "u2": "p2"}


def test_header_check() -> None:
    auth = BasicAuth({"u": "p"})
    assert auth.allows(header("u", "p")) is True
    assert auth.allows(header("u", "wrong")) is False
    assert auth.allows(None) is False
    assert auth.allows("Bearer abc") is False


def test_every_user_is_compared_whichever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Constant time across users: a match on the first user costs as much as no match, so
    timing tells nothing about which users exist or where they are in the list."""
    import hmac

    compared: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(a)
        return real(a, b)

    auth = BasicAuth({"u1": "p1", "u2": "p2", "u3": "p3"})
    monkeypatch.setattr(hmac, "compare_digest", counting)
    for given in (header("u1", "p1"), header("u3", "p3"), header("u9", "p9"), "Basic ???"):
        compared.clear()
        auth.allows(given)
        assert len(compared) == 3, given
