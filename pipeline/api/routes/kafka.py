"""Kafka as the pipeline sees it: recent alerts and dead letters, consumer groups and lag."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from pipeline.api.app import AppState, state
from pipeline.api.errors import unavailable
from pipeline.api.feeds import Feed
from pipeline.api.models import errors
from pipeline.kafka.admin import Admin
from pipeline.kafka.groups import CommittedOffsets, end_offsets, list_groups, topic_partitions

router = APIRouter(tags=["kafka"])
Limit = Annotated[int, Query(ge=1, le=200)]


@router.get(
    "/alerts",
    responses=errors(401, 422),
    summary="Recent alerts of the order processor, decoded, newest first (read_committed)",
)
def alerts(request: Request, limit: Limit = 50, kind: str | None = None) -> dict[str, Any]:
    feed = state(request).feeds.alerts
    return {"alerts": newest_of_kind(feed, limit, kind), "by_kind": feed.counts()}


@router.get(
    "/dead-letters",
    responses=errors(401, 422),
    summary="Recent dead letters: kind, reason, service, where from, a payload preview",
)
def dead_letters(request: Request, limit: Limit = 50, kind: str | None = None) -> dict[str, Any]:
    feed = state(request).feeds.dead_letters
    return {"dead_letters": newest_of_kind(feed, limit, kind), "by_kind": feed.counts()}


def newest_of_kind(feed: Feed, limit: int, kind: str | None) -> list[dict[str, Any]]:
    """Up to `limit` of the feed's items, newest first, of one kind or of every kind."""
    items = feed.newest(feed.items.maxlen or 0)
    return [item for item in items if kind is None or item["kind"] == kind][:limit]


@router.get(
    "/groups",
    responses=errors(401, 503),
    summary="Consumer groups, with the lag of the pipeline's services",
)
def groups(request: Request) -> dict[str, Any]:
    app = state(request)
    _broker_answers(app)
    listed = list_groups(_admin(app))
    lags = app.sampler.latest.groups
    return {
        "groups": [
            {
                "group": g.group,
                "state": g.state,
                "lag": lags[g.group].lag if g.group in lags else None,
            }
            for g in listed
        ]
    }


@router.get(
    "/groups/{group}",
    responses=errors(401, 422, 503),
    summary="One group's committed offsets, end offsets and lag per partition of the "
    "pipeline's topics",
)
def group(
    request: Request, group: Annotated[str, Path(min_length=1, max_length=255)]
) -> dict[str, Any]:
    app = state(request)
    _broker_answers(app)
    admin = _admin(app)
    partitions = topic_partitions(admin, app.sampler.topics)
    offsets = CommittedOffsets(app.settings.kafka_config(), timeout_s=admin.timeout_s)
    try:
        committed = offsets.of(group, partitions)
    finally:
        offsets.close()
    ends = end_offsets(admin, committed)
    lags = {tp: max(0, ends.get(tp, offset) - offset) for tp, offset in committed.items()}
    rows = [
        {
            "topic": topic,
            "partition": partition,
            "committed": offset,
            "end": ends.get((topic, partition)),
            "lag": lags[(topic, partition)],
        }
        for (topic, partition), offset in sorted(committed.items())
    ]
    return {"group": group, "lag": sum(lags.values()), "partitions": rows}


@router.get("/topics", responses=errors(401), summary="The pipeline's topics: records, events/s")
def topics(request: Request) -> dict[str, Any]:
    sample = state(request).sampler.latest.to_dict()
    return {"topics": sample["topics"], "t": sample["t"]}


def _admin(app: AppState) -> Admin:
    return app.sampler.admin


def _broker_answers(app: AppState) -> None:
    broker = app.sampler.latest.health["broker"]
    if not broker.up and broker.checked_at:
        raise unavailable(f"Kafka is down: {broker.reason}")
