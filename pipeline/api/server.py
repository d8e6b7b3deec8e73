"""Serving the API with uvicorn: in the foreground (`api serve`), or in a thread (tests,
benchmarks) on a free port.

uvicorn runs the application's lifespan (its state starts there) and stops it on Ctrl-C or
SIGTERM after the open requests finish. HTTP/1.1 is uvicorn's h11 protocol with a deadline
on request headers (see `limits`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import uvicorn

from pipeline.api.app import create_app
from pipeline.api.limits import header_deadline_protocol
from pipeline.api.settings import ApiSettings
from pipeline.config import Settings
from pipeline.devstack.processes import ensure_port_free
from pipeline.errors import ConfigError

KEEP_ALIVE_S = 5
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ServeSummary:
    seconds: float


class _Server(uvicorn.Server):
    """uvicorn's server, stopped by Ctrl-C or SIGTERM without dying of it.

    After its graceful shutdown uvicorn raises the signal that stopped it again, so the
    process would end by SIGTERM (or a KeyboardInterrupt) before `api serve` says anything;
    forgetting the signals it caught lets `serve` return and the CLI print its summary.
    """

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                getattr(self, "_captured_signals", []).clear()


def server_for(settings: Settings, api: ApiSettings) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings, api),
        host=api.host,
        port=api.port,
        http=header_deadline_protocol(api.header_timeout_s),
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=5,
    )
    return _Server(config)


def serve(
    settings: Settings, api: ApiSettings, on_started: Callable[[str], None] | None = None
) -> ServeSummary:
    """Serve until Ctrl-C or SIGTERM; a taken port or an open non-loopback address is said
    in one line before anything starts."""
    api.check()
    if api.port:
        ensure_port_free(api.host, api.port, "the API")
    server = server_for(settings, api)
    began = time.monotonic()
    if on_started is not None:
        _announce_when_started(server, api, on_started)
    server.run()
    if not server.started:
        raise ConfigError(f"the API could not start on {api.url}: see the lines above")
    return ServeSummary(time.monotonic() - began)


def _announce_when_started(
    server: uvicorn.Server, api: ApiSettings, on_started: Callable[[str], None]
) -> None:
    def watch() -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started and not server.should_exit and time.monotonic() < deadline:
            time.sleep(0.05)
        if server.started:
            on_started(api.url)

    threading.Thread(target=watch, name="api-started", daemon=True).start()


@contextmanager
def running_api(settings: Settings, api: ApiSettings | None = None) -> Iterator[str]:
    """Serve in a thread (port 0: a free one) until the block ends; yields the base URL."""
    api = api or ApiSettings(port=0)
    api.check()
    server = server_for(settings, api)
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not server.started:
            raise ConfigError("the API did not start (see its log lines)")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield replace(api, port=port).url
    finally:
        server.should_exit = True
        thread.join(timeout=30)
