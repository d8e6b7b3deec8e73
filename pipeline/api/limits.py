"""Limits on what a client may send and how slowly: a 4xx naming the problem, never a hang.

- `BodyLimit` (ASGI middleware) reads a request's body before the application sees it:
  larger than the limit → 413; not complete within the body timeout → 408. Bodies here
  are small JSON documents, so holding one in memory is the simple, safe choice.
- `HeaderDeadlineProtocol` (uvicorn's h11 protocol with one addition): a client must send
  its request headers within the header timeout, else it gets a 408 and the connection is
  closed. uvicorn bounds only idle keep-alive connections by itself, so a client trickling
  header bytes (slowloris) would otherwise hold a connection for ever.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol


def _json_message(status: int, error: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    payload = json.dumps({"error": error}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
    ]
    return payload, headers


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(send, 413, self._too_large(declared))
            return
        try:
            chunks = await asyncio.wait_for(self._read(receive), self.timeout_s)
        except TimeoutError:
            await _refuse(send, 408, f"the request body did not arrive within {self.timeout_s:g} s")
            return
        except _TooLarge as exc:
            await _refuse(send, 413, self._too_large(exc.size))
            return
        if chunks is None:  # the client went away
            return
        await self.app(scope, _replay(chunks, receive), send)

    def _too_large(self, size: int) -> str:
        return f"the request body is too large ({size} bytes; at most {self.max_bytes})"

    async def _read(self, receive: Receive) -> list[bytes] | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _TooLarge(size)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(chunks: list[bytes], receive: Receive) -> Receive:
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as a server does

    return replay


async def _refuse(send: Send, status: int, error: str) -> None:
    payload, headers = _json_message(status, error)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, with a deadline on each request's headers."""

    header_timeout_s = 10.0

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm()  # bytes of a new request: its headers are now on the clock
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the headers are complete

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a response is being written; its own timeouts apply
        error = f"the request headers did not arrive within {self.header_timeout_s:g} s"
        payload, headers = _json_message(408, error)
        head = b"HTTP/1.1 408 Request Timeout\r\n"
        head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(head + b"\r\n" + payload)
        self.transport.close()


def header_deadline_protocol(timeout_s: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class with this deadline (uvicorn builds one instance per connection)."""
    return type("HeaderDeadline", (HeaderDeadlineProtocol,), {"header_timeout_s": timeout_s})
