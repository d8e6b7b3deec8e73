"""Schema ids are never reused, even once compaction has removed every record of the highest.

A permanently deleted version leaves a tombstone; compaction then drops the older records
of its key, and a registry replaying the topic would never see that id. The registry keeps
the highest id handed out under a key of its own that nothing deletes, so the next schema
after a restart gets a new id: old messages never decode with another schema.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from pipeline.kafka.admin import Admin, TopicSpec
from tests.registry.helpers import call, field, own_server, record, register
from tests.registry.test_storage import read_topic

pytestmark = pytest.mark.faults
# Compaction within seconds instead of days: small segments, any dirt is worth cleaning,
# tombstones dropped at once. The broker's cleaner looks every 15 s.
EAGER_COMPACTION = {
    "cleanup.policy": "compact",
    "segment.ms": "100",
    "min.cleanable.dirty.ratio": "0.001",
    "min.compaction.lag.ms": "0",
    "delete.retention.ms": "0",
}


def compacted_away(bootstrap: str, topic: str, schema_id: int) -> bool:
    """True once no record of the topic carries `schema_id` any more."""
    return all(
        not (isinstance(value, dict) and value.get("id") == schema_id)
        for _, value in read_topic(bootstrap, topic)
    )


def test_the_highest_id_is_not_reused_after_a_hard_delete_compaction_and_restart(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    topic = unique("_schemas-compact")
    Admin({"bootstrap.servers": kafka_bootstrap}).ensure([TopicSpec(topic, 1, EAGER_COMPACTION)])
    kept = record("KeptOrder", field("id", "string"))
    dropped = record("DroppedOrder", field("id", "string"))
    with own_server(kafka_bootstrap, topic) as server:
        url = server.url
        assert register(url, "kept-value", kept) == {"id": 1, "version": 1}
        assert register(url, "dropped-value", dropped) == {"id": 2, "version": 1}
        assert call(url, "DELETE", "/subjects/dropped-value")[0] == 200
        assert call(url, "DELETE", "/subjects/dropped-value?permanent=true") == (200, [1])
        time.sleep(0.5)  # past segment.ms: the next record rolls the segment, so it can be cleaned
        assert call(url, "PUT", "/config/kept-value", {"compatibility": "FULL"})[0] == 200

    deadline = time.monotonic() + 120
    while not compacted_away(kafka_bootstrap, topic, 2) and time.monotonic() < deadline:
        time.sleep(2)
    records = read_topic(kafka_bootstrap, topic)
    assert compacted_away(kafka_bootstrap, topic, 2), json.dumps(records, default=str)[:2000]

    with own_server(kafka_bootstrap, topic) as server:
        new = record("NewOrder", field("id", "string"))
        assert register(server.url, "new-value", new) == {"id": 3, "version": 1}
        assert call(server.url, "GET", "/schemas/ids/2")[0] == 404
