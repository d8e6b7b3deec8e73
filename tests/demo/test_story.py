"""The demo's story against the session's real broker and registry, on its own topics."""

from __future__ import annotations

from pipeline.config import Settings
from pipeline.demo.story import POISON, DemoOptions, run_story


def test_the_story_runs_end_to_end(settings: Settings) -> None:
    said: list[str] = []
    progress: list[tuple[str, int, int]] = []
    options = DemoOptions(events=400, rate=None, anomaly_rate=0.01)

    report = run_story(settings, options, said.append, lambda *p: progress.append(p))

    # 400 with v1, then 200 with v1 and 200 with v2 at once, then the bad messages.
    assert report.produced == 800 + len(POISON)
    assert report.analytics["totals"]["events"] == 800
    assert sum(report.analytics["totals"]["by_status"].values()) == 800
    stored, skipped = (int(part.split()[0]) for part in report.storage.split(", ")[:2])
    assert stored + skipped == 800 and "0 refused" in report.storage  # skipped: duplicates
    # Killed after the first 400, the processor came back with its state: the 400 after it
    # were judged against it (its counts are since the restart), and no alert is doubled.
    assert report.processor.startswith("400 events, ")
    assert {r["source"] for r in report.processor_restores.values()} == {"local file"}
    assert report.alert_ids_distinct and sum(report.alerts.values()) > 0
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
