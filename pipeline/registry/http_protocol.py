"""uvicorn's HTTP/1.1 protocol (httptools' parser) with what the registry needs on top.

uvicorn neither bounds how long a client may take over its request head nor answers
malformed requests in JSON. Here: a deadline for each head (from the accept, or from the
first byte of a later request on a kept-alive connection; trickling bytes does not extend
it), a cap on a head's size (431), 501 for an unknown method as before, Confluent's error
body on every refusal made here, and each response written whole in one write. Deadlines
and idle keep-alive connections are checked by one sweep a quarter second for all
connections (`sweep`), not by two timers per request.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
MAX_HEAD_BYTES = 64 * 1024
# A well-formed request line, whatever its method (a token, RFC 9110).
REQUEST_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP/1\.[01]\r?\n")


@dataclass(frozen=True)
class Limits:
    max_body: int
    header_timeout_s: float
    max_connections: int
    keepalive_s: float = 30.0  # an idle kept-alive connection is closed after this


def refusal(status: int, message: str) -> bytes:
    """A whole response with Confluent's error body, for refusals made outside the app."""
    body = json.dumps({"error_code": status, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: {CONTENT_TYPE}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class GuardedProtocol(HttpToolsProtocol):
    limits: Limits  # set on the subclass the server makes

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_head = True
        self._head_bytes = self._head_size = 0
        self._head_began: float | None = self.loop.time()  # the first head: from the accept
        self._idle_since: float | None = None

    def sweep(self, now: float) -> None:
        """Refuse a late head, close an idle kept-alive connection (called for every one)."""
        if self.transport.is_closing():
            return
        if self._in_head and self._head_began is not None:
            if now - self._head_began > self.limits.header_timeout_s:
                self._refuse(408, "The request headers did not arrive in time")
        elif self._idle_since is not None and now - self._idle_since > self.limits.keepalive_s:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        """uvicorn's, with the head's size counted and an unknown method answered 501."""
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserInvalidMethodError:
            if REQUEST_LINE.match(data):  # RFC 9110: a method not recognised at all is 501
                self._refuse(501, "HTTP 501 Not Implemented: unknown request method")
            else:
                self._refuse(400, "Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            pass  # no protocol upgrade is served: the request is answered as it is
        except httptools.HttpParserError:
            self._refuse(400, "Invalid HTTP request received.")
            return
        # Counted only while the head is incomplete: a body sent with it is not its size.
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
            self._refuse(431, f"The request head is larger than {MAX_HEAD_BYTES} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_size, self._idle_since = True, 0, None
        if self._head_began is None:  # a later request: its deadline runs from its first byte
            self._head_began = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head, self._head_began = False, None
        if self._head_size > MAX_HEAD_BYTES:  # a whole head that arrived at once
            self._refuse(431, f"The request head is larger than {MAX_HEAD_BYTES} bytes")
            return
        super().on_headers_complete()
        if self.cycle is not None and self.scope.get("method") != "HEAD":
            self.cycle.transport = OneWrite(self.transport)  # type: ignore[assignment]

    def on_response_complete(self) -> None:
        """uvicorn's, with the keep-alive timer left to the sweep."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._in_head, self._head_bytes = True, 0  # what comes next is a new request's head
        self._idle_since = self.loop.time()

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, msg)

    def _refuse(self, status: int, message: str) -> None:
        if not self.transport.is_closing():
            self.transport.write(refusal(status, message))
            self.transport.close()


class OneWrite:
    """The transport as a response sees it: its head is held until its body is written, and
    both go out in one write. Written apart, the client reads twice and both sides wake up
    twice per request. Every response the app sends has a body (HEAD ones do not get this)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is None and data.startswith(b"HTTP/1.1 ") and data[9:12] != b"100":
            self._head = data
            return
        if self._head is not None:
            data, self._head = self._head + data, None
        self._transport.write(data)

    def close(self) -> None:
        if self._head is not None:
            self._transport.write(self._head)
            self._head = None
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
