"""The FastAPI application: its state is built in the lifespan, never at import.

`create_app(settings, api)` returns an application whose lifespan starts the order writer
(one idempotent producer), the sampler (health, rates, lag), the feeds (alerts, dead
letters), the reader of analytics' windows and the metrics registry, and stops them in
reverse order on shutdown. Handlers
reach them through `state(request)`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from pipeline.api import errors
from pipeline.api.analytics_reader import AnalyticsReader
from pipeline.api.auth import Authentication
from pipeline.api.feeds import Feeds
from pipeline.api.limits import BodyLimit
from pipeline.api.live import Hub
from pipeline.api.metrics import Metrics
from pipeline.api.sample import Sample
from pipeline.api.sampler import Sampler
from pipeline.api.settings import ApiSettings
from pipeline.api.windows import AnalyticsWindows
from pipeline.config import Settings
from pipeline.orders import OrderWriter

DESCRIPTION = """Place and move orders through the governed producer, read the audit store,
analytics' windows and totals, the alerts, the dead letters, the schemas and the consumer
groups, and watch it all live
(`/events/stream`, the dashboard at `/`). Errors are JSON: `{"error": "..."}`."""


@dataclass
class AppState:
    settings: Settings
    api: ApiSettings
    writer: OrderWriter
    sampler: Sampler
    feeds: Feeds
    hub: Hub
    analytics: AnalyticsWindows
    analytics_reader: AnalyticsReader
    metrics: Metrics
    # Two moves of one order are judged one after the other.
    order_locks: KeyedLocks = field(default_factory=lambda: KeyedLocks())
    replies: dict[str, tuple[str, dict[str, object]]] = field(default_factory=dict)


class KeyedLocks:
    """An asyncio lock per key, kept while anyone holds or waits for it (event loop only)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


def state(request: Request) -> AppState:
    found: AppState = request.app.state.pipeline
    return found


def create_app(settings: Settings, api: ApiSettings | None = None) -> FastAPI:
    api = api or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = await asyncio.to_thread(_start, settings, api, asyncio.get_running_loop())
        app.state.pipeline = built
        try:
            yield
        finally:
            await asyncio.to_thread(_stop, built)

    app = FastAPI(
        title="order-pipeline API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    errors.install(app)
    _routes(app)
    app.mount("/static", StaticFiles(directory=str(files("pipeline.api") / "static")), "static")
    app.add_middleware(BodyLimit, max_bytes=api.max_body_bytes, timeout_s=api.body_timeout_s)
    if api.auth_enabled:
        app.add_middleware(Authentication, token=api.token, users=api.users or {})
    return app


def _routes(app: FastAPI) -> None:
    from pipeline.api.routes import analytics, kafka, live, orders, schemas, store

    for module in (orders, store, analytics, kafka, schemas, live):
        app.include_router(module.router)


def _start(settings: Settings, api: ApiSettings, loop: asyncio.AbstractEventLoop) -> AppState:
    writer = OrderWriter(settings)
    feeds = Feeds(settings, api.feed_size)
    analytics = AnalyticsWindows(settings.stats_topic)
    reader = AnalyticsReader(settings, analytics)
    hub = Hub(feeds, analytics)

    def publish(sample: Sample) -> None:
        loop.call_soon_threadsafe(hub.publish, sample)

    sampler = Sampler(settings, api, publish)
    built = AppState(settings, api, writer, sampler, feeds, hub, analytics, reader, Metrics())
    built.metrics.bind(built)
    writer.start()
    feeds.start()
    reader.start()
    sampler.start()
    return built


def _stop(built: AppState) -> None:
    built.sampler.stop()
    built.analytics_reader.stop()
    built.feeds.stop()
    built.writer.close()
