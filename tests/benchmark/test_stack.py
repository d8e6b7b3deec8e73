"""A benchmark's lanes on the session's cluster: their own names, and nothing left after."""

from __future__ import annotations

from pipeline.benchmark.stack import Target, workspace
from pipeline.config import Settings
from pipeline.registry_client import value_subject
from tests.benchmark.helpers import subjects, topic_names, topics_gone


def test_a_lane_has_its_own_topics_and_subject_and_leaves_nothing_behind(
    settings: Settings,
) -> None:
    with workspace(Target(settings, own_broker=False, own_registry=False)) as ws:
        one, other = ws.lane("probe"), ws.lane("probe")
        made = {one.settings.topic, one.settings.dlq_topic, other.settings.topic}
        assert one.settings.topic != other.settings.topic and one.group != other.group
        assert made <= topic_names(settings)
        assert value_subject(one.settings.topic) in subjects(settings)
        assert one.schema_id > 0
        assert one.settings.db_path.parent == ws.folder
    assert topics_gone(settings, made)
    assert value_subject(one.settings.topic) not in subjects(settings)
