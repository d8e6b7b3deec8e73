"""`bench store --e2e` on the session's broker and registry: every event through the real
runner into SQLite, produced by a child process, and nothing left behind."""

from __future__ import annotations

from pipeline.benchmark.stack import Target
from pipeline.benchmark.store_e2e import run_store_e2e
from pipeline.config import Settings
from tests.benchmark.conftest import OpenedClients
from tests.benchmark.helpers import subjects, topic_names, topics_gone


def test_the_storage_service_takes_every_event_and_the_run_cleans_up(
    settings: Settings, opened_clients: OpenedClients
) -> None:
    topics, known = topic_names(settings), subjects(settings)
    lines: list[str] = []
    result = run_store_e2e(
        Target(settings, own_broker=False, own_registry=False), 2_000, out=lines.append
    )
    assert result["consumed"] == 2_000 and result["events"] == 2_000
    assert result["events_per_s"] > 0 and result["rss_peak_mb"] > 0
    assert lines[0].startswith(f"end to end through the runner ({settings.bootstrap_servers})")
    assert lines[1].startswith("  producer (own process): ")
    assert "(2,000 delivered)" in lines[1]
    assert "2000 stored" in lines[2]
    assert topics_gone(settings, topic_names(settings) - topics)
    assert subjects(settings) == known
    assert opened_clients.left_open() == 0
