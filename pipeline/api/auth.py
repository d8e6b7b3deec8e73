"""Optional authentication: a bearer token or HTTP basic users, checked on every path but
the probes (`/health`, `/ready`), which orchestrators call without credentials.

The browser's EventSource cannot send an Authorization header; with basic auth the browser
sends the credentials it was given for the page, and with a token the dashboard may pass
it as `?token=` (compared the same way).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from pipeline.api.limits import _refuse

OPEN_PATHS = frozenset(("/health", "/ready"))


class Authentication:
    def __init__(self, app: ASGIApp, *, token: str | None, users: Mapping[str, str]) -> None:
        self.app = app
        self.token = token
        self.users = dict(users)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        challenge = 'Basic realm="order-pipeline"' if self.users else "Bearer"
        await _refuse_with(send, challenge)

    def _allowed(self, scope: Scope) -> bool:
        header = _header(scope, b"authorization")
        scheme, _, credentials = header.partition(" ")
        if self.token:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            offered = credentials if scheme.lower() == "bearer" else query.get("token", [""])[0]
            if offered and hmac.compare_digest(offered.encode(), self.token.encode()):
                return True
        if self.users and scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(credentials).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            known = self.users.get(user)
            return known is not None and hmac.compare_digest(password.encode(), known.encode())
        return False


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


async def _refuse_with(send: Send, challenge: str) -> None:
    # The 401 must carry the challenge, so the JSON refusal is sent with one more header.
    async def with_challenge(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message["headers"], (b"www-authenticate", challenge.encode())]
        await send(message)

    await _refuse(with_challenge, 401, "authentication required")
