"""The HTTP side: a threaded stdlib server speaking HTTP/1.1 keep-alive, errors as JSON.

Each response goes out in one write with Nagle off: with two writes (headers, body) a
keep-alive client can wait for a delayed ACK, ~40 ms per request. Request headers are
parsed here rather than by the email package, which cost a fifth of a lookup's CPU.

Slow or many clients cannot hold it: open connections are capped (the rest get a 503 and
are closed at once), and a request's headers must arrive by a deadline that a reaper
thread enforces, so trickling a byte at a time does not extend it. `100 Continue` is sent
only when the body is about to be read: after auth, routing and the size check.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pipeline.registry.auth import BasicAuth
from pipeline.registry.errors import (
    ApiError,
    LengthRequired,
    MethodNotAllowed,
    PayloadTooLarge,
    Unauthorized,
    Unprocessable,
    status_and_code,
)
from pipeline.registry.operations import Registry
from pipeline.registry.router import Request, Router, parse_query
from pipeline.registry.routes import Raw

log = logging.getLogger(__name__)
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
MAX_HEADERS, MAX_LINE = 100, 65536
KEEPALIVE_S = 30.0  # an idle kept-alive connection is closed after this
REAP_EVERY_S = 0.25


@dataclass(frozen=True)
class Limits:
    max_body: int
    header_timeout_s: float
    max_connections: int


def error_response(status: int, message: str) -> bytes:
    """A whole response with Confluent's error body, for the refusals made outside a handler."""
    body = json.dumps({"error_code": status, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: {CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class Server(ThreadingHTTPServer):
    """Tracks open connections (to cap them, to end idle keep-alive threads in `close_all`)
    and the deadline of each request head being read."""

    daemon_threads = True
    request_queue_size = 128
    registry: Registry  # set before serving

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        router: Router,
        auth: BasicAuth | None,
        limits: Limits,
    ) -> None:
        super().__init__(address, handler)
        self.router, self.auth, self.limits = router, auth, limits
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.open_count = 0
        self.deadlines: dict[socket.socket, float] = {}
        self._reaper_stop = threading.Event()
        self._date: tuple[int, str] = (0, "")

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            full = self.open_count >= self.limits.max_connections
            if not full:
                self.open_count += 1
                self.deadlines[request] = time.monotonic() + self.limits.header_timeout_s
        if full:
            limit = self.limits.max_connections
            with contextlib.suppress(OSError):  # best effort: the client may be gone
                request.send(error_response(503, f"More than {limit} open connections"))
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._released(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._released(request)

    def _released(self, request: Any) -> None:
        with self.connections_lock:
            self.open_count -= 1
            self.deadlines.pop(request, None)

    def expect_head(self, conn: socket.socket, within_s: float) -> None:
        with self.connections_lock:
            self.deadlines[conn] = time.monotonic() + within_s

    def head_read(self, conn: socket.socket) -> None:
        with self.connections_lock:
            self.deadlines.pop(conn, None)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        reaper = threading.Thread(target=self._reap, name="registry-http-reaper", daemon=True)
        reaper.start()
        try:
            super().serve_forever(poll_interval)
        finally:
            self._reaper_stop.set()
            reaper.join(timeout=5)

    def _reap(self) -> None:
        """Close connections whose request head is late (a 408 first, if it can be sent)."""
        late = error_response(408, "The request headers did not arrive in time")
        while not self._reaper_stop.wait(REAP_EVERY_S):
            now = time.monotonic()
            with self.connections_lock:
                expired = [conn for conn, due in self.deadlines.items() if due <= now]
                for conn in expired:
                    del self.deadlines[conn]
            for conn in expired:
                with contextlib.suppress(OSError):  # gone already
                    conn.send(late, socket.MSG_DONTWAIT)
                    conn.shutdown(socket.SHUT_RDWR)

    def date(self) -> str:
        """The Date header, formatted at most once a second."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, formatdate(now, usegmt=True))
        return self._date[1]

    def close_all(self) -> None:
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):  # already gone
                    conn.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = KEEPALIVE_S  # a read (an idle wait, a body) waits at most this
    server: Server
    fields: dict[str, str]  # request headers, names in lower case
    body_read: bool  # whether this request's body was consumed from the connection
    continue_expected: bool  # whether the client waits for 100 Continue before its body
    raw_requestline: bytes  # set by the stdlib before parse_request
    served: int = 0

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def handle_one_request(self) -> None:
        if self.served:
            # The deadline of the first request runs from the accept; a later one's from
            # the end of the previous answer, the idle wait of keep-alive included.
            wait = KEEPALIVE_S + self.server.limits.header_timeout_s
            self.server.expect_head(self.connection, wait)
        self.served += 1
        try:
            super().handle_one_request()
        finally:
            self.server.head_read(self.connection)

    def parse_request(self) -> bool:
        """Request line and headers; False (after answering) if they are malformed."""
        self.command, self.close_connection = "", True
        line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.requestline = line
        words = line.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            self.send_error(400, f"Bad request line {line[:100]!r}")
            return False
        self.command, self.path, self.request_version = words
        fields = self.read_fields()
        if fields is None:
            return False
        self.server.head_read(self.connection)
        self.fields = fields
        connection = fields.get("connection", "").lower()
        old = self.request_version == "HTTP/1.0" and connection != "keep-alive"
        self.close_connection = old or connection == "close"
        self.continue_expected = fields.get("expect", "").lower() == "100-continue"
        return True

    def read_fields(self) -> dict[str, str] | None:
        fields: dict[str, str] = {}
        for _ in range(MAX_HEADERS):
            raw = self.rfile.readline(MAX_LINE + 1)
            if len(raw) > MAX_LINE:
                self.send_error(431, "A request header line is too long")
                return None
            if raw in (b"\r\n", b"\n", b""):
                return fields
            name, sep, value = raw.decode("iso-8859-1").partition(":")
            if not sep:
                self.send_error(400, f"Malformed request header {name.strip()[:100]!r}")
                return None
            fields[name.strip().lower()] = value.strip()
        self.send_error(431, f"More than {MAX_HEADERS} request headers")
        return None

    def do_GET(self) -> None:
        self.dispatch()

    # Every standard method reaches the router, so a route answers 405 (not the stdlib's
    # 501) to the ones it does not serve.
    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET
    do_TRACE = do_CONNECT = do_QUERY = do_GET

    def dispatch(self) -> None:
        self.body_read = False
        try:
            auth = self.server.auth
            if auth is not None and not auth.allows(self.fields.get("authorization")):
                raise Unauthorized("Unauthorized: this registry needs HTTP basic auth")
            path, _, query = self.path.partition("?")
            handler, params = self.server.router.match(self.command, path)
            request = Request(self.command, params, parse_query(query), self.read_body())
            result = handler(self.server.registry, request)
            body = result.body if isinstance(result, Raw) else json.dumps(result).encode()
            self.reply(200, body)
        except ApiError as exc:
            if not self.body_read and self.fields.get("content-length", "0") != "0":
                # Refused before its body was read (401, 404, 405): on a kept-alive
                # connection that body would be taken as the next request.
                self.close_connection = True
            self.reply_error(exc)
        except RecursionError:
            # Input nested deeper than any check expects (a schema through its references).
            self.reply_error(Unprocessable("The request nests too deeply to be processed"))
        except Exception:
            # A bug, not bad input: the client gets a 500, the log gets the traceback.
            log.exception("%s %s failed", self.command, self.path)
            self.reply(500, b'{"error_code":50001,"message":"Internal server error"}')

    def read_body(self) -> bytes:
        if self.fields.get("transfer-encoding"):
            self.close_connection = True
            raise LengthRequired("Chunked request bodies are not supported; send Content-Length")
        raw = self.fields.get("content-length") or "0"
        try:
            length = int(raw)
        except ValueError:
            self.close_connection = True
            raise LengthRequired(f"Content-Length {raw!r} is not a number") from None
        limit = self.server.limits.max_body
        if length > limit:
            self.close_connection = True  # the unread body would be taken as the next request
            raise PayloadTooLarge(f"The request body is {length} bytes; the limit is {limit} bytes")
        if length <= 0:
            return b""
        if self.continue_expected:  # only now: refusals above are sent without inviting it
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.body_read = True
        return self.rfile.read(length)

    def reply_error(self, error: ApiError) -> None:
        status, code = status_and_code(error)
        body = json.dumps({"error_code": code, "message": str(error)}).encode()
        extra = 'WWW-Authenticate: Basic realm="schema-registry"\r\n' if status == 401 else ""
        if isinstance(error, MethodNotAllowed):
            extra += f"Allow: {', '.join(error.allowed)}\r\n"
        self.reply(status, body, extra)

    def reply(self, status: int, body: bytes, extra_headers: str = "") -> None:
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            f"Date: {self.server.date()}\r\nContent-Type: {CONTENT_TYPE}\r\n"
            f"Content-Length: {len(body)}\r\n{extra_headers}"
        )
        if self.close_connection:
            head += "Connection: close\r\n"
        payload = head.encode("latin-1") + b"\r\n" + (b"" if self.command == "HEAD" else body)
        self.wfile.write(payload)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the stdlib finds before routing (bad request line, huge headers), as JSON."""
        self.close_connection = True
        text = message or HTTPStatus(code).phrase
        self.reply(code, json.dumps({"error_code": code, "message": text}).encode())

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


def make_server(
    host: str, port: int, router: Router, auth: BasicAuth | None, limits: Limits
) -> Server:
    """Bind (port 0 picks a free one); set `registry`, then `serve_forever` in a thread."""
    return Server((host, port), Handler, router, auth, limits)
