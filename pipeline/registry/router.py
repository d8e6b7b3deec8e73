"""Matching `METHOD /path` to a handler, and the request a handler receives.

Paths are split on '/' before percent-decoding, so a subject may contain an encoded '/'.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from pipeline.registry.errors import BadRequest, MethodNotAllowed, NotFound, Unprocessable


@dataclass
class Request:
    method: str
    params: dict[str, str]
    query: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    def text(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        """A boolean query parameter: true/True/false/False (any case); absent is false."""
        raw = self.text(name)
        if raw is None:
            return False
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise BadRequest(f"Query parameter '{name}' must be true or false, got {raw!r}")

    def number(self, name: str, default: int) -> int:
        raw = self.text(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise BadRequest(f"Query parameter '{name}' must be an integer, got {raw!r}") from None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object: 400 if it is not JSON, 422 if it is not an object."""
        if not self.body.strip():
            raise Unprocessable("The request body is empty; a JSON object is expected")
        try:
            data = json.loads(self.body)
        except ValueError as exc:  # also UnicodeDecodeError
            raise BadRequest(f"The request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise BadRequest("The request body nests too deeply to be read") from None
        if not isinstance(data, dict):
            raise Unprocessable(
                f"The request body must be a JSON object, not {type(data).__name__}"
            )
        return data


Handler = Callable[[Any, Request], Any]


@dataclass(frozen=True)
class Route:
    method: str
    parts: tuple[str, ...]  # literal segments, or "{name}" for a parameter
    handler: Handler


class Router:
    def __init__(self, routes: Sequence[Route]) -> None:
        self._by_length: dict[int, list[Route]] = {}
        for route in routes:
            self._by_length.setdefault(len(route.parts), []).append(route)

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        segments = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
        allowed: list[str] = []
        for route in self._by_length.get(len(segments), ()):
            params = bind(route.parts, segments)
            if params is None:
                continue
            if route.method == method:
                return route.handler, params
            allowed.append(route.method)
        if allowed:
            raise MethodNotAllowed(
                f"HTTP 405 Method Not Allowed: {method} {path}", tuple(sorted(set(allowed)))
            )
        raise NotFound(f"HTTP 404 Not Found: {path}")


def bind(parts: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for part, segment in zip(parts, segments, strict=True):
        if part.startswith("{"):
            params[part[1:-1]] = segment
        elif part != segment:
            return None
    return params


def route(method: str, template: str, handler: Handler) -> Route:
    parts = tuple(p for p in template.strip("/").split("/") if p)
    return Route(method, parts, handler)


def parse_query(raw: str) -> dict[str, list[str]]:
    return parse_qs(raw, keep_blank_values=True) if raw else {}
