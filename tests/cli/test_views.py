"""The terminal views of `consume` and `stats` (pure: no server)."""

from __future__ import annotations

from pipeline.cli.views import render
from pipeline.services.stats import merge
from pipeline.services.windows import Observation, Windowing, replay


def test_render_draws_windows_beside_the_totals_one_row_per_measure() -> None:
    events = [
        Observation("o1", "PLACED", "MOBILE", 1_000),
        Observation("o1", "DELIVERED", "MOBILE", 5_000),
        Observation("o2", "PLACED", "WEB", 61_000),
        Observation("o3", "PLACED", "WEB", 200_000),
    ]
    closed, _ = replay(0, events, Windowing(size_ms=60_000, grace_ms=0))
    table = render(merge(closed), events_per_s=1.5)
    assert len(table.columns) == 1 + 2 + 1  # measure, two windows, totals
    # events; 2 statuses; 2 sources; placed, delivered, cancelled, late; p50 and p95 of
    # 2 sources; the rate
    assert table.row_count == 1 + 2 + 2 + 4 + 4 + 1
