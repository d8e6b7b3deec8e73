"""Optional authentication: a bearer token or basic users; off on loopback by default,
required (or explicitly waived) off loopback. Probes stay open."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from pipeline.api.server import running_api
from pipeline.api.settings import ApiSettings, read_users
from pipeline.config import Settings
from pipeline.errors import ConfigError


def test_a_token_is_required_once_set(settings: Settings) -> None:
    api = ApiSettings(port=0, token="s3cret")
    with running_api(settings, api) as url, httpx.Client(base_url=url) as http:
        refused = http.get("/orders")
        assert refused.status_code == 401
        assert refused.json() == {"error": "authentication required"}
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert http.get("/health").status_code == 200
        assert http.get("/ready").status_code in (200, 503)  # a probe: no credentials
        wrong = http.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = http.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200
        # EventSource cannot send headers: the page passes the token in the query.
        assert http.get("/live", params={"token": "s3cret"}).status_code == 200


def test_basic_users(settings: Settings, tmp_path: Path) -> None:
    users_file = tmp_path / "users"
    users_file.write_text("# who may call\nada:lovelace\n")
    users = read_users(users_file)
    api = ApiSettings(port=0, users=users)
    with running_api(settings, api) as url, httpx.Client(base_url=url) as http:
        refused = http.get("/live")
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Basic")
        assert http.get("/live", auth=("ada", "wrong")).status_code == 401
        assert http.get("/live", auth=("ada", "lovelace")).status_code == 200


def test_loopback_is_open_by_default_and_other_addresses_are_not() -> None:
    ApiSettings(host="127.0.0.1").check()
    ApiSettings(host="localhost").check()
    ApiSettings(host="::1").check()
    with pytest.raises(ConfigError, match="without authentication"):
        ApiSettings(host="0.0.0.0").check()
    ApiSettings(host="0.0.0.0", token="t").check()
    ApiSettings(host="0.0.0.0", allow_open=True).check()


def test_a_bad_users_line_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "users"
    bad.write_text("justaname\n")
    with pytest.raises(ConfigError, match="expected user:password"):
        read_users(bad)
    assert read_users(None, {"API_BASIC_AUTH_USERS": "a:b, c:d"}) == {"a": "b", "c": "d"}
