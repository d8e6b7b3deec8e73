"""Analytics' own figures: its closed windows (every partition's, merged) and its totals.

Read from the stats topic analytics writes (read_committed), not from the audit store:
windows are on event time and close when each partition's event time passes their end and
grace, so the latest minute shows up once analytics closed it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from pipeline.api.app import state
from pipeline.api.models import errors
from pipeline.api.windows import KEPT, SHOWN

router = APIRouter(prefix="/analytics", tags=["analytics"])


@router.get(
    "/windows",
    responses=errors(401, 422),
    summary="Analytics' closed windows, every partition's merged, oldest first: events by "
    "status and source, orders placed, delivered, cancelled, late events, fulfilment p50/p95 "
    "per source",
)
def windows(
    request: Request, limit: Annotated[int, Query(ge=1, le=KEPT)] = SHOWN
) -> dict[str, Any]:
    analytics = state(request).analytics
    summary = analytics.summary()
    return {
        "topic": summary["topic"],
        "window_ms": summary["window_ms"],
        "partitions": summary["partitions"],
        "windows": analytics.windows(limit),
    }


@router.get(
    "/totals",
    responses=errors(401),
    summary="Analytics' running totals: each partition's as of its last closed window, summed",
)
def totals(request: Request) -> dict[str, Any]:
    return state(request).analytics.summary()
