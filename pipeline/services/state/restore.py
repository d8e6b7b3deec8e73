"""Restoring partitions' state on assignment: the local file, caught up from the changelog.

A local file is trusted when it names the changelog topic it was written from (a topic
deleted and created again has a new id), its offset lies within the changelog (a file ahead
of the changelog reflects writes that are not there), and it is younger than the topic's
`delete.retention.ms` (older, it may have missed tombstones that compaction has since
removed). A trusted file is caught up from its offset; any other is wiped and rebuilt from
the changelog alone. Restoring reads only committed records, in batches, with progress.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pipeline.kafka.changelog import ChangelogReader, Record
from pipeline.services.state.store import Change, PartitionStore

log = logging.getLogger(__name__)
DEFAULT_DELETE_RETENTION_MS = 86_400_000


@dataclass
class Progress:
    """How far the restore of one partition is, in changelog offsets."""

    partition: int
    source: str  # "local file" (caught up from its offset) or "changelog"
    start: int
    end: int
    position: int = 0
    records: int = 0
    seconds: float = 0.0

    @property
    def done(self) -> bool:
        return self.position >= self.end

    def fraction(self) -> float:
        span = self.end - self.start
        return 1.0 if span <= 0 else min(1.0, (self.position - self.start) / span)


OnProgress = Callable[[Progress], None]


@dataclass(frozen=True)
class ChangelogState:
    """What the changelog says when a restore begins."""

    topic_id: str
    low: Mapping[int, int]
    end: Mapping[int, int]  # the committed end, once no transaction is open
    delete_retention_ms: int


def start_offset(
    store: PartitionStore, partition: int, changelog: ChangelogState
) -> tuple[int, str]:
    """Where to read the changelog from for this store, and why: "local file" when the
    file is trusted, "changelog" when it was missing or wiped because it is not."""
    offset = store.changelog_offset
    low, end = changelog.low[partition], changelog.end[partition]
    written_at = int(store.meta("written_at") or 0)
    age_ms = (time.time() - written_at) * 1000
    reason = (
        "no local state"
        if offset is None
        else "written from another changelog topic"
        if store.meta("changelog_topic_id") != changelog.topic_id
        else f"ahead of the changelog ({offset} > {end})"
        if offset > end
        else f"behind the changelog's start ({offset} < {low})"
        if offset < low
        else "older than the changelog's delete.retention.ms"
        if age_ms > changelog.delete_retention_ms
        else ""
    )
    if not reason:
        return int(offset or 0), "local file"
    if offset is not None:
        log.warning("%s not trusted (%s): rebuilt from the changelog", store.path, reason)
    store.wipe()
    store.set_meta(
        changelog_topic_id=changelog.topic_id, changelog_offset=low, written_at=int(time.time())
    )
    return low, "changelog"


def restore(
    reader: ChangelogReader,
    stores: Mapping[int, PartitionStore],
    changelog: ChangelogState,
    on_progress: OnProgress | None = None,
) -> dict[int, Progress]:
    """Bring every store up to the changelog's committed end; returns each one's progress."""
    progress: dict[int, Progress] = {}
    starts: dict[int, int] = {}
    for partition, store in stores.items():
        start, source = start_offset(store, partition, changelog)
        progress[partition] = Progress(partition, source, start, changelog.end[partition], start)
        starts[partition] = start
    began = time.monotonic()

    def apply(partition: int, records: list[Record], position: int) -> None:
        changes = [Change(r.key, r.value, r.expires_at) for r in records]
        stores[partition].apply(changes, position)
        step = progress[partition]
        step.position, step.records = position, step.records + len(records)
        step.seconds = time.monotonic() - began
        if on_progress is not None:
            on_progress(step)

    reader.read(starts, changelog.end, apply)
    for partition, step in progress.items():
        step.position = max(step.position, step.end)
        stores[partition].set_meta(changelog_offset=step.position, written_at=int(time.time()))
        step.seconds = time.monotonic() - began
        if on_progress is not None:
            on_progress(step)
    return progress
