"""The HTTP side: uvicorn (httptools' parser) serving the registry's ASGI app, in a thread.

uvicorn does not bound how long a client may take over its request head, nor how many
connections stay open, and answers malformed requests in plain text. What the registry adds:
a deadline for each request head (from the accept, or from the first byte of a later
request on a kept-alive connection; trickling bytes does not extend it), a cap on a head's
size (431), Confluent's JSON error body on every refusal made outside the app, and a cap on
open connections enforced where they are accepted: one over the cap gets its 503 and is
closed right there, before the event loop spends anything on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pipeline.registry.asgi import CONTENT_TYPE, RegistryApp

log = logging.getLogger(__name__)
KEEPALIVE_S = 30  # an idle kept-alive connection is closed after this
MAX_HEAD_BYTES = 64 * 1024
# A well-formed request line, whatever its method (a token, RFC 9110).
REQUEST_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP/1\.[01]\r?\n")
STOP_TIMEOUT_S = 5


@dataclass(frozen=True)
class Limits:
    max_body: int
    header_timeout_s: float
    max_connections: int


def refusal(status: int, message: str) -> bytes:
    """A whole response with Confluent's error body, for refusals made outside the app."""
    body = json.dumps({"error_code": status, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        f"content-type: {CONTENT_TYPE.decode()}\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class GuardedProtocol(HttpToolsProtocol):
    """httptools' protocol with a head deadline, a connection cap and JSON refusals."""

    limits: Limits  # set on the subclass `protocol_for` makes
    gate: Gate

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.gate.arrived()
        self._head_bytes = self._head_size = 0
        self._in_head = True
        self._heads = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """uvicorn's, with the head's size counted and an unknown method answered 501."""
        self._unset_keepalive_if_required()
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
        self._in_head, self._head_size = True, 0
        if self._heads:  # a later request on a kept-alive connection: its own deadline
            self._arm()
        self._heads += 1

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        if self._head_size > MAX_HEAD_BYTES:  # a whole head that arrived at once
            self._refuse(431, f"The request head is larger than {MAX_HEAD_BYTES} bytes")
            return
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._in_head, self._head_bytes = True, 0  # what comes next is a new request's head

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, msg)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.limits.header_timeout_s, self._late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _late(self) -> None:
        self._deadline = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(408, "The request headers did not arrive in time")

    def _refuse(self, status: int, message: str) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(refusal(status, message))
            self.transport.close()


class Gate:
    """Accepts connections up to the cap (those open plus those accepted but not yet handed
    to a protocol); refuses the rest on the spot."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.connections: set[Any] = set()  # uvicorn's server state: open protocols
        self._handed_over = 0  # accepted, connection_made still to come

    def arrived(self) -> None:
        self._handed_over = max(0, self._handed_over - 1)

    def accept(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, factory: Callable[[], Any]
    ) -> None:
        """The listening socket is readable: take what is waiting, 64 at a time."""
        for _ in range(64):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:  # out of file descriptors, say: wait, then go on
                log.warning("accepting connections: %s; pausing for 1 s", exc)
                loop.remove_reader(sock.fileno())
                loop.call_later(
                    1.0, loop.add_reader, sock.fileno(), self.accept, loop, sock, factory
                )
                return
            conn.setblocking(False)
            cap = self.limits.max_connections
            if len(self.connections) + self._handed_over >= cap:
                with contextlib.suppress(OSError):  # best effort: it may be gone already
                    conn.send(refusal(503, f"More than {cap} open connections"))
                conn.close()
                continue
            self._handed_over += 1
            loop.create_task(loop.connect_accepted_socket(factory, conn))


class GatedServer(uvicorn.Server):
    """uvicorn's server, its listening sockets read by a `Gate` instead of asyncio's own."""

    def __init__(self, config: uvicorn.Config, gate: Gate) -> None:
        super().__init__(config)
        self.gate = gate
        gate.connections = self.server_state.connections

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        loop, config = asyncio.get_running_loop(), self.config

        def factory() -> Any:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state={}, _loop=loop
            )

        for sock in sockets or []:
            loop.remove_reader(sock.fileno())
            loop.add_reader(sock.fileno(), self.gate.accept, loop, sock, factory)


def protocol_for(limits: Limits, gate: Gate) -> type[GuardedProtocol]:
    return type("RegistryProtocol", (GuardedProtocol,), {"limits": limits, "gate": gate})


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (port 0 picks a free one), bound before anything else starts."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class HttpServer:
    """uvicorn on a bound socket, in a thread of its own; `stop()` closes every connection."""

    def __init__(self, sock: socket.socket, app: RegistryApp, limits: Limits) -> None:
        self.sock, self.app = sock, app
        host, port = sock.getsockname()[:2]
        self.address = (str(host), int(port))  # kept: the socket is closed by `stop()`
        gate = Gate(limits)
        config = uvicorn.Config(
            app,
            http=protocol_for(limits, gate),
            lifespan="off",
            log_config=None,  # the process's logging stays as the caller set it
            access_log=False,
            server_header=False,
            timeout_keep_alive=KEEPALIVE_S,
            timeout_graceful_shutdown=STOP_TIMEOUT_S,
            backlog=1024,
        )
        self._server = GatedServer(config, gate)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.sock]}, name="registry-http"
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=STOP_TIMEOUT_S + 2)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout=5)
            self._thread = None
        self.sock.close()
