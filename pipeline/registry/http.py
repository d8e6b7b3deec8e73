"""The HTTP side: uvicorn serving the registry's ASGI app from a thread, on a bound socket.

uvicorn does not cap open connections (`limit_concurrency` answers 503 only once a request
arrives, so idle connections pile up), so the listening socket is read by a `Gate` instead
of asyncio's own server: a connection over the cap gets its 503 and is closed where it is
accepted, before the event loop spends anything on it. The request-head deadline and the
idle keep-alive limit are enforced by one sweep over the open connections (see
`http_protocol`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

from pipeline.registry.asgi import RegistryApp
from pipeline.registry.http_protocol import GuardedProtocol, Limits, refusal

log = logging.getLogger(__name__)
SWEEP_S = 0.25
STOP_TIMEOUT_S = 5


class Gate:
    """Accepts connections up to the cap (those open plus those accepted but not yet handed
    to a protocol); refuses the rest on the spot."""

    def __init__(self, limits: Limits, connections: set[Any]) -> None:
        self.limits = limits
        self.connections = connections  # uvicorn's server state: the open protocols
        self._handed_over: set[socket.socket] = set()  # accepted, no protocol yet

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
                fd = sock.fileno()
                loop.remove_reader(fd)
                loop.call_later(1.0, loop.add_reader, fd, self.accept, loop, sock, factory)
                return
            conn.setblocking(False)
            # Nagle off: asyncio does it only for sockets that say they are TCP (see `bind`).
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            cap = self.limits.max_connections
            if len(self.connections) + len(self._handed_over) >= cap:
                with contextlib.suppress(OSError):  # best effort: it may be gone already
                    conn.send(refusal(503, f"More than {cap} open connections"))
                conn.close()
                continue
            self._handed_over.add(conn)
            task = loop.create_task(loop.connect_accepted_socket(factory, conn))
            task.add_done_callback(functools.partial(self._handed, conn))

    def _handed(self, conn: socket.socket, _: object) -> None:
        self._handed_over.discard(conn)


class GatedServer(uvicorn.Server):
    """uvicorn's server, its listening sockets read by a `Gate` instead of asyncio's own,
    and its connections swept for late heads and idle keep-alive."""

    def __init__(self, config: uvicorn.Config, limits: Limits) -> None:
        super().__init__(config)
        self.gate = Gate(limits, self.server_state.connections)
        self._listening: list[socket.socket] = []
        self._sweeper: asyncio.TimerHandle | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()  # off: nothing to do, but what uvicorn expects first
        loop, config = asyncio.get_running_loop(), self.config

        def factory() -> Any:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state={}, _loop=loop
            )

        self._listening = list(sockets or [])
        for sock in self._listening:
            loop.add_reader(sock.fileno(), self.gate.accept, loop, sock, factory)
        self._sweeper = loop.call_later(SWEEP_S, self._sweep, loop)
        self.servers = []
        self.started = True

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for connection in list(self.server_state.connections):
            if isinstance(connection, GuardedProtocol):
                connection.sweep(now)
        self._sweeper = loop.call_later(SWEEP_S, self._sweep, loop)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for sock in self._listening:
            loop.remove_reader(sock.fileno())
        await super().shutdown(sockets)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (port 0 picks a free one), bound before anything else starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio turns Nagle off only on sockets that say they are TCP, and
    # with Nagle on, a response written as head then body waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
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
        protocol = type("RegistryProtocol", (GuardedProtocol,), {"limits": limits})
        config = uvicorn.Config(
            app,
            http=protocol,
            # uvloop (libuv): a quarter more lookups per second on one connection than
            # asyncio's loop here; where it is not installed (Windows), asyncio's.
            loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            lifespan="off",
            log_config=None,  # the process's logging stays as the caller set it
            access_log=False,
            proxy_headers=False,  # no proxy in front; and a middleware less per request
            server_header=False,
            timeout_keep_alive=int(limits.keepalive_s),
            timeout_graceful_shutdown=STOP_TIMEOUT_S,
        )
        self._server = GatedServer(config, limits)
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
