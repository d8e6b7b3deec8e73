"""The registry server: Confluent's REST API over state kept in a Kafka `_schemas` topic.

`start()` binds its port, ensures and replays the topic, takes over writing it, then serves
HTTP in a thread; `url` is where; `stop()` (in a `finally`) closes the socket and the Kafka
clients. A failure it cannot recover from stops it: `serve_forever` then raises, so the
process exits non-zero instead of serving a frozen state.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType

from pipeline.errors import RegistryError
from pipeline.registry.asgi import RegistryApp
from pipeline.registry.auth import BasicAuth
from pipeline.registry.http import HttpServer, Limits, bind
from pipeline.registry.operations import Registry
from pipeline.registry.router import Router
from pipeline.registry.routes import ROUTES
from pipeline.registry.schemas_topic import SchemasTopic
from pipeline.registry.state import State
from pipeline.signals import stop_on_signals

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class RegistryConfig:
    bootstrap_servers: str
    host: str = "127.0.0.1"
    port: int = 8081  # 0 picks a free port
    topic: str = "_schemas"
    # Extra librdkafka properties (SASL/SSL), passed through untouched.
    client_properties: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # user -> password; None serves without auth.
    basic_auth: Mapping[str, str] | None = None
    startup_timeout_s: float = 30.0
    max_body_bytes: int = 4 * 1024 * 1024
    # Request headers must arrive within this, counted from the connection (or, on a kept
    # alive one, from the request's first byte): trickling bytes does not extend it.
    header_timeout_s: float = 10.0
    # Open connections beyond this are answered 503 and closed at once.
    max_connections: int = 1000


class RegistryServer:
    def __init__(self, config: RegistryConfig) -> None:
        self.config = config
        self._state = State()
        self._topic: SchemasTopic | None = None
        self._http: HttpServer | None = None
        # Requests that may block (writes wait for Kafka) or take a while (Avro parsing).
        self._workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="registry-request")
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._fatal: str | None = None
        self._run_id = uuid.uuid4().hex[:6]  # tells apart two runs on one address

    def start(self) -> None:
        """Bind, ensure and replay the topic, take over writing, serve in a thread."""
        config = self.config
        try:
            auth = BasicAuth(config.basic_auth) if config.basic_auth is not None else None
            limits = Limits(config.max_body_bytes, config.header_timeout_s, config.max_connections)
            try:  # first: a taken port is said before anything else is done
                sock = bind(config.host, config.port)
            except OSError as exc:
                raise RegistryError(f"cannot listen on {config.host}:{config.port}: {exc}") from exc
            app = RegistryApp(Router(ROUTES), auth, config.max_body_bytes, self._workers)
            self._http = HttpServer(sock, app, limits)
            self._topic = SchemasTopic(
                bootstrap_servers=config.bootstrap_servers,
                topic=config.topic,
                client_properties=config.client_properties,
                timeout_s=config.startup_timeout_s,
                instance=self.instance,
                state=self._state,
                on_fatal=self._fail,
            )
            self._topic.open()
            app.registry = Registry(self._state, self._topic)
            self._http.start()
        except BaseException:
            self.stop()
            raise
        log.info("schema registry serving %s (topic %s)", self.url, config.topic)

    @property
    def instance(self) -> str:
        """Who this is, as the topic records its writer and readiness reports it."""
        if self._http is None:
            raise RegistryError("the registry server is not started")
        return f"{self.url} (pid {os.getpid()} on {socket.gethostname()}, run {self._run_id})"

    def _fail(self, reason: str) -> None:
        """Something it cannot recover from: stop serving (serve_forever then raises)."""
        log.error("schema registry stopping: %s", reason)
        self._fatal = reason
        self._stopped.set()
        threading.Thread(target=self.stop, name="registry-stop", daemon=True).start()

    def counts(self) -> tuple[int, int]:
        """(subjects with a live version, schema ids) right now."""
        with self._state.lock:
            live = sum(1 for name in self._state.subjects if self._state.versions(name))
            return live, len(self._state.schemas)

    @property
    def url(self) -> str:
        if self._http is None:
            raise RegistryError("the registry server is not started")
        host, port = self._http.address
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving and close the Kafka clients; safe to call more than once."""
        self._stopped.set()
        with self._stop_lock:  # serve_forever's own stop may race a caller's
            if self._http is not None:
                self._http.stop()
            if self._topic is not None:
                self._topic.close()
                self._topic = None
            self._workers.shutdown(wait=False, cancel_futures=True)

    def serve_forever(self, on_started: Callable[[str], None] | None = None) -> None:
        """Start, then block until `stop()` is called or SIGINT/SIGTERM arrives."""
        with stop_on_signals(self._stopped):
            try:
                self.start()
                if on_started is not None:
                    on_started(self.url)
                while not self._stopped.wait(0.5):
                    pass
            finally:
                self.stop()
        if self._fatal is not None:
            raise RegistryError(self._fatal)
