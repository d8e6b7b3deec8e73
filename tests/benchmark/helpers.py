"""What the benchmark tests look at on the session's cluster and registry."""

from __future__ import annotations

import time

from pipeline import registry_client
from pipeline.config import Settings
from pipeline.kafka.admin import Admin


def topic_names(settings: Settings) -> set[str]:
    return set(Admin.from_settings(settings).names())


def subjects(settings: Settings) -> set[str]:
    with registry_client.connected(settings) as client:
        return set(registry_client.call(client.get_subjects, "listing subjects"))


def topics_gone(settings: Settings, names: set[str], timeout_s: float = 20.0) -> bool:
    """Whether `names` leave the cluster's metadata within `timeout_s` (it lags deletes)."""
    deadline = time.monotonic() + timeout_s
    while names & topic_names(settings):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True
