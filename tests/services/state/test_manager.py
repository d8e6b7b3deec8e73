"""The state manager against the real broker: changelog, commits, restores."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.kafka.admin import Admin, TopicSpec
from pipeline.kafka.changelog import changelog_topic
from pipeline.model import PartitionRef
from pipeline.services.guarantees import BatchOutput, Guarantee, batch_output
from pipeline.services.state.manager import StateManager
from pipeline.services.state.restore import Progress
from pipeline.services.state.table import Entry
from tests.kafka.test_transactions import read_committed

GROUP = "stateful-test"


def refs(settings: Settings, *partitions: int) -> list[PartitionRef]:
    topic_id = Admin.from_settings(settings).topic_ids([settings.topic])[settings.topic]
    return [PartitionRef(settings.topic, p, topic_id) for p in partitions]


def started(settings: Settings, manager: StateManager, guarantee: Guarantee) -> BatchOutput:
    output = batch_output(settings, guarantee, f"{GROUP}.{manager.open(GROUP)}")
    output.start()
    return output


def commit(output: BatchOutput) -> None:
    """The transaction without consumed offsets (no consumer here), or the flush."""
    if output.exactly_once:
        output.producer.commit([], None)
    else:
        output.producer.flush()


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    Admin.from_settings(settings).ensure([TopicSpec(settings.topic, 2)])
    return settings.with_(partitions=2, state_dir=tmp_path / "state")


@pytest.mark.parametrize("guarantee", list(Guarantee))
def test_committed_state_is_restored_from_the_file_or_from_the_changelog_alone(
    settings: Settings, guarantee: Guarantee
) -> None:
    seen: list[Progress] = []
    manager = StateManager(settings, settings.state_dir, on_progress=seen.append)
    output = started(settings, manager, guarantee)
    both = refs(settings, 0, 1)
    assert manager.assigned(both) == {}  # nothing known yet
    assert Admin.from_settings(settings).config(manager.changelog)["cleanup.policy"] == "compact"
    output.begin()
    manager.table(0).put("a", {"n": 1})
    manager.table(1).put("b", [2], expires_at=99)
    manager.table(1).put("gone", 0)
    manager.stage(output, {both[0]: 10, both[1]: 20})
    commit(output)
    manager.committed()
    output.begin()
    manager.table(1).delete("gone")
    manager.table(0).put("a", {"n": 2})
    manager.stage(output, {both[1]: 21})
    commit(output)
    manager.committed()
    # The files know where the changelog is: past their last record (a transaction's commit
    # marker follows it, which restoring skips).
    ends = Admin.from_settings(settings).offsets(manager.changelog, [0, 1])
    marker = 1 if output.exactly_once else 0
    assert {p: manager.table(p).changelog_offset for p in (0, 1)} == {
        p: end - marker for p, end in ends.items()
    }
    identity = manager.folder.instance_id if manager.folder else ""
    manager.close()
    output.close()

    again = StateManager(settings, settings.state_dir)
    assert again.open(GROUP) == identity  # the same folder, the same instance
    assert again.assigned(both) == {both[0]: 10, both[1]: 21}
    assert {p.source for p in again.restores.values()} == {"local file"}
    assert again.table(0).get("a") == Entry({"n": 2}, None)
    assert again.table(1).get("b") == Entry([2], 99)
    assert again.table(1).get("gone") is None
    again.close()

    shutil.rmtree(settings.state_dir)
    rebuilt = StateManager(settings, settings.state_dir)
    rebuilt.open(GROUP)
    assert rebuilt.assigned(both) == {both[0]: 10, both[1]: 21}
    assert {p.source for p in rebuilt.restores.values()} == {"changelog"}
    assert rebuilt.table(0).get("a") == Entry({"n": 2}, None)
    assert rebuilt.table(1).get("b") == Entry([2], 99)
    assert rebuilt.table(1).get("gone") is None
    rebuilt.close()
    assert seen and all(p.done for p in seen[-2:])


def test_an_aborted_batch_leaves_neither_the_changelog_nor_the_file_changed(
    settings: Settings,
) -> None:
    manager = StateManager(settings, settings.state_dir)
    output = started(settings, manager, Guarantee.EXACTLY_ONCE)
    (first,) = refs(settings, 0)
    manager.assigned([first])
    output.begin()
    manager.table(0).put("kept", 1)
    manager.stage(output, {first: 5})
    commit(output)
    manager.committed()
    output.begin()
    manager.table(0).put("kept", 2)
    manager.table(0).put("dropped", 3)
    manager.stage(output, {first: 9})
    output.producer.flush()
    output.abort()
    manager.aborted()
    assert manager.table(0).get("kept") == Entry(1, None)
    assert manager.table(0).get("dropped") is None
    manager.close()
    output.close()
    values = read_committed(settings, changelog_topic(GROUP, settings.topic), partitions=2)
    assert values == [b"1", b'{"offset":5,"topic_id":"' + first.topic_id.encode() + b'"}']
    shutil.rmtree(settings.state_dir)
    rebuilt = StateManager(settings, settings.state_dir)
    rebuilt.open(GROUP)
    assert rebuilt.assigned([first]) == {first: 5}
    assert rebuilt.table(0).get("dropped") is None
    rebuilt.close()


def test_a_file_from_an_earlier_changelog_topic_is_not_trusted(settings: Settings) -> None:
    manager = StateManager(settings, settings.state_dir)
    output = started(settings, manager, Guarantee.AT_LEAST_ONCE)
    (first,) = refs(settings, 0)
    manager.assigned([first])
    output.begin()
    manager.table(0).put("old", 1)
    manager.stage(output, {first: 3})
    commit(output)
    manager.committed()
    manager.close()
    output.close()
    Admin.from_settings(settings).delete([changelog_topic(GROUP, settings.topic)])
    again = StateManager(settings, settings.state_dir)
    for _ in range(50):  # the deletion takes a moment to be visible everywhere
        try:
            again.open(GROUP)
            break
        except Exception:
            again = StateManager(settings, settings.state_dir)
    assert again.assigned([first]) == {}
    assert again.restores[0].source == "changelog"
    assert again.table(0).get("old") is None
    again.close()
