"""Which local state files are trusted, and from where the changelog is read (no server)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipeline.services.state.restore import ChangelogState, Progress, start_offset
from pipeline.services.state.store import Change, PartitionStore

DAY_MS = 86_400_000


def changelog(low: int = 0, end: int = 100, topic_id: str = "T1") -> ChangelogState:
    return ChangelogState(topic_id, {0: low}, {0: end}, DAY_MS)


@pytest.fixture
def store(tmp_path: Path) -> PartitionStore:
    made = PartitionStore.open(tmp_path / "p0.sqlite")
    made.apply([Change("a", b"1", None)], changelog_offset=40)
    made.set_meta(changelog_topic_id="T1")
    return made


def test_a_trusted_file_is_caught_up_from_its_offset(store: PartitionStore) -> None:
    assert start_offset(store, 0, changelog()) == (40, "local file")
    assert len(store) == 1


@pytest.mark.parametrize(
    "state, why",
    [
        (changelog(topic_id="T2"), "the changelog topic was made again"),
        (changelog(end=30), "the file is ahead of the changelog"),
        (changelog(low=50), "the changelog starts after the file"),
    ],
)
def test_an_untrusted_file_is_wiped_and_rebuilt_from_the_changelog(
    store: PartitionStore, state: ChangelogState, why: str
) -> None:
    assert start_offset(store, 0, state) == (state.low[0], "changelog"), why
    assert len(store) == 0
    assert store.meta("changelog_topic_id") == state.topic_id


def test_a_file_older_than_the_tombstones_retention_is_not_trusted(store: PartitionStore) -> None:
    store.set_meta(written_at=int(time.time()) - 2 * DAY_MS // 1000)
    assert start_offset(store, 0, changelog()) == (0, "changelog")


def test_no_file_reads_the_changelog_from_its_start(tmp_path: Path) -> None:
    empty = PartitionStore.open(tmp_path / "new.sqlite")
    assert start_offset(empty, 0, changelog(low=5)) == (5, "changelog")


def test_progress_is_a_fraction_of_the_changelog_span() -> None:
    step = Progress(0, "changelog", start=100, end=300, position=150)
    assert step.fraction() == 0.25 and not step.done
    step.position = 300
    assert step.done and step.fraction() == 1.0
    assert Progress(1, "local file", 5, 5, 5).fraction() == 1.0
