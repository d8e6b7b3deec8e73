"""A partition's local state file: the batch in hand, commits, expiry, restore (no server)."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.services.counts import Counts
from pipeline.services.state.store import Change, PartitionStore
from pipeline.services.state.table import Entry


def test_reads_see_the_batch_in_hand_and_only_a_commit_writes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p0.sqlite"
    store = PartitionStore.open(path)
    store.put("o:1", ["PLACED", 5, ["e1"]], expires_at=100)
    store.put("~clock", 5)
    assert store.get("o:1") == Entry(["PLACED", 5, ["e1"]], 100)
    store.commit(store.changes(), changelog_offset=3)
    store.delete("o:1")
    assert store.get("o:1") is None
    store.close()

    reopened = PartitionStore.open(path)
    assert reopened.get("o:1") == Entry(["PLACED", 5, ["e1"]], 100)  # the delete never committed
    assert reopened.get("~clock") == Entry(5, None)
    assert reopened.changelog_offset == 3
    reopened.close()


def test_discard_forgets_the_batch(tmp_path: Path) -> None:
    store = PartitionStore.open(tmp_path / "p.sqlite")
    store.put("a", 1)
    store.commit(store.changes(), 1)
    store.put("a", 2)
    store.put("b", 3)
    store.discard()
    assert store.get("a") == Entry(1, None)
    assert store.get("b") is None
    assert store.changes() == []


def test_changes_are_what_the_changelog_carries_tombstones_included(tmp_path: Path) -> None:
    store = PartitionStore.open(tmp_path / "p.sqlite")
    store.put("w:0", Counts(events=2))
    store.put("o:1", [1, None], expires_at=9)
    store.delete("o:2")
    changes = {c.key: c for c in store.changes()}
    assert json.loads(changes["w:0"].value or b"")["events"] == 2  # encoded at commit time
    assert changes["o:1"] == Change("o:1", b"[1,null]", 9)
    assert changes["o:2"] == Change("o:2", None, None)


def test_expired_keys_count_the_batch_in_hand(tmp_path: Path) -> None:
    store = PartitionStore.open(tmp_path / "p.sqlite")
    store.apply(
        [Change("a", b"1", 10), Change("b", b"1", 20), Change("c", b"1", None)], changelog_offset=3
    )
    assert store.expired(15) == ["a"]
    store.put("a", 1, expires_at=30)  # renewed in this batch
    store.put("d", 1, expires_at=12)
    store.delete("b")
    assert store.expired(25) == ["d"]


def test_restored_records_are_applied_as_they_come_and_wipe_forgets_all(tmp_path: Path) -> None:
    store = PartitionStore.open(tmp_path / "p.sqlite")
    store.apply([Change("a", b"1", None), Change("b", b'"x"', 7)], changelog_offset=2)
    store.apply([Change("a", None, None)], changelog_offset=3)  # a tombstone
    assert store.get("a") is None
    assert store.get("b") == Entry("x", 7)
    assert len(store) == 1
    store.set_meta(changelog_topic_id="abc")
    assert store.meta("changelog_topic_id") == "abc"
    store.wipe()
    assert len(store) == 0
    assert store.changelog_offset is None


def test_forget_all_deletes_every_entry_with_the_next_commit(tmp_path: Path) -> None:
    store = PartitionStore.open(tmp_path / "p.sqlite")
    store.apply([Change("a", b"1", None), Change("b", b"2", None)], changelog_offset=2)
    store.forget_all()
    assert store.get("a") is None
    assert sorted(c.key for c in store.changes() if c.value is None) == ["a", "b"]


def test_of_several_changes_to_a_key_in_one_apply_the_last_wins(tmp_path: Path) -> None:
    store = PartitionStore.open(tmp_path / "p.sqlite")
    store.apply([Change("a", b"1", None), Change("a", None, None)], changelog_offset=2)
    assert store.get("a") is None
    store.apply([Change("b", None, None), Change("b", b"2", None)], changelog_offset=4)
    assert store.get("b") == Entry(2, None)
