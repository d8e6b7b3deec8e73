"""The dashboard, the live stream, Prometheus metrics, health and readiness."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from pipeline.api.app import state
from pipeline.api.metrics import CONTENT_TYPE
from pipeline.api.models import errors

router = APIRouter(tags=["live"])


@router.get("/", include_in_schema=False)
def dashboard() -> FileResponse:
    return FileResponse(str(files("pipeline.api") / "static" / "index.html"))


@router.get(
    "/events/stream",
    responses={200: {"content": {"text/event-stream": {}}}, **errors(401)},
    summary="Server-Sent Events: `tick` (rates, lag, health, analytics' totals) each second, "
    "`window` as analytics closes one, `alert` and `dead-letter` as they arrive",
)
async def stream(request: Request) -> StreamingResponse:
    app = state(request)
    first = [app.hub.tick(app.sampler.latest)]  # the current picture at once
    return StreamingResponse(
        app.hub.stream(first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/live", responses=errors(401), summary="The latest tick, as the stream sends it")
def snapshot(request: Request) -> dict[str, Any]:
    app = state(request)
    tick = app.sampler.latest.to_dict()
    tick["analytics"] = app.analytics.summary()
    tick["alerts_by_kind"] = app.feeds.alerts.counts()
    tick["dead_letters_by_kind"] = app.feeds.dead_letters.counts()
    tick["subscribers"] = app.hub.subscribers
    return tick


@router.get(
    "/metrics",
    responses={200: {"content": {"text/plain": {}}}, **errors(401)},
    summary="Prometheus metrics",
)
def metrics(request: Request) -> Response:
    return Response(state(request).metrics.render(), media_type=CONTENT_TYPE)


@router.get("/health", summary="Liveness: the API process answers")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={503: {"description": "a part is down; the body says which and why"}},
    summary="Readiness: broker, registry and store, each with its address and state",
)
def ready(request: Request) -> JSONResponse:
    sample = state(request).sampler.latest
    parts = {name: part.to_dict() for name, part in sample.health.items()}
    ok = all(part.up for part in sample.health.values())
    down = [f"{name} ({part.reason})" for name, part in sample.health.items() if not part.up]
    body: dict[str, Any] = {"ready": ok, "parts": parts, "checked_at": sample.taken_at}
    if not ok:
        body["error"] = "not ready: " + "; ".join(down)
    return JSONResponse(
        body, status_code=200 if ok else 503, headers={} if ok else {"Retry-After": "5"}
    )
