"""Topic administration against the session's real broker."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipeline.config import Settings
from pipeline.kafka.admin import Admin, TopicError, TopicSpec, delete_topics, ensure_topics
from pipeline.kafka.clients import silent_logger


def test_ensure_creates_only_what_is_missing_with_its_config(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    compacted = unique("compacted")
    admin = Admin.from_settings(settings)
    assert admin.ensure([TopicSpec(compacted, 1, {"cleanup.policy": "compact"})]) == [compacted]
    assert admin.ensure([TopicSpec(compacted, 1)]) == []
    assert admin.partitions(compacted) == 1
    assert admin.config(compacted)["cleanup.policy"] == "compact"
    assert compacted in admin.names()


def test_ensure_topics_and_delete_topics(settings: Settings) -> None:
    assert ensure_topics(settings, {settings.topic: 3}) == [settings.topic]
    assert Admin.from_settings(settings).partitions(settings.topic) == 3
    delete_topics(settings, [settings.topic, settings.topic + "-never-created"])
    assert Admin.from_settings(settings).partitions(settings.topic) is None


def test_a_topic_created_again_under_its_name_has_a_new_id(settings: Settings) -> None:
    admin = Admin.from_settings(settings)
    admin.ensure([TopicSpec(settings.topic, 1)])
    first = admin.topic_ids([settings.topic])[settings.topic]
    admin.delete([settings.topic])
    admin.ensure([TopicSpec(settings.topic, 1)])
    second = admin.topic_ids([settings.topic])[settings.topic]
    assert len(first) == len(second) == 22  # Kafka's base64 form of a UUID
    assert first != second


def test_an_unreachable_broker_is_one_line_naming_its_address() -> None:
    config = {"bootstrap.servers": "127.0.0.1:1", "logger": silent_logger()}
    with pytest.raises(TopicError, match=r"cannot reach Kafka at 127\.0\.0\.1:1 within 1s"):
        Admin(config, timeout_s=1).names()
