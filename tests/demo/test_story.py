"""The demo's story against the session's real broker and registry, on its own topics."""

from __future__ import annotations

from pipeline.config import Settings
from pipeline.demo.story import POISON, DemoOptions, run_story


def test_the_story_runs_end_to_end(settings: Settings) -> None:
    said: list[str] = []
    progress: list[tuple[str, int, int]] = []
    options = DemoOptions(events=400, rate=None, anomaly_rate=0.0)

    report = run_story(settings, options, said.append, lambda *p: progress.append(p))

    # 400 with v1, then 200 with v1 and 200 with v2 at once, then the bad messages.
    assert report.produced == 800 + len(POISON)
    assert report.analytics["total"] == 800
    assert sum(report.analytics["by_status"].values()) == 800
    assert report.storage.startswith("800 stored, 0 already stored (skipped), 0 refused")
    assert report.processor.startswith("800 events, 800 legal, 0 alerts")
    # v2 grew the table; the breaking schema was refused with the field named.
    assert sorted(set(report.columns_after) - set(report.columns_before)) == ["amount", "currency"]
    assert "TYPE_MISMATCH" in report.refused_reason and "user_id" in report.refused_reason
    # Each of the three services dead-letters each bad message once.
    assert report.dead_letters == 3 * len(POISON)
    assert report.timeline is not None
    rows = report.timeline.as_dicts()
    assert [row["status"] for row in rows] == ["PLACED", "CONFIRMED", "SHIPPED", "DELIVERED"]
    assert {row["schema_version"] for row in rows} == {2}
    assert all(row["amount"] is not None for row in rows)
    assert any("v2" in label for label, _, _ in progress)
    assert any(line.startswith("order_event.v2.avsc registered") for line in said)
